"""Ownership an auditor would sign: what a preset gives you is yours to do, a role two organisations
play has a party for each, a control applies only where its condition holds, and every finding
names who must act."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demarcate.analysis.check import analyse
from demarcate.analysis.responsibility import Responsibilities
from demarcate.builtin import example
from demarcate.catalog import load_catalog
from demarcate.model import load
from demarcate.model.scaffold import starter
from demarcate.model.yamlio import dump_yaml
from tests.conftest import BASE


def _starter(tmp_path, preset: str):
    path = tmp_path / f"{preset}.yaml"
    path.write_text(dump_yaml(starter(load_catalog().presets[preset])))
    return path


def test_a_control_the_preset_gives_you_is_not_verify_by_contract(tmp_path, cli):
    for preset, control in (("enterprise-saas", "INF-IAM-03"), ("self-hosted-open-weights", "MOD-MON-01"),
                            ("self-hosted-open-weights", "MOD-API-01"), ("self-hosted-open-weights", "MOD-DOC-03"),
                            ("fine-tuned", "MOD-EVAL-01")):
        path = _starter(tmp_path, preset)
        assert not Responsibilities(load([path]))[control].verify_only, (preset, control)
        assert "verify it by contract" not in cli("who", path, control).output, (preset, control)
    # A layer a vendor operates, with no override, is still the vendor's: verify it.
    saas = _starter(tmp_path, "enterprise-saas")
    assert "verify it by contract" in cli("who", saas, "MOD-SAFE-01").output


def test_the_self_hosted_starter_gives_you_the_running_model(tmp_path, cli):
    path = _starter(tmp_path, "self-hosted-open-weights")
    system = load([path])
    assert system.components["model"].operated_by == "infrastructure-operator"
    for control in ("MOD-MON-01", "MOD-API-01", "INF-SRV-04"):
        assert "owns none of the components" not in cli("who", path, control).output, control


def test_the_cloud_platform_starter_has_the_cloud_as_a_party(tmp_path):
    path = _starter(tmp_path, "cloud-ai-platform")
    system = load([path])
    cloud = system.parties["cloud-provider"]
    assert cloud.role == "infrastructure-operator" and cloud.organisation == "the cloud provider"
    resp = Responsibilities(system)
    serving = [p.id for p in resp["INF-SRV-04"].default_parties]
    assert "cloud-provider" in serving and "infrastructure-operator" in serving  # it runs them, you configure
    assert [p.id for p in resp["INF-NET-03"].default_parties] == ["infrastructure-operator"]  # your app hosting


def test_re_testing_after_fine_tuning_applies_only_to_a_tuned_model(tmp_path):
    assert "SHR-FT-01" not in Responsibilities(load([example("shopbot")])).by_control
    tuned = Responsibilities(load([_starter(tmp_path, "fine-tuned")]))
    assert tuned["SHR-FT-01"].protected == ("model",) and "SHR-FT-01" in tuned.by_control


def test_every_finding_names_who_must_act(tmp_path, cli):
    for manifest in (example("shopbot"), _starter(tmp_path, "consumer-saas"), _starter(tmp_path, "agent-platform")):
        data = json.loads(cli("check", manifest, "--format", "json").stdout)
        assert [f["id"] for f in data["findings"] if not f["responsible"]] == [], manifest
    path = tmp_path / "no-deployer.yaml"
    doc = starter(load_catalog().presets["managed-model-api"])
    doc["parties"] = [p for p in doc["parties"] if p["role"] != "deployer"]
    path.write_text(dump_yaml(doc))
    data = json.loads(cli("check", path, "--format", "json").stdout)
    nobody = next(f for f in data["findings"] if f["id"] == "unowned-control:nobody")
    assert nobody["responsible"] == ["application-developer"]
    assert "deployer role" in nobody["title"] and "who owns the system, must assign" in nobody["explanation"]


def test_without_a_preset_serving_controls_fall_to_whoever_serves_the_model(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text("""\
version: 1
system: {name: Mixed models}
parties:
  - {id: app, role: application-developer}
  - {id: ops, role: infrastructure-operator}
  - {id: vendor, role: model-provider}
components:
  - {id: chat, kind: user-input, owner: app}
  - {id: api-llm, kind: model, owner: vendor}
  - {id: local-llm, kind: model, owner: ops, hosting: self-hosted}
flows:
  - {from: chat, to: api-llm}
  - {from: chat, to: local-llm}
""")
    resp = Responsibilities(load([path]))
    # Only the self-hosted model is scanned on receipt: ops serves it, the API vendor never sees its files.
    assert resp["INF-SRV-05"].responsible == ("ops",)
    assert "local-llm is self-hosted" in resp["INF-SRV-05"].default_reason
    # On both models: each is served by a different party.
    assert resp["INF-SRV-01"].responsible == ("vendor", "ops")
    # A model layer control stays the model provider's, wherever the model runs.
    assert resp["MOD-INT-01"].responsible == ("vendor",)
    # With the provider's API alone, serving is the provider's, as before.
    api_only = tmp_path / "api.yaml"
    api_only.write_text(path.read_text().replace(", hosting: self-hosted", ""))
    assert Responsibilities(load([api_only]))["INF-SRV-01"].responsible == ("vendor",)


def test_approving_output_before_it_is_published_applies_only_where_output_is_published(tmp_path):
    path = tmp_path / "renderers.yaml"
    path.write_text(BASE.replace("flows:\n", "  - {id: chat-window, kind: output-renderer, owner: app}\n"
                                              "  - {id: blog, kind: output-renderer, owner: app, publishes: true}\n"
                                              "flows:\n")
                    + "  - {from: llm, to: chat-window}\n  - {from: llm, to: blog}\n")
    system = load([path])
    resp = Responsibilities(system)
    assert resp.applies(system.catalog.controls["APP-OUT-06"])
    assert resp["APP-OUT-06"].protected == ("blog",)
    # A chat window answers the person who asked: nothing to approve before anyone else sees it.
    chat_only = tmp_path / "chat.yaml"
    chat_only.write_text(path.read_text().replace(", publishes: true", ""))
    system = load([chat_only])
    assert not Responsibilities(system).applies(system.catalog.controls["APP-OUT-06"])


DEPLOYMENTS = [example("librechat-deployment"),
               *sorted((Path(__file__).resolve().parents[1] / "data" / "deployments").glob("*.yaml"))]


@pytest.mark.parametrize("manifest", DEPLOYMENTS, ids=lambda p: p.stem if p.is_file() else p.name)
def test_a_deployed_application_names_its_operator_only_for_what_its_settings_provide(manifest):
    """An open-source application a company runs (`operated-by`), each part listing the controls its
    settings provide (`configurable`): a missing control on a part is asked of its operator only where
    a setting provides it, and of the project otherwise, on every path and in every finding on it."""
    result = analyse(load([manifest]))
    comps = result.system.components
    asked = 0
    for path in result.paths.paths:
        for control in path.controls:
            if control.status != "missing":
                continue
            parts = [comps[c] for c in control.components]
            unable = {c.operated_by for c in parts if c.operated_by and c.configurable is not None
                      and control.id not in c.configurable} - {c.acts_on(control.id) for c in parts}
            assert not unable & set(control.parties), (path.id, control.id, control.parties)
            asked += bool(unable)
    for finding in result.open_findings():
        if finding.rule in ONE_COMPONENT and finding.controls:
            comp = comps[finding.components[0]]
            assert set(finding.responsible) == {comp.acts_on(c) for c in finding.controls}, finding.id
            asked += 1
    assert asked


ONE_COMPONENT = {"unsafe-rendering", "over-privileged-credential", "overshared-retrieval", "secret-in-prompt",
                 "self-approvable-action", "open-egress"}


def test_what_an_operator_can_do_alone_says_where(cli):
    """AnythingLLM as an analyst runs it: withholding tools closes most of its paths, and the fix says
    which tools, the first few by name."""
    path = Path(__file__).resolve().parents[1] / "data" / "deployments" / "anythingllm.yaml"
    data = json.loads(cli("check", path, "--party", "analyst", "--format", "json").stdout)
    assert data["own"]["fix"] == ["APP-TOOL-01"]
    tools = data["own"]["on"]["APP-TOOL-01"]
    assert len(tools) > 4 and "gmail-send" in tools
    assert len(set(tools)) == len(tools)
    out = " ".join(cli("check", path, "--party", "analyst").output.split())
    assert (f"what analyst can do alone: APP-TOOL-01 on {', '.join(tools[:4])} and {len(tools) - 4} more closes "
            f"{data['own']['closes']} of ") in out


def test_dify_as_a_shop_runs_it_answers_for_what_the_shop_can_set(cli):
    """Dify's public help chat: images in answers load from any host and no setting limits them, so
    the way out a planted page takes is the project's to close; what a public user has the agent fetch
    carries only what the agent would show them, so it is no leak; the shop's own tools are the shop's."""
    path = Path(__file__).resolve().parents[1] / "data" / "deployments" / "dify.yaml"
    data = json.loads(cli("check", path, "--format", "json").stdout)
    found = {f["id"]: f for f in data["findings"]}
    planted = found["open-attack-path:web-scraper>agent>chat-view"]
    assert planted["severity"] == "critical" and planted["responsible"] == ["dify"]
    assert "chat-view has no setting for it" in planted["explanation"]
    own = found["open-attack-path:chat>agent>web-scraper>ssrf-proxy"]
    assert own["severity"] == "medium" and "chat's own user" in own["explanation"]
    assert found["over-privileged-credential:order-status"]["responsible"] == ["support"]
    assert data["summary"]["open"]["critical"] >= 1


def test_cline_on_its_defaults_runs_what_its_editor_writes(cli, tmp_path):
    """Cline's editor is auto-approved by default and writes any absolute path; the MCP hub starts a
    server the moment its settings file lists it, and hooks run from the workspace. A planted file
    reaches code execution without anyone asking: the run is what the path does, and what could stop
    it is the editor's approval (the developer's setting) or Cline's own code."""
    path = Path(__file__).resolve().parents[1] / "data" / "deployments" / "cline.yaml"
    data = json.loads(cli("check", path, "--format", "json").stdout)
    found = {f["id"]: f for f in data["findings"]}
    for runner in ("mcp-launcher", "hook-runner"):
        planted = found[f"open-attack-path:workspace>read-files>llm>editor>{runner}"]
        assert planted["severity"] == "critical" and planted["responsible"] == ["cline", "developer"]
        assert "APP-TOOL-07 on editor (missing: self-configurable: true" in planted["explanation"]
        assert f"APP-TOOL-04 on {runner} (missing: {runner} has no setting for it" in planted["explanation"]
    paths = {p["id"]: p for p in data["paths"]}
    assert paths["workspace>read-files>llm>chat-view"]["needs_click"]  # an image loads only on "Load image"
    # Commands ask, and the settings the editor can reach hold no approval the agent runs under.
    assert paths["workspace>read-files>llm>terminal"]["closed_by"] == ["APP-TOOL-02"]
    assert found["self-approvable-action:editor"]["title"] == "The agent can change its own settings (editor)"
    assert set(data["leverage"]["responsible"]["APP-TOOL-01"]) == {"cline"}
    # What the developer can do alone names only what their settings reach: the MCP hub and the hook
    # runner have no setting, so the approval they would need there is Cline's.
    mine = json.loads(cli("check", path, "--party", "developer", "--format", "json").stdout)["own"]
    assert mine["fix"] == ["APP-TOOL-02"] and mine["on"] == {"APP-TOOL-02": ["editor", "web-fetch"]}
    # The developer's own lever: approving each edit closes every path through the editor.
    approved = tmp_path / "cline.yaml"
    approved.write_text(path.read_text().replace(
        "effects: [write, configure], self-configurable: true,",
        "effects: [write, configure], self-configurable: true, confirmation: user,"))
    after = {p["id"]: p for p in json.loads(cli("check", approved, "--format", "json").stdout)["paths"]}
    through_editor = {i: p for i, p in after.items() if "editor" in p["steps"]}
    assert {i for i in through_editor if i.startswith("workspace>")} == {
        f"workspace>read-files>llm>editor>{end}" for end in ("hook-runner", "mcp-launcher", "rules")}
    assert all(not p["open"] and "APP-TOOL-02" in p["closed_by"] for p in through_editor.values())
