"""Credentials or authorisation rules written into the system prompt."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="secret-in-prompt",
    name="Secret in prompt",
    title="The system prompt holds credentials or authorisation rules",
    detects="A system-prompt component with `contains-secrets: true`.",
    why="Whatever is in the prompt can be extracted by a user or by planted text; access rules enforced "
        "by the prompt are enforced by the model's goodwill.",
    severity="high.",
    who_acts="The application developer who runs the prompt (`operated-by`), else its owner.",
    false_positives="None when the attribute is accurate.",
    references=("OWASP LLM07", "MITRE ATLAS AML.M0021"),
    fix="Move credentials to the tool layer and authorisation into code (APP-PRM-01).",
)


def check(ctx: Context) -> Iterator[Finding]:
    for cid in ctx.components_of("system-prompt"):
        comp = ctx.system.components[cid]
        if not comp.contains_secrets:  # type: ignore[attr-defined]
            continue
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity="high",
            title=f"{cid} contains secrets or access rules",
            explanation=f"{comp.label} is marked as holding credentials, keys or authorisation rules.",
            recommendation=RULE.fix,
            responsible=comp.acting(("APP-PRM-01",)),
            components=(cid,),
            controls=("APP-PRM-01",),
        )
