"""Failure mode 2: "we secured the infrastructure"."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, count, listing

RULE = Rule(
    id="infrastructure-only",
    name="We secured the infrastructure",
    title="Infrastructure is hardened while untrusted input drives side-effecting tools unchecked",
    detects="Infrastructure-layer controls are in place, yet an open path carries untrusted content "
            "through the model to a tool with side effects, and no application-layer control on that "
            "path is in effect.",
    why="Hardened containers and network policy protect the host, not what the application lets the "
        "model do with its legitimate tools. The attack uses the tools exactly as designed.",
    severity="critical when the tool executes code; otherwise high.",
    who_acts="The application developer, with the infrastructure operator informed.",
    false_positives="A tool whose effects are harmless in practice; correct its `effects` in the manifest.",
    references=("OWASP LLM06", "OWASP ASI02", "MITRE ATLAS AML.M0029"),
    fix="Gate or constrain the tools at the application layer: confirmation for irreversible actions "
        "(APP-TOOL-02), argument checks (APP-OUT-02), least privilege per tool (APP-TOOL-01).",
)


def check(ctx: Context) -> Iterator[Finding]:
    infra = [c.id for c in ctx.resp.applicable if c.layer == "infrastructure" and ctx.resp[c.id].implemented]
    if not infra:
        return
    tool_paths = [p for p in ctx.paths.open_paths
                  if any(ctx.kind(s) == "tool" for s in p.steps[1:]) and p.impact_kind != "output"]
    if not tool_paths:
        return
    # One finding per team that runs open tools (their operator, else their owner): in a portfolio
    # each team gates its own.
    by_owner: dict[str, dict[str, list]] = {}
    for p in tool_paths:
        for step in p.steps[1:]:
            if ctx.kind(step) == "tool":
                by_owner.setdefault(ctx.system.components[step].actor, {}).setdefault(step, []).append(p)
    infra_parties = {p for c in infra for p in ctx.resp[c].owners}
    for owner, found in by_owner.items():
        tools = tuple(found)
        n = len({p.id for ps in found.values() for p in ps})
        execs = any("execute-code" in (ctx.system.components[t].effects or []) for t in tools)  # type: ignore[attr-defined]
        yield Finding(
            rule=RULE.id,
            key=tools,
            severity="critical" if execs else "high",
            title="Infrastructure hardened, tools left open to injected instructions",
            explanation=(
                f"In place at the infrastructure layer: {listing(infra)}. Yet {count(n, 'open path')} "
                f"{'carries' if n == 1 else 'carry'} untrusted content to {listing(tools)} (run by {owner}) with no application-layer "
                "control in effect."
            ),
            recommendation=RULE.fix,
            responsible=(owner, *sorted(infra_parties - {owner})),
            components=tools,
            controls=tuple(infra),
        )
