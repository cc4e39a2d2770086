"""Stored analyses: what `check --store` keeps beside the result, the stored result that serves as
a baseline, and two stored analyses compared. Between two analyses of a system, a finding open
now that was not open before, or an attack path open now that was not open before, is a
regression: what held last week and breaks today."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from demarcate.analysis.diff import Findings, diff, other_system
from demarcate.model.errors import ManifestError, Problem
from demarcate.store import Store

LAST = "last"
LOOK_BACK = 200  # how many more of a system's newest analyses are looked through for those run the same way


def summary(data: dict[str, Any], *, fail_on: str, failed: bool) -> dict[str, Any]:
    """What a listing of runs shows of one analysis, from its `check` JSON result."""
    counts = data["summary"]["open"]
    return {
        "findings": {"open": sum(counts.values()), "by_severity": counts, "decided": data["summary"]["decided"]},
        "paths": {"total": len(data["paths"]), "open": sum(1 for p in data["paths"] if p["open"])},
        "fix": data["leverage"]["fix"],
        "gate": {"fail_on": fail_on, "failed": failed},
    }


def config(paths: list[Path], **options: Any) -> dict[str, Any]:
    """How the analysis was run: the manifests as given and the options that shape its result."""
    return {"manifests": [str(p) for p in paths], **{k: v for k, v in options.items() if v not in (None, [], ())}}


def result(store: Store, run: dict[str, Any]) -> dict[str, Any]:
    """A stored analysis's `check` JSON result, as it was written."""
    data = store.analysis(run["id"])
    if data is None:
        raise ManifestError([Problem(f"run '{run['id']}' has lost its result in {store.safe_url}")])
    return data


def baseline(store: Store, ref: str, system: str, parties: list[str] | None = None,
             rules: list[str] | None = None) -> tuple[Findings, str | None]:
    """The findings of a stored analysis to judge against: the run named, or with `last` the newest
    analysis of this system run the same way — narrowed to the same parties, with the same rules,
    not a what-if (`--assume`). With none stored yet, an empty baseline (every finding is new) and a
    warning that says so, so that a pipeline's first run judges everything rather than failing to start."""
    if ref == LAST:
        newest = like(store, system, parties, rules, 1)
        if not newest:
            narrowed = f" for {', '.join(sorted(parties))}" if parties else ""
            return Findings(system, []), (f"no analysis of '{system}'{narrowed} run this way is stored in "
                                          f"{store.safe_url} yet: every finding counts as new")
        ref = newest[0]["id"]
    data = result(store, store.need(ref, "analysis"))
    return Findings(data.get("system", ""), data["findings"]), None


def like(store: Store, system: str, parties: list[str] | None, rules: list[str] | None, limit: int) -> list[dict[str, Any]]:
    """The newest stored analyses of this system run the same way — narrowed to the same parties,
    with the same rules, not a what-if (`--assume`) — newest first, at most `limit` of them, found
    among the system's newest LOOK_BACK + limit analyses."""
    wanted = (sorted(parties or []), sorted(rules or []))
    return [r for r in store.runs(LOOK_BACK + limit, kind="analysis", target=system)
            if (sorted(r["config"].get("party") or []), sorted(r["config"].get("rule") or [])) == wanted
            and not r["config"].get("assume")][:limit]


def compare(old_run: dict[str, Any], old: dict[str, Any], new_run: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two stored analyses side by side: findings new, fixed and kept, attack paths opened and
    closed, the computed fix before and after, and the regressions among them."""
    changes = diff(old["findings"], new["findings"])
    warning = other_system(Findings(old.get("system", ""), old["findings"]), Findings(new.get("system", ""), new["findings"]))
    was_open = {p["id"] for p in old["paths"] if p["open"]}
    now_open = {p["id"] for p in new["paths"] if p["open"]}
    opened = [p for p in new["paths"] if p["open"] and p["id"] not in was_open]
    closed = [p for p in old["paths"] if p["open"] and p["id"] not in now_open]
    known = {p["id"] for p in old["paths"]}
    regressions = [{"finding": f["id"], "severity": f["severity"], "title": f["title"],
                    "why": "a finding that was not open in the earlier analysis is open now"} for f in changes.new]
    regressions += [{"path": p["id"], "why": ("an attack path that was closed in the earlier analysis is open now"
                                              if p["id"] in known else "a new attack path is open")} for p in opened]
    return {
        "version": 1,
        "kind": "analysis",
        "old": old_run["id"],
        "new": new_run["id"],
        "system": {"old": old.get("system"), "new": new.get("system")},
        "findings": {"new": changes.new, "fixed": changes.fixed, "changed": changes.changed,
                     "unchanged": len(changes.unchanged)},
        "paths": {"opened": [_path(p) for p in opened], "closed": [_path(p) for p in closed],
                  "open": {"old": len(was_open), "new": len(now_open)}},
        "fix": {"old": old["leverage"]["fix"], "new": new["leverage"]["fix"]},
        "regressions": regressions,
        "warnings": [warning] if warning else [],
    }


def _path(p: dict[str, Any]) -> dict[str, Any]:
    return {"id": p["id"], "source": p["source"], "impact": p["impact"]}
