"""A party changes prompts, tools or retrieval sources without security review."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, listing

RULE = Rule(
    id="speed-pressure",
    name="Speed pressure",
    title="Prompts, tools or retrieval sources change without security review",
    detects="A party marked `security-review: false` that owns a system prompt, tools, retrieval or "
            "memory: the parts whose changes open or close injection paths.",
    why="A new tool, a wider retrieval source or a reworded prompt can open a path the last review "
        "closed. Shipping them unreviewed is how boundaries blur under delivery pressure.",
    severity="high when the party owns components on an open attack path; medium otherwise.",
    who_acts="That party, with whoever runs security review.",
    false_positives="Review done under another name; set `security-review: true`.",
    references=("CSA AICM CCC-02", "OWASP LLM01"),
    fix="Route changes to prompts, tools and retrieval sources through security review, and re-run the "
        "security tests on each (APP-PRM-03, APP-TST-02).",
)

AI_PARTS = ("system-prompt", "tool", "retriever", "data-source", "memory")


def check(ctx: Context) -> Iterator[Finding]:
    on_paths = {c for p in ctx.paths.open_paths for c in p.steps}
    by_owner: dict[str, list[str]] = {}
    for cid, comp in ctx.system.components.items():
        if ctx.kind(cid) in AI_PARTS:
            by_owner.setdefault(comp.owner, []).append(cid)
    for party in ctx.system.parties.values():
        if party.security_review is not False:
            continue
        owned = by_owner.get(party.id, [])
        if not owned:
            continue
        hot = [c for c in owned if c in on_paths]
        yield Finding(
            rule=RULE.id,
            key=(party.id,),
            severity="high" if hot else "medium",
            title=f"{party.id} ships AI changes without security review",
            explanation=f"{party.label} changes {listing(owned)} without security review"
                        + (f"; {listing(hot)} sit on open attack paths." if hot else "."),
            recommendation=RULE.fix,
            responsible=(party.id,),
            components=tuple(owned),
            controls=("APP-PRM-03", "APP-TST-02"),
        )
