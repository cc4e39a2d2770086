"""Helpers several rules share (not a rule: the leading underscore keeps it out of discovery)."""

from __future__ import annotations

from demarcate.analysis.context import Context
from demarcate.analysis.paths import AttackPath

INJECTION = ("direct-injection", "indirect-injection")
# Threats that take knowledge of how models behave to defend against.
AI_THREATS = frozenset({
    "direct-injection", "indirect-injection", "jailbreak", "prompt-leakage", "data-exfiltration",
    "excessive-agency", "tool-misuse", "memory-poisoning", "improper-output",
})


def model_has_private_data(ctx: Context, model: str) -> bool:
    key = ("model-has-private-data", model)
    if key not in ctx.memo:
        ctx.memo[key] = ctx.private_upstream.any(model) or any(
            ctx.holds_private_data(c) for c in ctx.paths.graph.successors(model))
    return ctx.memo[key]


def answers_its_user(ctx: Context, model: str) -> bool:
    """Whether a model's answers go back to the person who wrote to it: its output reaches a renderer
    that shows it only to them (not `publishes`). Whatever it holds, that person can have it shown."""
    key = ("answers-its-user", model)
    if key not in ctx.memo:
        comps = ctx.system.components
        ctx.memo[key] = any(ctx.kind(c) == "output-renderer" and not comps[c].publishes  # type: ignore[attr-defined]
                            for c in ctx.paths.graph.successors(model))
    return ctx.memo[key]


def shown_to_attacker(ctx: Context, path: AttackPath) -> list[str]:
    """On a path from the user's own input, the models on it with private data that answer that user:
    the attacker is the user, who can have them show it in an answer, so sending it elsewhere leaks
    nothing more (that they may read it at all is a finding of its own)."""
    if path.entry != "user-input":
        return []
    return [m for m in path.steps if ctx.kind(m) == "model" and model_has_private_data(ctx, m)
            and answers_its_user(ctx, m)]


def leaks_private_data(ctx: Context, path: AttackPath) -> bool:
    """Whether private data can leave on a path to someone who may not read it."""
    shown = shown_to_attacker(ctx, path)
    return any(model_has_private_data(ctx, m) and m not in shown for m in path.steps if ctx.kind(m) == "model")


def path_severity(ctx: Context, path: AttackPath) -> str:
    """How bad an open path is: by what it lets an attacker do, and whether the attacker is a
    signed-in user of the system or anyone who can write to a source it reads."""
    private = leaks_private_data(ctx, path)
    if path.impact_kind == "code-execution":
        severity = "critical"
    elif path.impact_kind == "exfiltration":
        # Whatever carries it out (a tool, egress, an image the chat loads by itself), private data
        # leaves with no one doing anything; a link the user must click lowers it below.
        # Markup that runs in the viewer's page acts with their session whatever the model holds.
        runs = "improper-output" in path.threats and not (
            path.parts and any(c.closes and c.part == "markup" for c in path.controls))
        # A tool that sends in its owner's name to whoever the call names is misused whatever it carries.
        misuse = "tool-misuse" in path.threats
        severity = "critical" if private else "high" if runs or misuse else "medium"
    elif path.impact_kind in ("side-effect", "output"):
        severity = "high"
    else:
        severity = "medium"
    source = ctx.system.components[path.source]
    if path.entry == "user-input" and source.authenticated:  # type: ignore[attr-defined]
        severity = lower(severity)
    if path.needs_click:
        severity = lower(severity)
    if path.impact_kind in ("side-effect", "code-execution") and \
            ctx.system.components[path.acted_on].get("environment") in ("test", "staging"):
        severity = lower(severity)  # what it breaks is a test environment, not production
    return severity


def lower(severity: str) -> str:
    """One severity step down, never below low."""
    return {"critical": "high", "high": "medium", "medium": "low"}.get(severity, severity)


def injection_controls(ctx: Context, layer: str | None = None) -> list[str]:
    return [
        c.id for c in ctx.resp.applicable
        if set(c.mitigates) & set(INJECTION) and (layer is None or c.layer == layer)
    ]


def effective_anywhere(ctx: Context, control_id: str) -> bool:
    """In effect on at least one component it protects (or, protecting none, implemented)."""
    r = ctx.resp[control_id]
    if not r.protected:
        return r.implemented
    return any(ctx.effective(control_id, c) for c in ctx.may_be_in_effect(control_id))


def party_list(ctx: Context, parties: object) -> str:
    return ", ".join(str(p) for p in parties) or "nobody"  # type: ignore[attr-defined]
