import dataclasses
from pathlib import Path

from demarcate.analysis.check import analyse
from demarcate.analysis.gate import judge
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml

RULE = "claim-untested"
PATH = "reviews>rag>llm>mail>out"
CLAIMED = Path(__file__).resolve().parents[2] / "data" / "claimed"


def _result(bot, tmp_path, live=None):
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(bot.doc()), encoding="utf-8")
    return analyse(dataclasses.replace(load([path]), live=live))


def _untested(result):
    return [f for f in result.findings if f.rule == RULE]


def test_a_path_closed_by_a_bare_claim_is_reported_against_the_claimant(bot, tmp_path):
    bot.provides("APP-TOOL-01", scope=["mail"])
    result = _result(bot, tmp_path)
    assert PATH not in {p.id for p in result.paths.open_paths}
    (f,) = _untested(result)
    assert f.id == "claim-untested:APP-TOOL-01" and f.responsible == ("app",) and f.components == ("mail",)
    # Private data leaving by mail would be critical; resting on a claim, one step below.
    assert f.severity == "high" and PATH in f.explanation and "--probes tool-misuse" in f.recommendation
    # The fix has nothing to close; what it leaves is this, asked for in its own words, not as a control
    # to put in effect (it is in effect, on a claim).
    (also,) = [a for a in result.leverage.also if a.finding == f.id]
    assert also.controls == [] and also.recommendation == f.recommendation


def test_a_test_in_the_claims_evidence_shows_it_holds(bot, tmp_path):
    bot.provides("APP-TOOL-01", scope=["mail"], evidence=["test:mail-only-to-the-customer"])
    assert not _untested(_result(bot, tmp_path))


def test_a_document_is_not_a_test(bot, tmp_path):
    bot.provides("APP-TOOL-01", scope=["mail"], evidence=["design review, March"])
    (f,) = _untested(_result(bot, tmp_path))
    assert f.id == "claim-untested:APP-TOOL-01"


def test_a_campaign_that_verified_it_shows_it_holds_and_one_that_got_past_it_reopens_the_path(bot, tmp_path):
    bot.provides("APP-TOOL-01", scope=["mail"])
    verified = {"run": "r1", "target": "lab", "refuted": {}, "verified": {"APP-TOOL-01": "case c held"}}
    assert not _untested(_result(bot, tmp_path, verified))
    elsewhere = {**verified, "verified_on": {"APP-TOOL-01": ["lookup"]}}  # seen holding on another tool
    assert [f.id for f in _untested(_result(bot, tmp_path, elsewhere))] == ["claim-untested:APP-TOOL-01"]
    refuted = {**verified, "verified": {}, "refuted": {"APP-TOOL-01": "case c: send_email ran"}}
    result = _result(bot, tmp_path, refuted)
    assert PATH in {p.id for p in result.paths.open_paths} and not _untested(result)


def test_configuration_that_shows_the_control_is_more_than_a_word(bot, tmp_path):
    # A confirmation the manifest shows on the tool, claimed as well.
    bot.set("mail", confirmation="user").provides("APP-TOOL-02", scope=["mail"])
    result = _result(bot, tmp_path)
    assert PATH not in {p.id for p in result.paths.open_paths} and not _untested(result)


def test_one_shown_control_on_a_path_is_enough(bot, tmp_path):
    bot.provides("APP-TOOL-01", scope=["mail"]).set("out", policy="allowlist", allow=["shop.example"])
    result = _result(bot, tmp_path)
    closed = next(p for p in result.paths.paths if p.id == PATH)
    assert {"APP-TOOL-01", "INF-NET-03"} <= set(closed.closed_by) and not _untested(result)


def test_a_what_if_is_not_asked_for_evidence(bot, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(bot.doc()), encoding="utf-8")
    gate = judge(load([path]), assume=[("APP-TOOL-01", None)])
    assert PATH not in {p.id for p in gate.result.paths.open_paths}
    assert not [f for f in gate.result.findings if f.rule == RULE]


def test_an_exploited_system_closed_on_its_owners_claim_is_not_nothing_to_fix():
    # Trust Issues: the allowlist the maintainers relied on did not hold under --yolo.
    result = analyse(load([CLAIMED / "gemini-trust-issues.yaml"]))
    attack = next(p for p in result.paths.paths if p.id == "issue>llm>shell>runner-net")
    assert not attack.open and attack.closed_by == ("APP-TOOL-01",)
    (f,) = _untested(result)
    assert f.responsible == ("maintainers",) and f.severity == "high"
    assert f.id in {a.finding for a in result.leverage.also}


def test_paths_two_bare_claims_close_together_do_not_rest_on_either_alone(bot, tmp_path):
    bot.provides("APP-TOOL-01", scope=["mail"]).provides("APP-OUT-02", scope=["mail"])
    found = {f.id: f for f in _untested(_result(bot, tmp_path))}
    assert set(found) == {"claim-untested:APP-TOOL-01", "claim-untested:APP-OUT-02"}
    for control, other in (("APP-TOOL-01", "APP-OUT-02"), ("APP-OUT-02", "APP-TOOL-01")):
        f = found[f"claim-untested:{control}"]
        assert f.title.startswith(f"{control} closes ") and "alone closes" not in f.title
        assert f"that claim and other bare claims ({other}) alone" in f.explanation
        assert "If none of them acts on an attack" in f.explanation
