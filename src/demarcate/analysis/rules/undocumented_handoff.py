"""A flow crosses from one party's component to another's and no claim covers either side."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="undocumented-handoff",
    name="Undocumented handoff",
    title="Content crosses from one party to another with no control claimed on either side",
    detects="A flow between components owned by different parties where neither party makes any claim "
            "(provides or relies-on) on a control that applies to either endpoint.",
    why="Handoffs are where each side assumes the other checks the content. Unless one of them says "
        "what it does there, nobody does anything.",
    severity="low.",
    who_acts="Both parties.",
    false_positives="A handoff of content with no security relevance (for example static assets).",
    references=("CSA AICM STA-02",),
    fix="Have one side claim the control that guards the handoff, or state the reliance explicitly.",
)


def check(ctx: Context) -> Iterator[Finding]:
    by_party: dict[str, list] = {}
    for claim in ctx.system.claims:
        if claim.party and claim.kind != "not-applicable":
            by_party.setdefault(claim.party, []).append(claim)
    for flow in ctx.system.flows:
        a, b = ctx.system.components[flow.source], ctx.system.components[flow.target]
        if a.owner == b.owner:
            continue
        parties = {a.owner, b.owner}
        ends = {flow.source: a.kind, flow.target: b.kind}  # type: ignore[attr-defined]
        covered = False
        for claim in (c for p in sorted(parties) for c in by_party.get(p, [])):
            control = ctx.catalog.controls[claim.control]
            for cid, kind in ends.items():
                if kind in control.applies_to and (not claim.scope or cid in claim.scope):
                    covered = True
        if covered:
            continue
        yield Finding(
            rule=RULE.id,
            key=(flow.source, flow.target),
            severity="low",
            title=f"Handoff {flow.source} → {flow.target} is covered by no claim",
            explanation=f"{a.label} ({a.owner}) hands {flow.data or 'content'} to {b.label} ({b.owner}); "
                        "neither party claims a control on either side.",
            recommendation=RULE.fix,
            responsible=tuple(sorted(parties)),
            components=(flow.source, flow.target),
        )
