"""One model context holds private data, reads untrusted content, and has a way out."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, count, listing
from demarcate.analysis.graph import Marked
from demarcate.analysis.paths import AttackPath, reaches_out
from demarcate.analysis.rules._shared import answers_its_user

RULE = Rule(
    id="lethal-trifecta",
    name="Lethal trifecta",
    title="A model context combines private data, untrusted content and a way out",
    detects="A model that can see private data (a confidential or personal source, a tool that reads "
            "private records, secrets in its prompt), takes in untrusted content, and can send data out "
            "(a tool that sends externally, a renderer that fetches URLs, open egress). What a model's own "
            "user types is no leg where the model answers them: they can have it show them what it holds.",
    why="With all three in one context, a single planted instruction is enough to read the private data "
        "and send it out. Removing any one leg removes the class of attack, whatever the model does.",
    severity="critical when an open path takes the data out with no click (a tool, egress, an image or "
             "preview the client loads by itself, code that runs and reaches open egress); high when every open path needs the user to click a "
             "link; medium when every path is closed by controls but the structure remains.",
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
        return "send-external" in (comp.effects or []) and cid not in ctx.fixed_host_tools  # type: ignore[attr-defined]
    if kind == "output-renderer":
        return reaches_out(comp)
    if kind == "network-egress":
        # A way out for what reaches it from something other than a tool that sends only to its own
        # fixed hosts (over-counted where a model reaches it only through such a tool and another
        # component feeds it too: the attack paths, which follow each route, say which is open).
        return comp.policy != "none" and any(  # type: ignore[attr-defined]
            f not in ctx.fixed_host_tools for f in ctx.paths.graph.predecessors(cid))
    return False


def _carries_out(ctx: Context, path: AttackPath) -> bool:
    """Whether the path takes data out: an exfiltration, or code that ran and goes on to an egress
    no allowlist holds (what the code read leaves with it)."""
    if path.impact_kind == "exfiltration":
        return True
    last = path.steps[-1]  # a path ends at an impact: egress there lets traffic out by its policy
    return (path.impact_kind == "code-execution" and ctx.kind(last) == "network-egress"
            and not ctx.effective("INF-NET-03", last))


# The control that takes a component away as a leg: withholding a tool, keeping a renderer's URLs to
# hosts that do not relay, an egress allowlist.
CUT_BY = {"tool": "APP-TOOL-01", "output-renderer": "APP-OUT-04", "network-egress": "INF-NET-03"}

# Components of each leg a finding names (the explanation counts the rest): in a long chain a model
# has thousands of sources upstream, and listing them all made the result quadratic in size.
NAMED = 8


def check(ctx: Context) -> Iterator[Finding]:
    graph = ctx.paths.graph
    models = ctx.components_of("model")
    if not models:
        return
    # Each leg upstream or downstream of every model, and the parties able to cut the legs (who can
    # withhold a tool, keep a renderer's URLs to safe hosts or allowlist an egress, where the settings
    # allow it; else who runs the component), worked out for all models at once: a long chain of
    # models costs no more than a short one.
    owner = {cid: c.acts_on(CUT_BY[c.kind]) if c.configurable is not None and c.kind in CUT_BY  # type: ignore[attr-defined]
             else c.actor for cid, c in ctx.system.components.items()}.__getitem__
    outbound = graph.marked(lambda c: _outbound(ctx, c), down=True)
    private_up, untrusted_up = ctx.private_upstream, ctx.untrusted_upstream

    def from_outside(c: str) -> bool:
        return ctx.is_untrusted_source(c) and ctx.kind(c) != "user-input"

    @functools.cache
    def outside_up() -> Marked:
        """Untrusted content from outside: for a model that answers its user, what that user types is
        no leg, since whatever the model reaches it can be made to show them."""
        return graph.marked(from_outside)

    # The owners of a leg too long to name in full, worked out for every model once it is needed.
    by_owner: dict[str, Marked] = {}

    def owners(leg: str, named: list[str], total: int) -> set[str]:
        if total <= len(named):
            return set(map(owner, named))
        if leg not in by_owner:
            test, down = {"private": (ctx.holds_private_data, False), "untrusted": (ctx.is_untrusted_source, False),
                          "outside": (from_outside, False), "out": (lambda c: _outbound(ctx, c), True)}[leg]
            by_owner[leg] = graph.marked(test, down=down, label=owner)
        return set(by_owner[leg](model))

    for model in models:
        # Private data it reads, or that a tool it calls returns.
        after = [c for c in graph.successors(model) if ctx.holds_private_data(c) and not private_up.reaches(model, c)]
        if not ((private_up.any(model) or after) and untrusted_up.any(model) and outbound.any(model)):
            continue
        untrusted_leg, leg_name = untrusted_up, "untrusted"
        answers = answers_its_user(ctx, model)
        if answers:
            untrusted_leg, leg_name = outside_up(), "outside"
            if not untrusted_leg.any(model):
                continue
        private = sorted({*private_up(model, limit=NAMED), *after})[:NAMED]
        private_total = private_up.count(model) + len(after)
        untrusted = untrusted_leg(model, limit=NAMED)
        out = outbound(model, limit=NAMED)
        # A path from its own user's input takes nothing out that the user could not be shown, where it answers them.
        open_paths = [p for p in ctx.paths.open_through(model) if _carries_out(ctx, p)
                      and not (answers and p.entry == "user-input")]
        if any(not p.needs_click for p in open_paths):
            severity = "critical"
        elif open_paths:
            severity = "high"
        else:
            severity = "medium"
        untrusted_total, out_total = untrusted_leg.count(model), outbound.count(model)
        legs = (owners("private", private_up(model, limit=NAMED), private_up.count(model)) | set(map(owner, after))
                | owners(leg_name, untrusted, untrusted_total) | owners("out", out, out_total))
        responsible = tuple(sorted(p for p in legs if ctx.system.parties[p].role != "model-provider"))
        yield Finding(
            rule=RULE.id,
            key=(model,),
            severity=severity,
            title=f"Lethal trifecta in {model}: private data, untrusted content and a way out",
            explanation=(
                f"{model} can see private data from {listing(private, total=private_total)}; takes in "
                f"untrusted content from {listing(untrusted, total=untrusted_total)}; and can send "
                f"data out through {listing(out, total=out_total)}. "
                f"{count(len(open_paths), 'open exfiltration path')} from outside content "
                f"{'runs' if len(open_paths) == 1 else 'run'} through it."
            ),
            recommendation=RULE.fix,
            responsible=responsible,
            components=(model, *private, *untrusted, *out),
        )
