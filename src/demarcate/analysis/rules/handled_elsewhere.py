"""Failure mode 3: "security is handled elsewhere"."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, claim_text, count
from demarcate.analysis.rules._shared import INJECTION, injection_controls

RULE = Rule(
    id="handled-elsewhere",
    name="Security is handled elsewhere",
    title="No party provides an application-layer injection control; each relies on another",
    detects="Not one application-layer control against prompt injection is provided by anyone, while "
            "parties state that they rely on each other for injection defences.",
    why="Each party believes another covers prompt injection, so the highest-risk layer, where the "
        "prompts, retrieval and tools are assembled, ends up with no defence at all.",
    severity="critical when paths from untrusted content are open; otherwise high.",
    who_acts="Every party named in the reliances, to agree who owns which injection control; the "
             "application developer to implement them.",
    false_positives="None known: the finding restates the manifest's own claims.",
    references=("OWASP LLM01", "CSA AICM AIS-15", "CSA AICM STA-02"),
    fix="Agree in the manifest which party provides each application-layer injection control "
        "(APP-IN-02, APP-IN-03, APP-PRM-02, APP-TOOL-05) and record them as `provides` claims.",
)


def check(ctx: Context) -> Iterator[Finding]:
    # Governance (reviewing prompt templates, say) does not defend against an injection in flight.
    app = [c for c in injection_controls(ctx, "application")
           if ctx.catalog.controls[c].function in ("prevent", "reduce")]
    if any(ctx.resp[c].providers for c in app):
        return
    reliances = [cl for cid in injection_controls(ctx) for cl in ctx.resp[cid].reliances]
    if not reliances:
        return
    open_paths = [p for p in ctx.paths.open_paths if p.threats & set(INJECTION)]
    parties = tuple(dict.fromkeys(p for cl in reliances for p in (cl.party, cl.relies_on) if p))
    yield Finding(
        rule=RULE.id,
        key=("application",),
        severity="critical" if open_paths else "high",
        title="Prompt injection is everyone's assumption and nobody's control",
        explanation=(
            "No party provides any application-layer injection control. Instead: "
            + "; ".join(claim_text(c) for c in reliances)
            + f". {count(len(open_paths), 'path')} from untrusted content {'is' if len(open_paths) == 1 else 'are'} open."
        ),
        recommendation=RULE.fix,
        responsible=parties,
        controls=tuple(dict.fromkeys(c.control for c in reliances)),
        claims=tuple(claim_text(c) for c in reliances),
    )
