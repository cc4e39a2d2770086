"""The answer a report leads with: what is open, who must act, what the fix is, and whether the live
test agreed. The HTML report's first screen is this, and nothing else needs reading to act on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from demarcate.analysis.check import Result

# A party row's findings count only these, the ones a lead acts on first.
URGENT = ("critical", "high")


@dataclass
class PartyVerdict:
    id: str
    label: str
    role: str
    open: int = 0  # open findings that name the party first
    urgent: dict[str, int] = field(default_factory=dict)  # of them, critical and high
    fix: list[str] = field(default_factory=list)  # controls of the fix the party can put in effect
    refuted: list[str] = field(default_factory=list)  # by the first campaign
    verified: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    @property
    def acts(self) -> bool:
        return bool(self.open or self.fix or self.refuted)


@dataclass
class LiveRun:
    label: str
    run: str
    target: str
    rate: float | None
    low: float
    high: float
    n: int
    notes: list[str]  # where the campaign did not test the system the manifest describes


@dataclass
class Verdict:
    headline: str
    fix: list[dict[str, Any]]
    parties: list[PartyVerdict]
    live: list[LiveRun]

    @property
    def acting(self) -> list[PartyVerdict]:
        return [p for p in self.parties if p.acts]


def verdict(result: Result, campaigns: Sequence[tuple[str, dict[str, Any]]] = ()) -> Verdict:
    """`campaigns`: (label, campaign) pairs, the campaign as `run_campaign` returns it, the one that
    tests the manifest as written first (its refuted and verified claims are the parties')."""
    from demarcate.testing.run import configuration_notes

    system = result.system
    lev = result.leverage
    parties = {pid: PartyVerdict(pid, p.label, p.role) for pid, p in system.parties.items()}
    for f in result.open_findings():
        owner = f.responsible[0] if f.responsible else None
        if owner in parties:
            parties[owner].open += 1
            if f.severity in URGENT:
                parties[owner].urgent[f.severity] = parties[owner].urgent.get(f.severity, 0) + 1
    for cid in lev.fix:
        for pid in lev.responsible.get(cid, []):
            if pid in parties:
                parties[pid].fix.append(cid)
    live = []
    for i, (label, campaign) in enumerate(campaigns):
        overall = campaign["summary"].get("overall") or {}
        live.append(LiveRun(label, campaign["run"], campaign["target"], overall.get("rate"), overall.get("low", 0.0),
                            overall.get("high", 0.0), overall.get("n", 0),
                            configuration_notes(system, campaign.get("config") or {}, result.context.resp)))
        if i == 0:
            for pid, states in (campaign["summary"].get("parties") or {}).items():
                if pid in parties:
                    parties[pid].refuted = list(states.get("refuted", []))
                    parties[pid].verified = list(states.get("verified", []))
                    parties[pid].untested = list(states.get("untested", []))
    fix = [{"control": cid, "title": system.catalog.controls[cid].title, "layer": system.catalog.controls[cid].layer,
            "responsible": lev.responsible.get(cid, []), "closes": lev.paths_closed.get(cid, 0), "closing": lev.closing(cid)} for cid in lev.fix]
    ordered = sorted(parties.values(), key=lambda p: (not p.acts, -sum(p.urgent.values()), -p.open, p.id))
    return Verdict(_headline(result), fix, ordered, live)


def _headline(result: Result) -> str:
    paths, lev = result.paths, result.leverage
    open_paths = len(paths.open_paths)
    counts = result.open_counts()
    urgent = counts["critical"] + counts["high"]
    if open_paths:
        said = f"{open_paths:,} open attack path{'s' if open_paths != 1 else ''}"
        if lev.fix:
            said += (f"; {', '.join(lev.fix)} close{'s' if len(lev.fix) == 1 else ''} "
                     f"{lev.closes:,} of them")
        else:
            said += "; no enforced catalog control closes them"
    else:
        said = "No open attack path"
    if urgent:
        said += f". {urgent:,} critical or high finding{'s' if urgent != 1 else ''} open"
    elif not open_paths:
        said += ", and no critical or high finding open"
    return said + "."


def after_the_fix(campaign: dict[str, Any], fixed: Result) -> list[str]:
    """A campaign run with the fix in effect, told in the analysis's terms: which goals still
    succeed, what each amounts to, and the finding that answers for it, so that the static and the
    live numbers can be read together."""
    from demarcate.testing.goals import GOALS

    still: dict[str, int] = {}
    for r in campaign["results"]:
        if r.get("outcome") == "succeeded":
            still[r["goal"]] = still.get(r["goal"], 0) + 1
    if not still:
        return ["  no probe succeeds any more"]
    lines = ["  still succeeding after the fix:"]
    for goal, n in sorted(still.items(), key=lambda kv: -kv[1]):
        found = GOALS.get(goal)
        lines.append(f"    {n} {goal}: {found.means if found and found.means else goal}")
    if not any(GOALS[g].attack_path for g in still if g in GOALS):
        lines.append("  no exfiltration succeeds: what the analysis calls open attack paths is closed live too")
    also = [a.finding for a in fixed.leverage.also if a.finding.startswith("over-privileged-credential")]
    if "wide-lookup" in still and also:
        lines.append(f"  the analysis lists it beside the fix: {', '.join(also)} (APP-TOOL-03)")
    return lines
