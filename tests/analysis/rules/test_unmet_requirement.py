import json

import pytest

from demarcate.model import ManifestError, load
from demarcate.model.yamlio import dump_yaml

RULE = "unmet-requirement"
OUTBOUND = {"kind": "tool", "where": {"effects": ["send-external", "financial"]}}


def test_a_required_control_missing_on_a_selected_component(bot, run):
    bot.requires("APP-TOOL-02", "a person approves what leaves (SEC-7)", on=OUTBOUND, severity="critical")
    (f,) = run(bot, RULE)  # mail sends outside; lookup only reads
    assert f.id == "unmet-requirement:APP-TOOL-02:mail" and f.severity == "critical"
    assert f.responsible == ("app",) and f.components == ("mail",) and f.controls == ("APP-TOOL-02",)
    assert "Why: a person approves what leaves (SEC-7)" in f.explanation and "it is missing" in f.explanation


def test_a_requirement_met_by_configuration_or_by_a_claim_finds_nothing(bot, run):
    bot.requires("APP-TOOL-02", on=OUTBOUND)
    assert run(bot.set("mail", confirmation="user"), RULE) == []
    claimed = type(bot)().requires("APP-LOG-01", on={"kind": "tool"}).provides("APP-LOG-01")
    assert run(claimed, RULE) == []
    planned = type(bot)().requires("APP-LOG-01", on={"kind": "tool"}).provides("APP-LOG-01", status="planned")
    assert {f.title for f in run(planned, RULE)} == {"APP-LOG-01 is required on lookup and is planned",
                                                      "APP-LOG-01 is required on mail and is planned"}


def test_a_claim_that_does_not_cover_the_component_says_how_to_make_it(bot, run):
    # The app team logs the calls it makes to the vendor's model; a claim without `scope` covers the
    # app team's own components only, so the requirement on the model says to name it.
    bot.requires("APP-LOG-01", "IR-2", on={"kind": "model"}).provides("APP-LOG-01")
    (f,) = run(bot, RULE)
    assert f.components == ("llm",) and "Why: IR-2. On llm it is missing: app claims it, but no claim covers llm" \
        in f.explanation and "name it in the claim's scope" in f.explanation
    scoped = type(bot)().requires("APP-LOG-01", on={"kind": "model"}).provides("APP-LOG-01", scope=["llm", "mail"])
    assert run(scoped, RULE) == []


def test_a_claim_the_configuration_contradicts_does_not_meet_it(bot, run):
    bot.requires("APP-TOOL-02", on=OUTBOUND).provides("APP-TOOL-02", scope=["mail"]).set("mail", confirmation="none")
    (f,) = run(bot, RULE)
    assert f.title == "APP-TOOL-02 is required on mail and is contradicted" and "confirmation: none" in f.explanation


def test_the_scope_narrows_by_kind_id_owner_and_attribute(bot, run):
    bot.requires("APP-LOG-01", severity="low")  # everywhere the control protects
    everywhere = {f.components[0] for f in run(bot, RULE)}
    assert {"llm", "lookup", "mail"} <= everywhere
    narrow = type(bot)().requires("APP-LOG-01", on={"kind": "tool", "owner": "app", "components": ["lookup"]})
    assert [f.id for f in run(narrow, RULE)] == ["unmet-requirement:APP-LOG-01:lookup"]
    flagged = type(bot)().requires("APP-OUT-04", on={"kind": "output-renderer", "where": {"images": True}})
    flagged.add({"id": "ui", "kind": "output-renderer", "owner": "app", "images": True}, ("llm", "ui"))
    flagged.add({"id": "plain", "kind": "output-renderer", "owner": "app", "images": False}, ("llm", "plain"))
    assert [f.components for f in run(flagged, RULE)] == [("ui",)]
    # A host list matches by host name: the tools that can send to the payments API.
    payments = type(bot)().requires("APP-TOOL-02", on={"kind": "tool", "where": {"destinations": ["pay.example"]}})
    payments.set("mail", destinations=[{"host": "pay.example"}, {"host": "mail.example"}])
    assert [f.components for f in run(payments, RULE)] == [("mail",)]


def test_a_named_party_must_act_whoever_answers_by_default(bot, run):
    bot.requires("INF-NET-03", on={"kind": "network-egress"}, party="infra")
    (f,) = run(bot, RULE)
    assert f.responsible == ("infra",) and f.id == "unmet-requirement:INF-NET-03:out"


def test_nothing_required_nothing_found(bot, run):
    assert run(bot, RULE) == []


@pytest.mark.parametrize(("entry", "says"), [
    ({"control": "APP-TOOL-2"}, "unknown control 'APP-TOOL-2' (did you mean 'APP-TOOL-02'?)"),
    ({"control": "APP-TOOL-02", "on": {"kind": "data-source"}}, "APP-TOOL-02 does not protect data-source components"),
    ({"control": "APP-TOOL-02", "on": {"kind": "tool", "where": {"effect": ["write"]}}},
     "tool components have no attribute 'effect' (did you mean 'effects'?)"),
    ({"control": "APP-TOOL-02", "on": {"kind": "tool", "where": {"effects": ["sendexternal"]}}},
     "'sendexternal' is not a value of tool.effects (did you mean 'send-external'?)"),
    ({"control": "APP-TOOL-02", "on": {"where": {"effects": ["write"]}}}, "a requirement's 'where' needs 'kind'"),
    ({"control": "APP-TOOL-02", "party": "ghost"}, "unknown party 'ghost'"),
    ({"control": "APP-TOOL-02", "on": {"components": ["mial"]}}, "unknown component 'mial' (did you mean 'mail'?)"),
])
def test_a_requirement_that_cannot_hold_is_an_error_at_its_line(bot, tmp_path, entry, says):
    doc = bot.doc()
    doc["requirements"] = [{"why": "policy", **entry}]
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        load([path])
    line = path.read_text().splitlines().index("requirements:") + 2  # the entry's own line
    (problem,) = info.value.problems
    assert str(problem).startswith(f"{path}:{line}:3: error: {says}"), problem


def test_an_organisations_requirements_file_merges_with_any_system(bot, tmp_path):
    # The policy lives in a file of its own, read beside each system's manifest; the same requirement
    # said differently in two files is an error naming both places.
    system = tmp_path / "system.yaml"
    system.write_text(dump_yaml(bot.doc()), encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text(dump_yaml({"requirements": [{"control": "APP-TOOL-02", "on": OUTBOUND, "why": "SEC-7"}]}))
    assert len(load([system, policy]).requirements) == 1
    again = tmp_path / "again.yaml"
    again.write_text(dump_yaml({"requirements": [{"control": "APP-TOOL-02", "on": OUTBOUND, "why": "other"}]}))
    with pytest.raises(ManifestError, match=r"requirement of APP-TOOL-02 on the same components is defined "
                                            r"differently in two places \(also defined at .*again.yaml:2:3\)"):
        load([system, policy, again])


def test_the_example_baseline_fails_the_seed_bot_and_passes_its_hardened_version(cli):
    from demarcate.builtin import example

    baseline = example("requirements.yaml")
    seed = cli("check", example("shopbot"), baseline, "--rule", RULE, "--format", "json", "--fail-on", "high")
    assert seed.exit_code == 1
    assert [f["id"] for f in json.loads(seed.stdout)["findings"]] == [
        "unmet-requirement:APP-TOOL-02:send-email", "unmet-requirement:APP-IN-03:reviews",
        "unmet-requirement:APP-OUT-04:chat-ui", "unmet-requirement:INF-NET-03:egress"]
    assert cli("check", example("shopbot-hardened"), baseline, "--fail-on", "high").exit_code == 0
    hardened = cli("check", example("shopbot-hardened"), baseline, "--rule", RULE, "--format", "json")
    assert json.loads(hardened.stdout)["findings"] == []


def test_a_control_of_the_system_as_a_whole_is_judged_by_its_claims(bot, run, tmp_path):
    # Governance controls protect no component: the requirement is met by a claim that provides it.
    bot.requires("GOV-INV-01", "the AI inventory is audited yearly", severity="medium")
    (f,) = run(bot, RULE)
    assert f.id == "unmet-requirement:GOV-INV-01" and f.components == () and f.severity == "medium"
    assert f.title == "GOV-INV-01 is required and is provided by nobody" and "for the system as a whole" in f.explanation
    assert run(type(bot)().requires("GOV-INV-01").provides("GOV-INV-01"), RULE) == []
    planned = run(type(bot)().requires("GOV-INV-01", party="app").provides("GOV-INV-01", status="planned"), RULE)
    assert [(f.title, f.responsible) for f in planned] == [("GOV-INV-01 is required and is planned", ("app",))]
    scoped = tmp_path / "scoped.yaml"
    scoped.write_text(dump_yaml(bot.requires("GOV-INV-01", on={"kind": "tool"}).doc()), encoding="utf-8")
    with pytest.raises(ManifestError, match="GOV-INV-01 is a control of the system as a whole"):
        load([scoped])
