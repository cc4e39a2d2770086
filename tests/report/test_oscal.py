"""The responsibility matrix as OSCAL: valid against NIST's 1.1.3 schema for every example, what each
party provides, inherits and leaves to others, live evidence, stable identifiers, hostile text."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from demarcate.builtin import example
from demarcate.model import load
from demarcate.report.oscal import oscal_ssp
from demarcate.testing.run import run_campaign
from tests.conftest import SHOPBOT, copy_example
from tests.report.test_untrusted_text import _nasty

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "oscal" / "oscal_complete_schema-1.1.3.json"
SCHEMA_SHA256 = "078848cb4000024a65679110f6ee2d99b300b06471a33fc536b19b670b65aa51"
EXAMPLES = ["shopbot", "shopbot-hardened", "enterprise-assistant", "coding-agent"]


@pytest.fixture(scope="module")
def validator():
    raw = SCHEMA.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256  # tests/data/oscal/README.md says where it is from
    schema = json.loads(raw)
    # The system security plan of the complete schema, so that a failure names the field at fault
    # rather than "matches none of the models".
    plan = {"$schema": schema["$schema"], "definitions": schema["definitions"], "type": "object",
            "properties": {"system-security-plan": {"$ref": "#/definitions/oscal-complete-oscal-ssp:system-security-plan"}},
            "required": ["system-security-plan"], "additionalProperties": False}
    return jsonschema_rs.Draft7Validator(plan, validate_formats=True), jsonschema_rs.Draft7Validator(schema, validate_formats=True)


def _problems(validator, document: dict[str, Any]) -> list[str]:
    plan, whole = validator
    found = [f"{'/'.join(map(str, e.instance_path))}: {e.message[:200]}" for e in plan.iter_errors(document)]
    if not found and not whole.is_valid(document):
        found.append("valid as a plan, yet not as an OSCAL document")
    return found


def _one_line_fields(node: Any, path: str = "") -> list[str]:
    """Fields OSCAL types as one line (titles, names, property values) that hold a line break."""
    bad = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("title", "name", "value", "system-name") and isinstance(value, str) and "\n" in value:
                bad.append(f"{path}/{key}")
            bad += _one_line_fields(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            bad += _one_line_fields(value, f"{path}/{i}")
    return bad


def _markup_fields(node: Any) -> list[str]:
    """The values of the fields OSCAL reads as Markdown."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("title", "description", "remarks") and isinstance(value, str):
                found.append(value)
            found += _markup_fields(value)
    elif isinstance(node, list):
        for value in node:
            found += _markup_fields(value)
    return found


def _requirements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["control-id"]: r for r in document["system-security-plan"]["control-implementation"]["implemented-requirements"]}


def _party_component(document: dict[str, Any], party: str) -> str:
    for c in document["system-security-plan"]["system-implementation"]["components"]:
        if {"name": "party-id", "ns": "urn:demarcate:oscal", "value": party} in c.get("props", []) and c["type"] == "service":
            return c["uuid"]
    raise AssertionError(party)


def _entry(document: dict[str, Any], control: str, party: str) -> dict[str, Any]:
    component = _party_component(document, party)
    return next(b for b in _requirements(document)[control]["by-components"] if b["component-uuid"] == component)


def _prop(entry: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in entry.get("props", []) if p["name"] == name]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_exports_a_valid_oscal_plan(validator, name):
    document = oscal_ssp(load([example(name)]))
    assert _problems(validator, document) == []
    assert _one_line_fields(document) == []
    plan = document["system-security-plan"]
    assert plan["metadata"]["oscal-version"] == "1.1.3"
    # Every applicable control is there, every party is a party and a component.
    system = load([example(name)])
    from demarcate.analysis.matrix import matrix

    assert set(_requirements(document)) == {r.control for r in matrix(system)}
    assert len(plan["metadata"]["parties"]) == len(system.parties)
    for party in system.parties:
        _party_component(document, party)


def test_the_validator_refuses_what_oscal_refuses(validator):
    # Without this the test above could pass on a validator that accepts anything.
    document = oscal_ssp(load([SHOPBOT]))
    plan = document["system-security-plan"]
    plan["metadata"]["parties"][0]["name"] = " leading space"
    plan["control-implementation"]["implemented-requirements"][0]["uuid"] = "not-a-uuid"
    del plan["system-characteristics"]["authorization-boundary"]
    problems = " | ".join(_problems(validator, document))
    assert "metadata/parties/0/name" in problems
    assert "implemented-requirements/0/uuid" in problems
    assert "authorization-boundary" in problems


def test_what_each_party_provides_inherits_and_leaves_to_others():
    document = oscal_ssp(load([example("shopbot-hardened")]))
    # The app team relies on the model provider for MOD-SAFE-03, which provides it: the app team
    # inherits exactly what the provider exports, and the provider leaves it the duty to confirm it.
    provider = _entry(document, "MOD-SAFE-03", "model-provider")
    relying = _entry(document, "MOD-SAFE-03", "app-team")
    (provided,) = provider["export"]["provided"]
    assert provider["implementation-status"]["state"] in ("implemented", "partial", "planned")
    (inherited,) = relying["inherited"]
    assert inherited["provided-uuid"] == provided["uuid"]
    (duty,) = provider["export"]["responsibilities"]
    assert duty["provided-uuid"] == provided["uuid"] and "confirm" in duty["description"]
    assert "implementation-status" not in relying  # relying is not implementing


def test_a_reliance_on_a_party_that_provides_nothing_is_a_gap_with_nothing_to_inherit():
    document = oscal_ssp(load([SHOPBOT]))
    entry = _entry(document, "APP-IN-03", "app-team")
    assert "inherited" not in entry and _prop(entry, "gap") == ["assumed-not-provided"]
    assert "does not claim to provide it" in entry["description"]
    # The party the preset gives it to answers for it, by role and by name.
    requirement = _requirements(document)["APP-IN-03"]
    (role,) = requirement["responsible-roles"]
    assert role["role-id"] == "application-developer"
    parties = {p["uuid"]: p for p in document["system-security-plan"]["metadata"]["parties"]}
    assert [parties[u]["name"] for u in role["party-uuids"]] == ["Shop app team"]
    assert _prop(requirement, "status") == ["nobody"]
    # A control expected of a party that does not claim it gets no invented status.
    unclaimed = _entry(document, "INF-NET-03", "cloud-team")
    assert _prop(unclaimed, "claim") == ["unclaimed"] and "implementation-status" not in unclaimed


def test_requirements_carry_the_frameworks_and_the_verify_flag():
    requirement = _requirements(oscal_ssp(load([SHOPBOT])))["APP-IN-03"]
    assert "LLM01" in _prop(requirement, "owasp-llm")
    assert _prop(requirement, "csa-aicm") and _prop(requirement, "mitre-atlas")
    assert _prop(requirement, "verify-only") == ["no"]


def test_identifiers_stay_put_and_the_document_changes_only_with_its_content(tmp_path):
    one = oscal_ssp(load([SHOPBOT]), now=datetime(2026, 1, 1, tzinfo=UTC))["system-security-plan"]
    two = oscal_ssp(load([SHOPBOT]), now=datetime(2026, 6, 1, tzinfo=UTC))["system-security-plan"]
    assert one["metadata"]["last-modified"] != two["metadata"]["last-modified"]
    assert (one["uuid"], one["metadata"]["version"]) == (two["uuid"], two["metadata"]["version"])
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    for f in folder.glob("*.yaml"):
        f.write_text(f.read_text().replace("relies-on: cloud-team", "relies-on: model-provider"))
    changed = oscal_ssp(load([folder]))["system-security-plan"]
    assert changed["uuid"] != one["uuid"] and changed["metadata"]["version"] != one["metadata"]["version"]
    # Parties, components and each control's entries keep their identifiers.
    assert [p["uuid"] for p in changed["metadata"]["parties"]] == [p["uuid"] for p in one["metadata"]["parties"]]
    assert _requirements({"system-security-plan": changed})["APP-IN-03"]["uuid"] == \
        _requirements({"system-security-plan": one})["APP-IN-03"]["uuid"]


def test_hostile_manifest_text_stays_text(validator, tmp_path):
    bot = _nasty(tmp_path)
    for f in bot.glob("*.yaml"):
        text = f.read_text().replace("name: Shop app team\n",
                                     'name: "  Shop app team\\n<script>alert(1)</script> [click](https://evil.example) "\n')
        f.write_text(text)
    document = oscal_ssp(load([bot]))
    assert _problems(validator, document) == []
    assert _one_line_fields(document) == []
    text = json.dumps(document)
    assert "\\u001b" not in text and "\\u0007" not in text  # no escape sequence survives
    # Markdown fields (titles, descriptions, remarks) show the text, never markup a viewer would act on.
    markdown = " ".join(_markup_fields(document))
    assert "Shop app team" in markdown and "alert(1)" in markdown
    for live in ("<script>", "[click](", "https://evil", "www.evil"):
        assert live not in markdown, live
    parties = [p["name"] for p in document["system-security-plan"]["metadata"]["parties"]]
    assert "Shop app team <script>alert(1)</script> [click](https://evil.example)" in parties  # a name, as written
    # The words are kept: a backslash in Markdown only stops the host from becoming a link.
    assert "www\\.evil.example" in markdown and "ping @octocat" in markdown


def test_export_writes_the_plan_and_says_what_it_wrote(cli, tmp_path, validator):
    out = tmp_path / "ssp.json"
    result = cli("export", SHOPBOT, "--format", "oscal", "-o", out)
    assert result.exit_code == 0, result.output
    assert "OSCAL 1.1.3 system security plan" in result.stderr
    assert _problems(validator, json.loads(out.read_text())) == []
    printed = cli("export", SHOPBOT)
    assert printed.exit_code == 0 and json.loads(printed.stdout)["system-security-plan"]["metadata"]["oscal-version"] == "1.1.3"
    # Never over a manifest; a broken manifest is an error at its line, not a traceback.
    over = cli("export", SHOPBOT, "-o", Path(SHOPBOT) / "app-team.yaml")
    assert over.exit_code == 2 and "is one of the manifests being read" in over.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("system: {name: x}\nparties:\n  - id: a\n    role: nobody-here\n")
    bad = cli("export", broken)
    assert bad.exit_code == 2 and "broken.yaml:4" in bad.output and "Traceback" not in bad.output


def test_a_stored_campaign_verifies_or_refutes_the_providers_entries(cli, tmp_path, validator):
    # The hardened bot claims a URL allowlist on the chat window; the lab, run with its defaults,
    # has none: the campaign refutes the claim, and the plan says so at the provider's entry.
    db = str(tmp_path / "h.sqlite")
    hardened = example("shopbot-hardened")
    run_campaign(load([hardened]), target="lab", probes="doc-image-*", db=db)
    out = tmp_path / "ssp.json"
    result = cli("export", hardened, "--evidence", "last", "--db", db, "-o", out)
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert _problems(validator, document) == []
    requirement = _requirements(document)["APP-OUT-04"]
    assert _prop(requirement, "live-test") == ["refuted"]
    provider = next(b for b in requirement["by-components"] if "export" in b)
    assert _prop(provider, "live-test") == ["refuted"] and "Live test refuted it" in provider["remarks"]
    assert "campaign" in document["system-security-plan"]["control-implementation"]["description"]
    # Without evidence no requirement claims a live result.
    plain = oscal_ssp(load([hardened]))
    assert not any(_prop(r, "live-test") for r in _requirements(plain).values())
    # The same, from the library: a system given the evidence.
    from demarcate.store import Store
    from demarcate.store.campaign_history import live_evidence

    system = load([hardened])
    store = Store(db)
    live = live_evidence(store, "last", system)
    store.close()
    again = oscal_ssp(dataclasses.replace(system, live=live))
    assert _prop(_requirements(again)["APP-OUT-04"], "live-test") == ["refuted"]


def test_a_control_provided_by_a_prompt_says_so_to_the_auditor(tmp_path, validator):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    (folder / "prompted.yaml").write_text(
        "version: 1\ncontrols:\n  - {control: APP-OUT-02, party: app-team, provides: implemented, scope: [send-email],\n"
        "     by: prompt, note: the system prompt says to mail only the signed-in customer}\n")
    document = oscal_ssp(load([folder]))
    entry = _entry(document, "APP-OUT-02", "app-team")
    assert "It is provided by a prompt, which asks a model to tell instructions from data" in entry["description"]
    assert validator[0].is_valid(document)
