"""Failure mode 1: "the model is safe, so we're safe"."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, claim_text, count, listing, severity_rank
from demarcate.analysis.rules._shared import (
    INJECTION,
    effective_anywhere,
    injection_controls,
    path_severity,
)

RULE = Rule(
    id="model-is-safe",
    name="The model is safe, so we're safe",
    title="Prompt-injection defence rests only on the model layer",
    detects="Untrusted content reaches the model and the only injection defences in place, or relied "
            "upon, are the model provider's training; no application-layer injection control is in effect.",
    why="Safety and instruction-hierarchy training lower the odds that a model obeys planted text. They "
        "do not bind it: a well-crafted instruction in a review or a mail still gets followed some of the "
        "time, and the application decides what the model can then do.",
    severity="critical when an open path from untrusted content is critical; otherwise high.",
    who_acts="The application developer.",
    false_positives="None known when the manifest is accurate: the finding only appears when no "
                    "application-layer injection control is claimed or configured.",
    references=("OWASP LLM01", "MITRE ATLAS AML.M0022", "CSA AICM AIS-15"),
    fix="Add application-layer defences: screen retrieved content (APP-IN-03), mark untrusted text "
        "(APP-PRM-02), and constrain what the model can do after reading it (APP-TOOL-02, APP-TOOL-05).",
)


def check(ctx: Context) -> Iterator[Finding]:
    paths = [p for p in ctx.paths.open_paths if p.threats & set(INJECTION)]
    if not paths:
        return
    app = [c for c in injection_controls(ctx, "application")
           if ctx.catalog.controls[c].function in ("prevent", "reduce")]
    if any(effective_anywhere(ctx, c) for c in app):
        return
    model_layer = injection_controls(ctx, "model")
    provided = [c for c in model_layer if ctx.resp[c].providers]
    providers = {p.id for p in ctx.system.parties.values() if p.role == "model-provider"}
    leaning = [c for cid in injection_controls(ctx) for c in ctx.resp[cid].reliances if c.relies_on in providers]
    if not provided and not leaning:
        return
    worst = max((path_severity(ctx, p) for p in paths), key=severity_rank)
    app_parties = tuple(p.id for p in ctx.system.parties.values() if p.role == "application-developer")
    models = tuple(dict.fromkeys(c for p in paths for c in p.steps if ctx.kind(c) == "model"))
    parts = []
    if provided:
        parts.append(f"In place against injection: only model-layer {listing(provided)}, which lower "
                     "likelihood but never stop an attack.")
    if leaning:
        parts.append("Relied upon: " + "; ".join(claim_text(c) for c in leaning) + ".")
    parts.append(f"No application-layer injection control is in effect, and {count(len(paths), 'path')} from "
                 f"untrusted content {'is' if len(paths) == 1 else 'are'} open.")
    yield Finding(
        rule=RULE.id,
        key=models,
        severity="critical" if worst == "critical" else "high",
        title="Injection defence rests on the model provider alone",
        explanation=" ".join(parts),
        recommendation=RULE.fix,
        responsible=app_parties,
        components=models,
        controls=tuple(provided) + tuple(c.control for c in leaning),
        claims=tuple(claim_text(c) for c in leaning),
    )
