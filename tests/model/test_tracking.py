"""Decisions as a library: checked before anything is written, recorded and revoked only when the
manifest reads back what was meant."""

from __future__ import annotations

import datetime as dt

import pytest

from demarcate.model import ManifestError, load
from demarcate.model.tracking import plan_decision, record_decision, revoke_decision
from tests.conftest import SHOPBOT, copy_example

FINDING = "visibility-gap:logs"


def test_a_decision_is_planned_recorded_read_back_and_revoked(tmp_path):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    system = load([folder])
    planned = plan_decision(system, [folder], FINDING, "accepted", "  SIEM next quarter ", ticket="SEC-1",
                            expires="2027-01-01", today=dt.date(2026, 12, 4))
    assert planned.to == folder / "tracking.yaml" and not planned.to.exists()  # nothing written yet
    assert planned.wanted.justification == "SIEM next quarter" and planned.wanted.expires == dt.date(2027, 1, 1)
    line = record_decision(system, [folder], planned)
    again = load([folder])
    (kept,) = again.tracking
    assert kept == planned.wanted and again.position("decision", FINDING).line == line
    path, at, earlier = revoke_decision(again, [folder], FINDING)
    assert (path, at, earlier) == (planned.to, line, planned.wanted)
    assert load([folder]).tracking == ()


@pytest.mark.parametrize(("options", "says"), [
    ({"expires": "next week"}, "--expires: 'next week' is not a date"),
    ({"justification": "   "}, "--justification is empty"),
    ({"to": "notes.txt"}, "a tracking file is a manifest file"),
    ({"replace": True}, "has no decision to replace"),
    ({"decision": None}, "say what was decided"),
])
def test_a_decision_that_cannot_stand_is_refused_before_anything_is_written(tmp_path, options, says):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    before = {p.name: p.read_text() for p in folder.iterdir()}
    given = {"decision": "accepted", "justification": "why", **options}
    if "to" in given:
        given["to"] = tmp_path / given["to"]
    with pytest.raises(ManifestError, match=says):
        plan_decision(load([folder]), [folder], FINDING, given.pop("decision"), given.pop("justification"), **given)
    assert {p.name: p.read_text() for p in folder.iterdir()} == before


def test_revoking_what_was_never_decided_names_what_was(tmp_path):
    folder = copy_example(SHOPBOT, tmp_path / "bot")
    system = load([folder])
    record_decision(system, [folder], plan_decision(system, [folder], FINDING, "accepted", "why"))
    with pytest.raises(ManifestError, match="has no decision to revoke") as caught:
        revoke_decision(load([folder]), [folder], "visibility-gap:log")
    assert FINDING in str(caught.value)  # did you mean
