"""A control provided by, or relied on from, a party that cannot act on what it protects."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, claim_text, listing

RULE = Rule(
    id="misplaced-responsibility",
    name="Misplaced responsibility",
    title="A control sits with a party whose layer does not control the components it protects",
    detects="A `provides` or `relies-on` claim that puts a control on a party whose role cannot act on "
            "any component the control protects, and which owns none of them: a model provider cannot "
            "own your tool permissions or your rendering; an infrastructure operator cannot sanitise "
            "your prompts.",
    why="The source document's lists of what each layer does and does not control are the ground "
        "truth: a party can only implement a control where it has its hands on the component. A claim "
        "against that is an assumption nobody can fulfil.",
    severity="high when the control is relied on and not in effect; medium for a `provides` claim the "
             "party cannot back.",
    who_acts="The party that owns the protected components.",
    false_positives="A provider that really operates the component on your behalf (a hosted guardrail, "
                    "a managed tool gateway): make it the component's owner in the manifest.",
    references=("CSA AICM STA-02", "OWASP LLM01"),
    fix="Move the control to the party that owns the protected components, and record its claim.",
)


def check(ctx: Context) -> Iterator[Finding]:
    kinds = ctx.catalog.kinds
    present = {ctx.kind(c) for c in ctx.system.components}
    for cid, r in ctx.resp.by_control.items():
        # Governance controls are about relationships and decisions, not components.
        if not r.protected or r.control.layer == "usage":
            continue
        found: set[str] = set()  # one finding per party and control: the first claim that shows it
        in_effect_anywhere: bool | None = None
        for claim in (*r.providers, *r.reliances):
            party_id = claim.party if claim.kind == "provides" else claim.relies_on
            party = ctx.system.parties.get(party_id or "")
            if party is None or party.id in found:
                continue
            if claim.scope:
                protected = [c for c in claim.scope if c in r.protected_set]
                owners = {ctx.system.components[c].owner for c in protected}
                protected_kinds = {ctx.kind(c) for c in protected}
            else:
                protected, owners = r.protected, set(r.component_owners)
                protected_kinds = {k for k in r.control.applies_to if k in present}
            if not protected or party.id in owners:
                continue
            if any(party.role in kinds[k].controlled_by for k in protected_kinds):
                continue
            if claim.scope:
                in_effect = any(ctx.effective(cid, c) for c in protected)
            else:  # every unscoped claim on the control is about all it protects
                if in_effect_anywhere is None:
                    in_effect_anywhere = any(ctx.effective(cid, c) for c in protected)
                in_effect = in_effect_anywhere
            found.add(party.id)
            relied = claim.kind == "relies-on"
            severity = "high" if relied and not in_effect else "medium"
            owners = sorted(owners)
            verb = "is relied on for" if relied else "claims to provide"
            yield Finding(
                rule=RULE.id,
                key=(cid, party.id),
                severity=severity,
                title=f"{party.id} ({party.role}) {verb} {cid}, which it cannot implement",
                explanation=(
                    f"{claim_text(claim)}. {cid} protects {listing(protected)}, owned by "
                    f"{', '.join(owners)}; a {party.role} controls none of those kinds "
                    f"({', '.join(sorted(protected_kinds))})."
                ),
                recommendation=f"Make {', '.join(owners)} responsible for {cid}: it owns what the control protects.",
                responsible=tuple(owners),
                components=tuple(protected),
                controls=(cid,),
                claims=(claim_text(claim),),
            )
