"""A flow crosses from one party's component to another's and no claim covers either side."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="undocumented-handoff",
    name="Undocumented handoff",
    title="Content crosses from one party to another with no control claimed on either side",
    detects="A flow between components run by different parties (`operated-by`, else the owner) where neither party makes any claim "
            "(provides or relies-on) on a control that applies to either endpoint.",
    why="Handoffs are where each side assumes the other checks the content. Unless one of them says "
        "what it does there, nobody does anything.",
    severity="low.",
    who_acts="The parties that run each side (`operated-by`, else the owner).",
    false_positives="A handoff of content with no security relevance (for example static assets).",
    references=("CSA AICM STA-02",),
    fix="Have one side claim the control that guards the handoff, or state the reliance explicitly.",
)


def check(ctx: Context) -> Iterator[Finding]:
    # Which (party, kind) pairs an unscoped claim covers, and which (party, component) a scoped one does.
    by_kind: set[tuple[str, str]] = set()
    by_component: set[tuple[str, str]] = set()
    for claim in ctx.system.claims:
        if not claim.party or claim.kind == "not-applicable":
            continue
        kinds = ctx.catalog.controls[claim.control].applies_to
        if claim.scope:
            by_component.update((claim.party, c) for c in claim.scope if ctx.kind(c) in kinds)
        else:
            by_kind.update((claim.party, k) for k in kinds)
    for flow in ctx.system.flows:
        a, b = ctx.system.components[flow.source], ctx.system.components[flow.target]
        # The parties that run each side (`operated-by`, else the owner) hand content over; a claim by
        # them, or by an owner, covers it.
        if a.actor == b.actor:
            continue
        covered = any(
            (party, ctx.kind(cid)) in by_kind or (party, cid) in by_component
            for party in {a.actor, b.actor, a.owner, b.owner} for cid in (flow.source, flow.target)
        )
        if covered:
            continue
        yield Finding(
            rule=RULE.id,
            key=(flow.source, flow.target),
            severity="low",
            title=f"Handoff {flow.source} → {flow.target} is covered by no claim",
            explanation=f"{a.label} ({a.actor}) hands {flow.data or 'content'} to {b.label} ({b.actor}); "
                        "neither party claims a control on either side.",
            recommendation=RULE.fix,
            responsible=tuple(sorted({a.actor, b.actor})),
            components=(flow.source, flow.target),
        )
