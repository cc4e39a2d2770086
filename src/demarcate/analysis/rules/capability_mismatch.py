"""Controls that need AI-specific knowledge sit with staff not trained on AI threats."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, listing
from demarcate.analysis.rules._shared import AI_THREATS

RULE = Rule(
    id="capability-mismatch",
    name="Capability mismatch",
    title="AI-specific controls are owned by a party whose security staff are not trained on AI threats",
    detects="A party marked `ai-security-training: false` that provides, or by the preset owns, "
            "preventive or detective controls against AI-specific threats (injection, exfiltration "
            "through the model, tool misuse, unsafe output).",
    why="Security teams who understand firewalls but not how models follow planted text tend to "
        "configure these controls for the threats they know, and miss the one that matters.",
    severity="high when one of those controls could close an open attack path; medium otherwise.",
    who_acts="That party, with AI-threat training or a partner who has it.",
    false_positives="Training done but not recorded; set `ai-security-training: true`.",
    references=("CSA AICM HRS-14", "OWASP AI Exchange #SEC EDUCATE"),
    fix="Train the party's security staff on AI-specific threats, or pair the control with a team that is.",
)


def check(ctx: Context) -> Iterator[Finding]:
    closing = {c for p in ctx.paths.open_paths for c in p.candidates}
    for party in ctx.system.parties.values():
        if party.ai_security_training is not False:
            continue
        controls = [
            c.id for c in ctx.resp.applicable
            if party.id in ctx.resp[c.id].responsible and c.function in ("prevent", "detect")
            and c.layer in ("application", "infrastructure") and AI_THREATS.intersection(c.mitigates)
        ]
        if not controls:
            continue
        hot = [c for c in controls if c in closing]
        yield Finding(
            rule=RULE.id,
            key=(party.id,),
            severity="high" if hot else "medium",
            title=f"{party.id} owns AI-specific controls without AI-threat training",
            explanation=f"{party.label} is responsible for {listing(controls)} but its security staff are "
                        "not trained on AI-specific threats"
                        + (f"; {listing(hot)} could close open attack paths." if hot else "."),
            recommendation=RULE.fix,
            responsible=(party.id,),
            controls=tuple(controls),
        )
