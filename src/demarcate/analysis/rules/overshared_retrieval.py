"""A retriever hands whoever asks what only some of them may read."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, listing

RULE = Rule(
    id="overshared-retrieval",
    name="Overshared retrieval",
    title="A retriever returns private data to whoever asks, without checking what each may read",
    detects="A retriever that brings personal data to a model that answers users, confidential data "
            "to one that answers customers or the public, or data whose items each have their own readers "
            "at the source (`per-user-access`: private channels, restricted pages) to anyone, with neither "
            "a per-user permission check (APP-RAG-01) nor an index partitioned per tenant and classification "
            "(APP-RAG-03) in effect: anyone who can ask can read what the index holds, no injection needed. "
            "Other confidential data shown to employees is left alone: most are cleared for most of it (a "
            "coding agent over the repository its developers work in).",
    why="Retrieval runs with the index's rights, not the asker's. An employee asking the HR assistant is "
        "shown colleagues' salaries; a customer asking the support bot, another customer's orders. "
        "Telling the model to keep data to its owner is a request it can be talked out of, not a check.",
    severity="high.",
    who_acts="The party that runs the retriever (`operated-by`), else its owner.",
    false_positives="An index every asker may read in full; declare APP-RAG-01 `not-applicable` with that "
                    "reason, or lower the source's `sensitivity`.",
    references=("OWASP LLM02", "OWASP LLM08", "MITRE ATLAS AML.M0019", "CSA AICM IAM-17"),
    fix="Filter what retrieval returns by the asking user's permissions (APP-RAG-01), or partition the "
        "index so that each asker reaches only what is theirs (APP-RAG-03).",
)

CHECKS = ("APP-RAG-01", "APP-RAG-03")


def check(ctx: Context) -> Iterator[Finding]:
    retrievers = ctx.components_of("retriever")
    if not retrievers:
        return
    graph = ctx.paths.graph
    # Who asks each model, and which models each retriever feeds: for every component at once.
    askers_of = graph.marked(lambda c: ctx.kind(c) == "user-input")
    models_after = graph.marked(lambda c: ctx.kind(c) == "model", down=True)
    # The askers of every model downstream of a component, at once (a long chain has hundreds of each).
    askers_after = graph.gathered({m: askers_of.bits(m) for m in ctx.components_of("model")}, down=True)
    components = ctx.system.components
    for rid in retrievers:
        states = [ctx.state(c, rid) for c in CHECKS]
        if any(s.effective or s.state == "not-applicable" for s in states):
            continue
        private = [c for c in ctx.private_upstream(rid) if ctx.kind(c) == "data-source"]
        askers = askers_of.named(askers_after(rid))
        if not private or not askers:
            continue
        personal = any(components[c].sensitivity == "personal" for c in private)  # type: ignore[attr-defined]
        # What only some may read at the source is overshared by an index that shows it to everyone.
        restricted = [c for c in private if components[c].get("per-user-access")]
        audiences = sorted({components[a].audience for a in askers})  # type: ignore[attr-defined]
        if not personal and not restricted and not {"public", "customers"} & set(audiences):
            continue
        why = f" ({states[0].reason})" if states[0].reason else ""
        if restricted:
            why += (f"; at the source, each item of {listing(restricted)} has its own readers (per-user-access), "
                    "whom the index does not ask")
        yield Finding(
            rule=RULE.id,
            key=(rid,),
            severity="high",
            title=f"{rid} returns private data to whoever asks",
            explanation=(
                f"{components[rid].label} brings {listing(private)} "
                f"({', '.join(sorted({components[c].sensitivity for c in private}))} data) "  # type: ignore[attr-defined]
                f"to {listing(models_after(rid, limit=8), total=models_after.count(rid))}, which answers {listing(askers)} (audience: {', '.join(audiences)}). "
                f"Nothing checks that the person asking may read what comes back{why}."
            ),
            recommendation=RULE.fix,
            responsible=components[rid].acting(("APP-RAG-01",)),
            components=(rid, *private, *askers),
            controls=("APP-RAG-01",),
        )
