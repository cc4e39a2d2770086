"""A control claimed in place that the component's own configuration contradicts."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="claim-contradicted",
    name="Claim contradicted by configuration",
    title="A party claims a control that the component's configuration shows is not in effect",
    detects="A `provides` claim (implemented or partial) on a component whose attributes say the "
            "opposite: a confirmation gate claimed on a tool with `confirmation: none`, an egress "
            "allowlist claimed on `policy: open`, a URL allowlist that includes a host relaying arbitrary URLs.",
    why="The claim is what people read in the review; the configuration is what the attacker meets. An "
        "allowlisted image proxy that fetches any URL carries data out as well as no allowlist at all.",
    severity="high.",
    who_acts="The party making the claim.",
    false_positives="The manifest's attributes are out of date; correct them.",
    references=("OWASP LLM05", "OWASP LLM06"),
    fix="Make the configuration match the claim, or downgrade the claim to what is really in place.",
)


def check(ctx: Context) -> Iterator[Finding]:
    for cid, r in ctx.resp.by_control.items():
        if not r.providers or not r.control.configured_by:
            continue  # only controls that component attributes can show can be contradicted by them
        for comp in ctx.covered(cid):
            if comp not in r.protected_set:
                continue
            state = ctx.state(cid, comp)
            if state.state != "contradicted":
                continue
            yield Finding(
                rule=RULE.id,
                key=(cid, comp),
                severity="high",
                title=f"{cid} is claimed on {comp}, but its configuration says otherwise",
                explanation=f"{', '.join(state.parties)} claims {cid} ({r.control.title}); {comp} has {state.reason}.",
                recommendation=RULE.fix,
                responsible=state.parties,
                components=(comp,),
                controls=(cid,),
            )
