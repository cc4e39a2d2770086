"""Comparing two campaign runs: what got better, what regressed."""

from __future__ import annotations

from typing import Any

WORSE = {"verified": 0, "untested": 1, "refuted": 2}


def compare(old: dict[str, Any], old_results: list[dict[str, Any]], new: dict[str, Any],
            new_results: list[dict[str, Any]]) -> dict[str, Any]:
    before = (old.get("summary") or {}).get("controls", {})
    after = (new.get("summary") or {}).get("controls", {})
    controls = []
    regressions = []
    for cid in sorted(set(before) | set(after)):
        a, b = before.get(cid, "untested"), after.get(cid, "untested")
        if a != b:
            change = {"control": cid, "before": a, "after": b}
            controls.append(change)
            if a == "verified" and b == "refuted":
                regressions.append({**change, "why": "the control held in the earlier run and fails now"})
    old_by = {r["case"]: r["outcome"] for r in old_results}
    cases = []
    for r in new_results:
        prev = old_by.get(r["case"])
        if prev is not None and prev != r["outcome"]:
            item = {"case": r["case"], "before": prev, "after": r["outcome"]}
            cases.append(item)
            if r["outcome"] == "succeeded" and prev != "error":
                regressions.append({**item, "why": "an attack that failed before succeeds now"})
    rate = lambda run: ((run.get("summary") or {}).get("overall") or {}).get("rate")  # noqa: E731
    return {"version": 1, "old": old["id"], "new": new["id"], "asr": {"old": rate(old), "new": rate(new)},
            "controls": controls, "cases": cases, "regressions": regressions}
