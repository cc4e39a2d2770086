import dataclasses

from demarcate.analysis.check import analyse
from demarcate.model import load
from demarcate.model.yamlio import dump_yaml

RULE = "claim-refuted"
LIVE = {"run": "r1", "target": "lab", "refuted": {"APP-TOOL-01": "run r1, case c: send_email ran"}, "verified": {}}


def _analyse(bot, tmp_path, live):
    path = tmp_path / "m.yaml"
    path.write_text(dump_yaml(bot.doc()), encoding="utf-8")
    return analyse(dataclasses.replace(load([path]), live=live))


def test_a_claimed_control_a_campaign_got_past_is_refuted_and_its_paths_reopen(bot, tmp_path):
    bot.provides("APP-TOOL-01", scope=["mail"])
    assert not analyse_paths_open(_analyse(bot, tmp_path, None))
    result = _analyse(bot, tmp_path, LIVE)
    (f,) = [f for f in result.findings if f.rule == RULE]
    assert f.id == "claim-refuted:APP-TOOL-01" and f.responsible == ("app",) and "send_email ran" in f.explanation
    assert "reviews>rag>llm>mail>out" in analyse_paths_open(result)


def test_a_refuted_control_nobody_claims_is_left_to_the_open_paths(bot, tmp_path):
    assert not [f for f in _analyse(bot, tmp_path, LIVE).findings if f.rule == RULE]


def analyse_paths_open(result):
    return {p.id for p in result.paths.open_paths}
