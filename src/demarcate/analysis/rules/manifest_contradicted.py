"""What the manifest says of a component that a stored campaign showed to be otherwise."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="manifest-contradicted",
    name="Manifest contradicted by a live test",
    title="The manifest describes a component otherwise than a campaign against the running system saw it",
    detects="With `check --evidence RUN|last`: a fact of the manifest that a probe of the stored campaign "
            "showed wrong: a tool said to send only to its `destinations` whose call carried the case's "
            "canary to the listener, a host they do not name. The analysis leaves the fact out, so the paths "
            "it took away come back.",
    why="The analysis is only as right as the manifest. A tool that reaches a host it was said not to is a "
        "way out nobody counted; the evidence wins over the description.",
    severity="high.",
    who_acts="Whoever runs and configures the component (`operated-by`), else its owner.",
    false_positives="A campaign run against another configuration than the manifest describes: run it again "
                    "against the system as described.",
    references=("OWASP LLM06", "NIST AI 600-1 MS-2.7"),
    fix="Find how the tool reached a host its configuration does not name and fix the configuration, or "
        "correct the manifest; until then the manifest's word does not count.",
)


def check(ctx: Context) -> Iterator[Finding]:
    live = ctx.system.live or {}
    for cid, attributes in sorted(live.get("contradicted", {}).items()):
        if cid not in ctx.system.components:
            continue
        comp = ctx.system.components[cid]
        for attribute, seen in sorted(attributes.items()):
            said = ", ".join(seen["said"]) or "nothing"
            says = f"sends only to {said}" if attribute == "destinations" else f"has {attribute} {said}"
            yield Finding(
                rule=RULE.id,
                key=(cid, attribute),
                severity="high",
                title=f"{cid}'s {attribute} did not hold in live test {live.get('run')}",
                explanation=(f"The manifest says {comp.label} {says} (`{attribute}`); the campaign "
                             f"against {live.get('target')} saw otherwise ({seen['why']}). The analysis leaves "
                             "that out."),
                recommendation=RULE.fix,
                responsible=(comp.actor,),
                components=(cid,),
            )
