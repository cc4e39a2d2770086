"""A party relies on another for a control the other does not provide."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, listing
from demarcate.analysis.rules._shared import effective_anywhere

RULE = Rule(
    id="assumption-chain",
    name="Assumption chain",
    title="A party relies on another for a control that nobody at the end of the chain provides",
    detects="A `relies-on` claim whose chain (A relies on B, B relies on C, …) ends at a party that does "
            "not provide the control, or comes back to a party already in it.",
    why="Each party believes the control exists because another has it. Nobody does, and nobody will "
        "notice until the attack succeeds: the assumption chain is the first way responsibility blurs.",
    severity="high for preventive controls at the application or infrastructure layer; medium for "
             "detective ones, or when the end of the chain provides it only partly or as planned; low "
             "for controls that only lower likelihood.",
    who_acts="The party at the end of the chain (to provide it) and the party the preset assigns it to — "
             "in a portfolio, those of the preset's parties that take part in a chain or own what it "
             "is about.",
    false_positives="A control provided outside the manifest (another team, a contract); add that party "
                    "and its `provides` claim.",
    references=("CSA AICM STA-02", "CSA AICM SEF-07"),
    fix="Either the relied-upon party provides the control (and says so with a `provides` claim and "
        "evidence), or the relying party provides it itself.",
)


def _chain(ctx: Context, control: str, start: str, first: str) -> tuple[list[str], str]:
    """Follow reliances from `start`; return the parties in order and how the chain ends."""
    r = ctx.resp[control]
    chain = [start, first]
    while True:
        current = chain[-1]
        claim = r.provided_by(current)
        if claim is not None:
            return chain, claim.provides or "planned"
        nxt = r.relied_by(current)
        if nxt is None or not nxt.relies_on:
            return chain, "nobody"
        if nxt.relies_on in chain:
            chain.append(nxt.relies_on)
            return chain, "loop"
        chain.append(nxt.relies_on)


def check(ctx: Context) -> Iterator[Finding]:
    for cid, r in ctx.resp.by_control.items():
        if not r.reliances:
            continue
        relied_on = {o.relies_on for o in r.reliances}
        starts = [c for c in r.reliances if c.party not in relied_on] or list(r.reliances)
        chains = [(claim, *_chain(ctx, cid, claim.party or "", claim.relies_on or "")) for claim in starts]
        broken = [(claim, chain, end) for claim, chain, end in chains if end != "implemented"]
        if not broken or (effective_anywhere(ctx, cid) and all(end == "implemented" for _, _, end in chains)):
            continue
        control = r.control
        if control.function == "prevent" and control.layer in ("application", "infrastructure"):
            severity = "high"
        elif control.function in ("prevent", "detect"):
            severity = "medium"
        else:
            severity = "low"
        if all(end in ("partial", "planned") for _, _, end in broken) and severity != "low":
            severity = "medium" if severity == "high" else "low"
        described = [_described(chain, end, claim.assumption) for claim, chain, end in broken]
        # In a portfolio many teams make the same assumption: one line per chain beyond its start.
        groups: dict[tuple[tuple[str, ...], str, str], list[str]] = {}
        for claim, chain, end in broken:
            groups.setdefault((tuple(chain[1:]), end, claim.assumption or ""), []).append(chain[0])
        heads = [([listing(starts, 3), *rest], end, said) for (rest, end, said), starts in groups.items()]
        lines = [_described(chain, end, said) for chain, end, said in heads]
        titles = list(dict.fromkeys(" → ".join(chain) for chain, _, _ in heads))
        involved = {p for _, chain, _ in broken for p in chain}
        about, owners = ctx.concerning(cid, involved)
        involved.update(owners)
        ends = [chain[-1] for _, chain, _ in broken]
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity=severity,
            title=f"{cid} is assumed, not provided: {listing(titles, 3, '; ')}",
            explanation=f"{control.title}. " + listing(lines, 5, "; ") + ".",
            recommendation=RULE.fix,
            responsible=tuple(dict.fromkeys([*ends, *([p for p in r.responsible if p in involved] or r.responsible)])),
            components=tuple(about),
            controls=(cid,),
            claims=tuple(described),
        )


def _described(chain: list[str], end: str, assumption: str | None) -> str:
    outcome = {"nobody": f"{chain[-1]} does not provide it",
               "loop": f"{chain[-1]} relies back on a party already in the chain",
               "partial": f"{chain[-1]} provides it only partly",
               "planned": f"{chain[-1]} has it only planned"}[end]
    said = f" (assumption: “{assumption}”)" if assumption else ""
    return f"{' → '.join(chain)}: {outcome}{said}"
