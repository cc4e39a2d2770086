"""Untrusted content can reach an impact through a model with nothing on the way that stops it."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule
from demarcate.analysis.paths import PathControl, turns
from demarcate.analysis.rules._shared import lower, party_list, path_severity, shown_to_attacker

RULE = Rule(
    id="open-attack-path",
    name="Open attack path",
    title="Untrusted content reaches an impact through the model with no control in effect",
    detects="A route from an untrusted source (user input, a document store outsiders write to, a tool "
            "returning outside content, shared memory) through a model to a side-effecting tool, a "
            "renderer that fetches URLs, network egress or persistent memory, on which no enforced "
            "preventive control is in effect where it can still stop the attack. Probabilistic controls "
            "in effect (screening, guard models, delimiters, safety training) leave it open and reduced.",
    why="Models follow instructions they find in their context. Whoever can write to a source on this "
        "route can make the model act on the impact; safety training makes that less likely, never impossible.",
    severity="critical for code execution, or for private data leaving by any way out (a tool, egress, an "
             "image or preview the client loads by itself) to someone who may not read it (on a path from the "
             "user's own input, not what a model that answers them reaches: they can have it shown); high for "
             "other side effects, a tool that sends in its owner's name, and markup; one step lower when "
             "the attacker must be a signed-in user of the system, when data leaves only if the user clicks "
             "a link, and when probabilistic controls in effect reduce it (each once; never below low).",
    who_acts="The parties responsible for the controls that could close the path, application team first "
             "where it holds most of them.",
    false_positives="A flow that exists in the manifest but cannot carry instructions in practice (for "
                    "example a source whose content is never shown to the model). Fix the manifest, or "
                    "mark the finding as false-positive in `tracking`.",
    references=("OWASP LLM01", "OWASP LLM06", "OWASP ASI01", "MITRE ATLAS AML.M0030"),
    fix="Put one enforced control in effect on a hop of the path (one for each way out of a renderer that "
        "both runs markup and loads or links URLs); `leverage` shows the smallest set "
        "that closes every path at once.",
)


def check(ctx: Context) -> Iterator[Finding]:
    # Paths share their PathControl objects, so each control's words are written once.
    closing: dict[PathControl, str] = {}
    lowering: dict[PathControl, str] = {}
    hop: dict[PathControl, str] = {}
    # For memory that is a way in because the model writes it: the first open path that writes it.
    writes: dict[str, str] = {}
    for written in ctx.paths.open_paths:
        if written.source != written.impact and ctx.kind(written.impact) == "memory":
            writes.setdefault(written.impact, written.id)
    sent_on = turns(ctx)  # renderers whose words a click sends on as the user's
    for path in ctx.paths.open_paths:
        candidates = [c for c in path.controls if c.could_close]
        reducers = [c for c in path.controls if c.reduces]
        holders: dict[str, int] = {}
        for c in candidates:
            for p in c.parties:
                holders[p] = holders.get(p, 0) + 1
        responsible = tuple(sorted(holders, key=lambda p: (-holders[p], p)))
        route = " → ".join(path.steps)
        source = ctx.system.components[path.source]
        impact = ctx.system.components[path.impact]
        why = ctx.untrusted_because(path.source)
        lines = [
            f"{source.label} ({path.entry}, untrusted{': ' + why if why else ''}) reaches {impact.label} ({path.impact_kind}"
            f"{', with a click' if path.needs_click else ''}) by {route}.",
        ]
        if path.impact_kind == "exfiltration" and (shown := shown_to_attacker(ctx, path)):
            lines.append(f"The attacker here is {source.label}'s own user, and "
                         f"{' and '.join(ctx.system.components[m].label for m in shown)} "
                         f"{'answer' if len(shown) > 1 else 'answers'} them: whatever private data "
                         f"{'they reach' if len(shown) > 1 else 'it reaches'} can be shown to them in an "
                         "answer, so sending it out leaks nothing more; the harm is what is sent, and where.")
        clicked = sent_on.clicked(path.steps, path.first_impact) if path.needs_click and sent_on else ""
        if clicked:
            at = path.steps[path.steps.index(clicked) + 1]
            lines.append(f"{ctx.system.components[clicked].label} sends the model's words to "
                         f"{ctx.system.components[at].label} as the user's next message when clicked "
                         f"({_SENDS[sent_on[clicked]]}): the injection arrives as the user's own words, with the "
                         "user's rights.")
        writer = writes.get(path.source)
        if writer and not ctx.system.components[path.source].shared_across_users:  # type: ignore[attr-defined]
            lines.append(f"The model writes {path.source} after reading untrusted content ({writer}), so an "
                         "injection saved there comes back in every later session: one chain across sessions.")
        if path.impact_kind in ("side-effect", "code-execution"):  # on the tool's environment, if it says
            acted_on = ctx.system.components[path.acted_on]
            if environment := acted_on.get("environment"):
                lines.append(f"{acted_on.label} acts on {environment}.")
        if candidates:
            lines.append("Enforced controls on the path that could close it, none in effect: " + "; ".join(
                closing.get(c) or closing.setdefault(c, _described(ctx, c)) for c in candidates) + ".")
        else:
            lines.append("No enforced catalog control acts on this path: it needs one of your own, "
                         "or a change to the design (remove the source, the tool or the way out).")
        parts = [c for c in path.controls if c.part] if path.parts else []
        if parts:
            halfway = [c for c in parts if c.closes]
            lines.append(f"{impact.label} has two ways out, each closed only by its own control: "
                         f"{' and '.join(f'{_WAYS[w]} ({_ids(parts, w)})' for w in path.parts)}"
                         + (f"; in effect, closing one only: {', '.join(c.id for c in halfway)}" if halfway else "")
                         + ".")
        if reducers:
            lines.append("It is reduced, not closed: " + "; ".join(
                lowering.get(c) or lowering.setdefault(c, _lowering(ctx, c)) for c in reducers)
                + " lower the odds but can be talked past.")
        baseline = [c for c in path.controls if c.layer == "model" and c.status in ("implemented", "partial")]
        if baseline:
            lines.append("The model's own training, the baseline this severity assumes: " + "; ".join(
                lowering.get(c) or lowering.setdefault(
                    c, f"{c.id} ({c.assurance}, {c.layer} layer, {c.status}, {party_list(ctx, c.parties)})")
                for c in baseline) + ".")
        void = [c for c in path.controls if c.function == "prevent" and c.assurance == "enforced"
                and not c.could_close]
        late = [c for c in void if not c.void]
        if void != late:
            lines.append("Does not count here: " + "; ".join(
                f"{c.id} on {', '.join(c.components)} ({c.void})" for c in void if c.void) + ".")
        if late:
            lines.append(f"Too late to close it ({path.impact_kind} has happened by then): "
                         + ", ".join(f"{c.id} on {', '.join(c.components)}" for c in late) + ".")
        best = sorted(candidates, key=lambda c: (c.status != "contradicted", c.layer != "application", c.id))[:3]
        if path.parts and len(path.needs) > 1 and all(path.needs):
            ways = [w for w in path.parts if any(c.part == w and not c.closes for c in parts)]
            rec = "Close both ways out: " + "; and ".join(
                f"{' or '.join(_named(ctx, c, hop) for c in candidates if c.part == w)} for {_WAYS[w]}"
                for w in ways) + "."
        elif best:
            rec = "Close one hop: " + "; or ".join(_named(ctx, c, hop) for c in best) + "."
        else:
            rec = ("No catalog control closes it: put an enforced control of your own on one of its hops "
                   "(`custom-controls`, docs/manifest.md), or change the design so that "
                   + (f"what the model reads from {source.label} cannot be written back to it: keep it out of "
                      "the contexts that write it, or take the writing out of the model's reach."
                      if path.source == path.impact else
                      f"what {source.label} says cannot reach {impact.label} through the model: keep it out of "
                      f"that context, or take {impact.label} out of the model's reach."))
        severity = path_severity(ctx, path)
        yield Finding(
            rule=RULE.id,
            key=(path.id,),
            severity=lower(severity) if path.state == "reduced" else severity,
            title=f"Open path ({path.impact_kind}): {route if len(path.steps) <= 6 else path.source + ' → … → ' + path.impact}",
            explanation=" ".join(lines),
            recommendation=rec,
            responsible=responsible,
            components=path.steps,
            controls=tuple(c.id for c in candidates),
            hops=path.steps,
        )


_WAYS = {"markup": "the markup it runs", "urls": "the URLs it loads or links"}
_SENDS = {"markup": "a button or form in the answer's markup, which may send other words than it shows",
          "suggestions": "a suggested reply the application offers"}


def _named(ctx: Context, c: PathControl, said: dict[PathControl, str]) -> str:
    """A control where it acts and who would put it there (paths share them: written once)."""
    return said.get(c) or said.setdefault(c, f"{c.id} on {', '.join(c.components)} ({party_list(ctx, c.parties)})")


def _lowering(ctx: Context, c: PathControl) -> str:
    """A control that lowers a path's odds: how it holds, or, for an enforced one provided only by a
    prompt or a classifier (it could close the path), what it rests on."""
    how = f"{c.status} by a model's judgement" if c.could_close else f"{c.assurance}, {c.layer} layer, {c.status}"
    return f"{c.id} ({how}, {party_list(ctx, c.parties)})"


def _ids(controls: list[PathControl], part: str) -> str:
    return ", ".join(c.id for c in controls if c.part == part)


def _described(ctx: Context, c: PathControl) -> str:
    # A candidate that lowers the odds is one provided only by a prompt or a classifier: say so.
    why = f": {c.reason}" if c.reason and (c.reduces or c.status in ("contradicted", "missing", "partial", "planned")) else ""
    return f"{c.id} on {', '.join(c.components)} ({c.status}{why}; {party_list(ctx, c.parties)})"
