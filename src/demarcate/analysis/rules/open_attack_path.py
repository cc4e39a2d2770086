"""Untrusted content can reach an impact through a model with nothing on the way that stops it."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule
from demarcate.analysis.paths import PathControl
from demarcate.analysis.rules._shared import party_list, path_severity

RULE = Rule(
    id="open-attack-path",
    name="Open attack path",
    title="Untrusted content reaches an impact through the model with no control in effect",
    detects="A route from an untrusted source (user input, a document store outsiders write to, a tool "
            "returning outside content, shared memory) through a model to a side-effecting tool, a "
            "renderer that fetches URLs, network egress or persistent memory, on which no application- "
            "or infrastructure-layer preventive control is in effect.",
    why="Models follow instructions they find in their context. Whoever can write to a source on this "
        "route can make the model act on the impact; safety training makes that less likely, never impossible.",
    severity="critical for code execution, or for private data leaving through a tool or egress; high for "
             "other side effects, markup, and private data leaving through rendering; one step lower when "
             "the attacker must be a signed-in user of the system.",
    who_acts="The parties responsible for the controls that could close the path, application team first "
             "where it holds most of them.",
    false_positives="A flow that exists in the manifest but cannot carry instructions in practice (for "
                    "example a source whose content is never shown to the model). Fix the manifest, or "
                    "mark the finding as false-positive in `tracking`.",
    references=("OWASP LLM01", "OWASP LLM06", "OWASP ASI01", "MITRE ATLAS AML.M0030"),
    fix="Put one preventive control in effect on any hop of the path; `leverage` shows the smallest set "
        "that closes every path at once.",
)


def check(ctx: Context) -> Iterator[Finding]:
    # Paths share their PathControl objects, so each control's words are written once.
    closing: dict[PathControl, str] = {}
    lowering: dict[PathControl, str] = {}
    hop: dict[PathControl, str] = {}
    for path in ctx.paths.open_paths:
        candidates = [c for c in path.controls if c.could_close]
        reducers = [c for c in path.controls if not c.could_close and c.status in ("implemented", "partial")]
        holders: dict[str, int] = {}
        for c in candidates:
            for p in c.parties:
                holders[p] = holders.get(p, 0) + 1
        responsible = tuple(sorted(holders, key=lambda p: (-holders[p], p)))
        route = " → ".join(path.steps)
        source = ctx.system.components[path.source]
        impact = ctx.system.components[path.impact]
        lines = [
            f"{source.label} ({path.entry}, untrusted) reaches {impact.label} ({path.impact_kind}) "
            f"by {route}.",
        ]
        if candidates:
            lines.append("Controls on the path that could close it, none in effect: " + "; ".join(
                closing.get(c) or closing.setdefault(
                    c, f"{c.id} on {', '.join(c.components)} ({c.status}, {party_list(ctx, c.parties)})")
                for c in candidates) + ".")
        else:
            lines.append("No catalog control acts on this path: it needs a control of your own.")
        if reducers:
            lines.append("Lowering likelihood only: " + "; ".join(
                lowering.get(c) or lowering.setdefault(c, f"{c.id} ({c.layer} layer, {c.status}, {party_list(ctx, c.parties)})")
                for c in reducers) + ".")
        best = sorted(candidates, key=lambda c: (c.status != "contradicted", c.layer != "application", c.id))[:3]
        rec = ("Close one hop: " + "; or ".join(
            hop.get(c) or hop.setdefault(c, f"{c.id} on {', '.join(c.components)} ({party_list(ctx, c.parties)})")
            for c in best) + ".") if best else RULE.fix
        yield Finding(
            rule=RULE.id,
            key=(path.id,),
            severity=path_severity(ctx, path),
            title=f"Open path ({path.impact_kind}): {route if len(path.steps) <= 6 else path.source + ' → … → ' + path.impact}",
            explanation=" ".join(lines),
            recommendation=rec,
            responsible=responsible,
            components=path.steps,
            controls=tuple(c.id for c in candidates),
            hops=path.steps,
        )
