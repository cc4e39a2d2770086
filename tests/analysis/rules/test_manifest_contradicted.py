from demarcate.analysis.check import analyse
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml

RULE = "manifest-contradicted"
SEEN = {"mail": {"destinations": {"said": ["corp.example"], "actual": None,
                                  "why": "run r1, case c: send_email ran with this case's canary"}}}


def _analyse(bot, tmp_path, contradicted):
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(bot.doc()), encoding="utf-8")
    live = {"run": "r1", "target": "lab", "refuted": {}, "verified": {}, "contradicted": contradicted}
    return analyse(load([path]).with_evidence(live))


def test_destinations_a_campaign_got_past_are_left_out_and_the_way_out_comes_back(bot, tmp_path):
    # The mail tool said to deliver only to the owner's domain is misused at worst; caught sending
    # to the listener, it is a way out again, and whoever runs it is told.
    bot.set("mail", destinations=["corp.example"])
    quiet = _analyse(bot, tmp_path, {})
    assert not [f for f in quiet.findings if f.rule == RULE]
    assert not [p for p in quiet.paths.open_paths if p.impact_kind == "exfiltration"]
    result = _analyse(bot, tmp_path, SEEN)
    (f,) = [f for f in result.findings if f.rule == RULE]
    assert f.id == "manifest-contradicted:mail:destinations" and f.severity == "high"
    assert f.responsible == ("app",) and "sends only to corp.example" in f.explanation
    assert "send_email ran with this case's canary" in f.explanation
    assert "reviews>rag>llm>mail>out" in {p.id for p in result.paths.open_paths}


def test_a_component_the_manifest_no_longer_has_is_passed_over(bot, tmp_path):
    assert not [f for f in _analyse(bot, tmp_path, {"gone": SEEN["mail"]}).findings if f.rule == RULE]


def test_a_tool_said_to_return_internal_output_that_brought_the_attackers_page_is_a_way_in(bot, tmp_path):
    bot.set("lookup", output_trust="internal")
    assert not [p for p in _analyse(bot, tmp_path, {}).paths.open_paths if p.source == "lookup"]
    seen = {"lookup": {"output-trust": {"said": ["internal"], "actual": "untrusted",
                                        "why": "run r1, case c: lookup fetched the attacker's page"}}}
    result = _analyse(bot, tmp_path, seen)
    (f,) = [f for f in result.findings if f.rule == RULE]
    assert "returns internal output (`output-trust`)" in f.explanation
    assert [p for p in result.paths.open_paths if p.source == "lookup"]
