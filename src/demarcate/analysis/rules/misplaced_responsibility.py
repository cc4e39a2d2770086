"""A control provided by, or relied on from, a party that cannot act on what it protects."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, claim_text, listing
from demarcate.model.schema import Claim, Party

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
    severity="high when the control is relied on and not in effect on every component a reliance is "
             "about; medium otherwise (a `provides` claim the party cannot back, or a reliance that "
             "happens to be met by someone else's control).",
    who_acts="The party that owns the protected components.",
    false_positives="A provider that really operates the component on your behalf (a hosted guardrail, "
                    "a managed tool gateway): make it the component's owner in the manifest.",
    references=("CSA AICM STA-02", "OWASP LLM01"),
    fix="Move the control to the party that owns the protected components, and record its claim.",
)


def check(ctx: Context) -> Iterator[Finding]:
    kinds = ctx.catalog.kinds
    present = ctx.kinds_of(ctx.system.components)
    for cid, r in ctx.resp.by_control.items():
        # Governance controls are about relationships and decisions, not components.
        if not r.protected or r.control.layer == "usage":
            continue
        # Whether a party can act on what the control protects: for an unscoped claim, judged on
        # everything it protects (once per party); for a scoped one, on its scope.
        can_act: dict[str, bool] = {}
        # By party: the claims that put the control there, each with the components it is about and their owners.
        placed: dict[str, list[tuple[Claim, list[str], Collection[str]]]] = {}
        for claim in (*r.providers, *r.reliances):
            party = ctx.system.parties.get((claim.party if claim.kind == "provides" else claim.relies_on) or "")
            if party is None:
                continue
            owners: Collection[str]
            if claim.scope:
                covered = [c for c in claim.scope if c in r.protected_set]
                owners = {ctx.system.components[c].owner for c in covered}
                # The party that runs a component can act on it too, where its settings provide the control.
                acting = owners | {ctx.system.components[c].acts_on(cid) for c in covered}
                if not covered or _can_act(kinds, party, acting, ctx.kinds_of(covered)):
                    continue
            else:
                able = can_act.get(party.id)
                if able is None:
                    able = can_act[party.id] = _can_act(
                        kinds, party, r.component_owners, {k for k in r.control.applies_to if k in present})
                if able:
                    continue
                covered, owners = ctx.concerning(cid, (claim.party or "", party.id))
            placed.setdefault(party.id, []).append((claim, covered, owners))
        for party_id, claims in placed.items():
            yield _finding(ctx, cid, ctx.system.parties[party_id], claims)


def _can_act(kinds: Any, party: Party, owners: Collection[str], protected_kinds: set[str]) -> bool:
    """A party can act on a control if it owns a component the control protects or its role
    controls one of their kinds."""
    return party.id in owners or any(party.role in kinds[k].controlled_by for k in protected_kinds)


def _finding(ctx: Context, cid: str, party: Party, claims: list[tuple[Claim, list[str], Collection[str]]]) -> Finding:
    """One finding per control and party, however many claims put the control there (in a
    portfolio, every team that relies on the vendor for it): each claim counts for the components
    it is about, and a reliance on a control not in effect on all of them is the high case."""
    protected = list(dict.fromkeys(c for _, covered, _ in claims for c in covered))
    owners = sorted({o for _, _, some in claims for o in some})
    protected_kinds = sorted(ctx.kinds_of(protected))
    reliances = [covered for claim, covered, _ in claims if claim.kind == "relies-on"]
    on = ctx.in_effect(cid)
    unprotected = list(dict.fromkeys(c for covered in reliances for c in covered if c not in on))
    said = [claim_text(claim) for claim, _, _ in claims]
    verb = "is relied on for" if reliances else "claims to provide"
    if len(said) == 1:
        why = f"{said[0]}. "
    else:
        why = f"{len(said)} claims put {cid} on {party.id}: {listing(said, 3, '; ')}. "
    if not unprotected:
        gap = ""
    elif len(unprotected) == len(protected):
        gap = " It is in effect on none of them."
    else:
        gap = f" It is not in effect on {listing(unprotected)}, which a reliance is about."
    return Finding(
        rule=RULE.id,
        key=(cid, party.id),
        severity="high" if unprotected else "medium",
        title=f"{party.id} ({party.role}) {verb} {cid}, which it cannot implement",
        explanation=(
            f"{why}{cid} protects {listing(protected)}, owned by {listing(owners)}; {_article(party.role)} "
            f"{party.role} controls none of those kinds ({', '.join(protected_kinds)}).{gap}"
        ),
        recommendation=f"Make {listing(owners)} responsible for {cid}: it owns what the control protects."
        if len(owners) == 1 else
        f"Make each of {listing(owners)} responsible for {cid} on its own components: they own what the "
        "control protects.",
        responsible=tuple(owners),
        components=tuple(protected),
        controls=(cid,),
        claims=tuple(said),
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
