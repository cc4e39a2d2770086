"""The demo's closing words: what still succeeds after the fix, in the analysis's terms, from what
each goal says it amounts to."""

from __future__ import annotations

from demarcate.analysis.assume import assume
from demarcate.analysis.check import analyse
from demarcate.model import load
from demarcate.report.verdict import after_the_fix
from demarcate.testing.goals import GOALS
from tests.conftest import SHOPBOT


def _fixed():
    system = load([SHOPBOT])
    fix = analyse(system).leverage.fix
    return analyse(assume(system, [(c, None) for c in fix])[0])


def _campaign(*goals: str) -> dict:
    return {"results": [{"goal": g, "outcome": "succeeded"} for g in goals]
            + [{"goal": "email-out", "outcome": "resisted"}]}


def test_every_goal_says_what_it_amounts_to():
    assert all(goal.means for goal in GOALS.values())
    assert {g for g, goal in GOALS.items() if goal.attack_path} == {"email-out", "fetch-out", "render-out", "markup-out"}


def test_what_still_succeeds_is_told_in_the_analysis_terms():
    lines = after_the_fix(_campaign("wide-lookup", "wide-lookup", "say-canary"), _fixed())
    assert lines[1].strip().startswith("2 wide-lookup: other users' private data")  # the most first
    assert "no exfiltration succeeds" in " ".join(lines)
    assert any("over-privileged-credential" in line and "APP-TOOL-03" in line for line in lines)
    leaking = after_the_fix(_campaign("render-out"), _fixed())
    assert "exfiltration (an attack path)" in leaking[1] and "no exfiltration succeeds" not in " ".join(leaking)
    assert after_the_fix(_campaign(), _fixed()) == ["  no probe succeeds any more"]
