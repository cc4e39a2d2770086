"""One model context holds private data, reads untrusted content, and has a way out."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, count, listing

RULE = Rule(
    id="lethal-trifecta",
    name="Lethal trifecta",
    title="A model context combines private data, untrusted content and a way out",
    detects="A model that can see private data (a confidential or personal source, a tool that reads "
            "private records, secrets in its prompt), takes in untrusted content, and can send data out "
            "(a tool that sends externally, a renderer that fetches URLs, open egress).",
    why="With all three in one context, a single planted instruction is enough to read the private data "
        "and send it out. Removing any one leg removes the class of attack, whatever the model does.",
    severity="critical when an open path leaves through a tool or egress; high when only rendering is "
             "open; medium when every path is closed by controls but the structure remains.",
    who_acts="The application team that assembles the context and grants the tools.",
    false_positives="Private data and the way out may sit in separate turns the manifest does not show; "
                    "if so, split the model component per context.",
    references=("OWASP LLM01", "OWASP LLM02", "OWASP LLM06", "MITRE ATLAS AML.M0030"),
    fix="Take away one leg: keep untrusted content out of contexts that hold private data, remove or gate "
        "the outbound tool, or stop rendering and egress from reaching arbitrary hosts.",
)


def _outbound(ctx: Context, cid: str) -> bool:
    comp = ctx.system.components[cid]
    kind = comp.kind  # type: ignore[attr-defined]
    if kind == "tool":
        return "send-external" in (comp.effects or [])  # type: ignore[attr-defined]
    if kind == "output-renderer":
        return bool(comp.images or comp.links or comp.raw_html)  # type: ignore[attr-defined]
    if kind == "network-egress":
        return comp.policy != "none"  # type: ignore[attr-defined]
    return False


def check(ctx: Context) -> Iterator[Finding]:
    graph = ctx.paths.graph
    for model in ctx.components_of("model"):
        upstream = ctx.upstream(model)
        around = upstream | set(graph.successors(model))
        private = sorted(c for c in around if ctx.holds_private_data(c))
        untrusted = sorted(c for c in upstream if ctx.is_untrusted_source(c))
        out = sorted(c for c in graph.descendants(model) if _outbound(ctx, c))
        if not (private and untrusted and out):
            continue
        open_paths = [p for p in ctx.paths.open_through(model) if p.impact_kind == "exfiltration"
                      and p.entry != "user-input"]
        if any(ctx.kind(c) in ("tool", "network-egress") for p in open_paths for c in p.steps):
            severity = "critical"
        elif open_paths:
            severity = "high"
        else:
            severity = "medium"
        legs = set(private) | set(untrusted) | set(out)
        owners = {ctx.system.components[c].owner for c in legs}
        responsible = tuple(sorted(p for p in owners if ctx.system.parties[p].role != "model-provider"))
        yield Finding(
            rule=RULE.id,
            key=(model,),
            severity=severity,
            title=f"Lethal trifecta in {model}: private data, untrusted content and a way out",
            explanation=(
                f"{model} can see private data from {listing(private)}; takes in untrusted content from "
                f"{listing(untrusted)}; and can send data out through {listing(out)}. "
                f"{count(len(open_paths), 'open exfiltration path')} from outside content "
                f"{'runs' if len(open_paths) == 1 else 'run'} through it."
            ),
            recommendation=RULE.fix,
            responsible=responsible,
            components=(model, *private, *untrusted, *out),
        )
