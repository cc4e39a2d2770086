"""A finding open on both sides at another severity is a change, shown and gated, never 'unchanged'."""

from __future__ import annotations

import json

from demarcate.analysis.diff import diff
from demarcate.builtin import example


def test_a_severity_change_is_its_own_kind_of_change(cli):
    data = json.loads(cli("diff", example("shopbot"), example("shopbot-hardened"), "--format", "json").stdout)
    changed = {f["id"]: (f["was"], f["severity"]) for f in data["changed"]}
    assert changed["lethal-trifecta:model"] == ("critical", "medium")
    assert "lethal-trifecta:model" not in {f["id"] for f in data["unchanged"]}
    assert data["summary"]["changed"] == len(data["changed"])
    text = cli("diff", example("shopbot"), example("shopbot-hardened")).stdout
    assert "better" in text and "critical → medium lethal-trifecta:model" in text
    assert "same" in text  # the unchanged ones are listed too
    markdown = cli("diff", example("shopbot"), example("shopbot-hardened"), "--format", "markdown").stdout
    assert "Changed severity" in markdown and "<summary>Unchanged</summary>" in markdown


def test_a_finding_that_rises_to_the_threshold_fails_the_gate():
    before = [{"id": "x", "severity": "medium", "title": "t"}]
    after = [{"id": "x", "severity": "critical", "title": "t"}]
    assert diff(before, after).fails("high") and not diff(after, before).fails("high")
    assert not diff(before, [{"id": "x", "severity": "high", "title": "t"}]).fails("critical")
