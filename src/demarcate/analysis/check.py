"""Run every rule over a system: findings ranked, decisions from `tracking` applied, paths and
the leverage computed. `result_json` is the versioned JSON contract (docs/check-json.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from demarcate.analysis.context import Context
from demarcate.analysis.findings import SEVERITIES, Finding, severity_rank
from demarcate.analysis.leverage import Leverage, OwnFix, also_needed, leverage, own_fix
from demarcate.analysis.paths import AttackPath, PathAnalysis, PathControl, flow_warnings
from demarcate.analysis.rules import RULES
from demarcate.model.errors import Position, Problem, did_you_mean
from demarcate.model.loader import System

CHECK_VERSION = 1


@dataclass
class Result:
    system: System
    context: Context
    findings: list[Finding]
    paths: PathAnalysis
    leverage: Leverage
    warnings: list[Problem] = field(default_factory=list)
    parties: tuple[str, ...] = ()  # when narrowed by `for_parties`: to what these parties must act on
    own: OwnFix | None = None  # when narrowed: what those parties could close by themselves
    rules: tuple[str, ...] = tuple(RULES)  # the rules that ran, in their order

    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.is_open]

    def open_counts(self) -> dict[str, int]:
        """How many open findings there are of each severity, least severe first."""
        counts = dict.fromkeys(SEVERITIES, 0)
        for f in self.open_findings():
            counts[f.severity] += 1
        return counts

    def fails(self, threshold: str) -> bool:
        """Whether an open finding reaches the `--fail-on` level."""
        return any(severity_rank(f.severity) >= severity_rank(threshold) for f in self.open_findings())


def analyse(system: System, rules: list[str] | None = None, *, today: dt.date | None = None) -> Result:
    """`today` decides which tracking decisions have lapsed (their `expires` reached); by default
    the current date."""
    ctx = Context(system)
    today = today or dt.date.today()
    findings: list[Finding] = []
    order = {rid: i for i, rid in enumerate(RULES)}
    for rid, registered in RULES.items():
        if rules is not None and rid not in rules:
            continue
        findings.extend(registered.check(ctx))
    decisions = {d.finding: d for d in system.tracking}
    seen: set[str] = set()
    decided: list[Finding] = []
    lapsed_entries = []
    for f in findings:
        if f.id in seen:
            continue
        seen.add(f.id)
        d = decisions.get(f.id)
        if d is not None:
            lapsed = d.expires is not None and today >= d.expires
            if lapsed:
                lapsed_entries.append(d)
            f = dataclasses.replace(f, status="open" if lapsed else d.decision, decision={
                "decision": d.decision, "justification": d.justification, "ticket": d.ticket,
                "reviewer": d.reviewer, "date": d.date.isoformat() if d.date else None,
                "expires": d.expires.isoformat() if d.expires else None, "lapsed": lapsed})
        decided.append(f)
    decided.sort(key=lambda f: (not f.is_open, -severity_rank(f.severity), order[f.rule], f.id))
    # An entry for a rule left out of this run (`--rule`) is not stale; one naming no rule at all is.
    left_out = set() if rules is None else set(RULES).difference(rules)
    stale = [d for d in system.tracking if d.finding not in seen and d.finding.split(":", 1)[0] not in left_out]
    undecided: dict[str, list[str]] = {}  # by rule: a mistyped id is most likely of its own rule
    for fid in seen.difference(decisions) if stale else ():
        undecided.setdefault(fid.split(":", 1)[0], []).append(fid)
    warnings = flow_warnings(system) + [
        Problem(f"tracking entry '{d.finding}' matches no finding", system.position("decision", d.finding),
                _stale_hint(d.finding, undecided if i < SUGGESTED else {}), level="warning")
        for i, d in enumerate(stale)
    ] + [
        Problem(f"tracking entry '{d.finding}' lapsed on {d.expires}: the finding is open again",
                system.position("decision", d.finding),
                f"review it: renew the decision with a later 'expires' (`demarcate decide '{d.finding}' … "
                "--replace`), or fix the finding", level="warning")
        for d in lapsed_entries
    ]
    paths = ctx.paths
    lev = leverage(ctx, paths.paths)
    lev.also = also_needed(ctx, decided, lev.fix)
    return Result(system, ctx, decided, paths, lev, warnings,
                  rules=tuple(r for r in RULES if rules is None or r in rules))


# Stale tracking entries given the finding they most likely meant: past this many, a portfolio that
# fixed hundreds of tracked findings would spend seconds on suggestions nobody reads.
SUGGESTED = 20


def _stale_hint(finding: str, undecided: dict[str, list[str]]) -> str:
    rule = finding.split(":", 1)[0]
    if rule not in undecided and undecided:
        close = difflib.get_close_matches(rule, list(undecided), n=1, cutoff=0.6)
        rule = close[0] if close else rule
    near = did_you_mean(finding, undecided.get(rule, []))
    remove = f"`demarcate decide '{finding}' --revoke -m …`"
    if near:
        return f"{near} If the finding was fixed, remove the entry: {remove}"
    return f"the finding may be fixed: remove the entry ({remove}), or check the id against `demarcate check`"


def for_parties(result: Result, parties: Collection[str]) -> Result:
    """The part of a result some parties must act on: the findings that name one of them among
    those who must act, and the attack paths that cross a component one of them owns or name one
    of them on a control. The leverage stays the whole system's: it is one fix over every open path.
    A component's operator (`operated-by`) counts as well as its owner."""
    wanted = frozenset(parties)
    theirs = {cid for cid, c in result.system.components.items() if c.owner in wanted or c.actor in wanted}
    paths = [p for p in result.paths.paths
             if theirs.intersection(p.steps) or any(wanted.intersection(c.parties) for c in p.controls)]
    return dataclasses.replace(
        result,
        findings=[f for f in result.findings if wanted.intersection(f.responsible)],
        paths=PathAnalysis(result.paths.graph, paths, result.paths.bounded, result.paths.notes, result.paths.limits),
        parties=tuple(dict.fromkeys(parties)),
        own=own_fix(result.paths.paths, wanted, lambda cid, control: result.system.components[cid].acts_on(control)),
    )


def finding_position(system: System, finding: Finding) -> Position | None:
    """Where in the manifest a finding points: its first component, else a claim on its first
    control, else its first responsible party, else the system's name."""
    for cid in finding.components:
        if ("component", cid) in system.where:
            return system.where[("component", cid)]
    for control in finding.controls:
        if ("control-claim", control) in system.where:
            return system.where[("control-claim", control)]
    for party in finding.responsible:
        if ("party", party) in system.where:
            return system.where[("party", party)]
    return system.where.get(("system", "name"))


def _path_json(path: AttackPath, controls: dict[int, dict[str, Any]],
               verified: Collection[str] = (), verified_on: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """One path in the contract's shape. Paths share PathControl objects; `controls` keeps one
    dict per object, which the encoder then writes wherever it appears."""
    known = controls.get
    data: dict[str, Any] = {
        "id": path.id,
        "source": path.source,
        "impact": path.impact,
        "steps": list(path.steps),
        "entry": path.entry,
        "impact_kind": path.impact_kind,
        "controls": [known(id(c)) or _control_json(c, controls, verified, verified_on or {}) for c in path.controls],
        "open": path.open,
        "state": path.state,
    }
    if not path.open:
        data["closed_by"] = list(path.closed_by)
    elif path.state == "reduced":
        data["reduced_by"] = list(path.reduced_by)
    if path.needs_click:
        data["needs_click"] = True
    return data


def _control_json(c: PathControl, controls: dict[int, dict[str, Any]], verified: Collection[str],
                  verified_on: dict[str, set[str]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": c.id, "layer": c.layer, "party": c.parties[0] if c.parties else None,
        "parties": list(c.parties), "status": c.status, "function": c.function, "assurance": c.assurance}
    if c.status in ("implemented", "configured") and c.id in verified and (
            c.id not in verified_on or not verified_on[c.id].isdisjoint(c.components)):
        data["verified"] = True
    data.update(components=list(c.components), closes=c.closes, reduces=c.reduces)
    if c.function == "prevent" and c.assurance == "enforced" and not c.could_close and not c.void:
        data["too_late"] = True
    if c.void or c.reason:
        data["reason"] = c.void or c.reason
    if c.part:
        data["part"] = c.part
    controls[id(c)] = data
    return data


def finding_json(f: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f.id,
        "rule": f.rule,
        "severity": f.severity,
        "title": f.title,
        "responsible": list(f.responsible),
        "components": list(f.components),
        "controls": list(f.controls),
        "explanation": f.explanation,
        "recommendation": f.recommendation,
        "status": f.status,
    }
    if f.hops:
        data["hops"] = list(f.hops)
    if f.claims:
        data["claims"] = list(f.claims)
    if f.decision:
        data["decision"] = f.decision
    return data


def result_json(result: Result) -> dict[str, Any]:
    lev = result.leverage
    controls: dict[int, dict[str, Any]] = {}
    verified = (result.system.live or {}).get("verified", ())
    verified_on = {c: set(on) for c, on in (result.system.live or {}).get("verified_on", {}).items()}
    return {
        "version": CHECK_VERSION,
        "system": result.system.info.name,
        "preset": result.system.info.preset,
        "findings": [finding_json(f) for f in result.findings],
        "paths": [_path_json(p, controls, verified, verified_on) for p in result.paths.paths],
        "leverage": {
            "fix": lev.fix,
            "closes": lev.closes,
            "open_paths": lev.open_paths,
            "by_layer": lev.by_layer,
            "by_party": lev.by_party,
            "exact": lev.exact,
            "alternatives": lev.alternatives,
            "unclosable": lev.unclosable,
            "responsible": lev.responsible,
            "reduce_only": lev.reduce_only,
            # The findings themselves are above: each entry names one and what it asks for.
            "also": [{"finding": a.finding, "severity": a.severity, "controls": a.controls,
                      "responsible": a.responsible} for a in lev.also],
        },
        # Narrowed to some parties (`--party`): what they could do by themselves; the leverage above
        # stays the whole system's.
        **({"own": {"parties": result.own.parties, "fix": result.own.fix, "closes": result.own.closes,
                    "exact": result.own.exact, "on": result.own.on}} if result.own else {}),
        "summary": {
            "open": result.open_counts(),
            "decided": len(result.findings) - len(result.open_findings()),
            "components": len(result.system.components),
            "findings_per_component": round(len(result.open_findings()) / max(1, len(result.system.components)), 2),
            "paths_bounded": result.paths.bounded,
            "bounds": result.paths.limits,
            "notes": result.paths.notes,
            **({"parties": list(result.parties)} if result.parties else {}),
        },
        "warnings": [str(w) for w in result.warnings],
        **({"evidence": _evidence_json(result.system.live)} if result.system.live else {}),
    }


def _evidence_json(live: dict[str, Any]) -> dict[str, Any]:
    """The stored campaign `check --evidence` used: what it refuted and verified, and where."""
    return {"run": live["run"], "target": live["target"], "same_system": live.get("same_system", True),
            "refuted": live["refuted"], "verified": live["verified"],
            **({"refuted_on": live["refuted_on"]} if live.get("refuted_on") else {}),
            **({"verified_on": live["verified_on"]} if live.get("verified_on") else {}),
            **({"contradicted": live["contradicted"]} if live.get("contradicted") else {})}
