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
            "canary to the listener, a host they do not name; a tool said to return no untrusted output "
            "(`output-trust`) that brought the attacker's page to the model. The analysis takes the fact as "
            "the campaign saw it, so the paths it took away come back.",
    why="The analysis is only as right as the manifest. A tool that reaches a host it was said not to is a "
        "way out nobody counted, one that returns what anyone can write a way in; the evidence wins over "
        "the description.",
    severity="high.",
    who_acts="Whoever runs and configures the component (`operated-by`), else its owner.",
    false_positives="A campaign run against another configuration than the manifest describes: run it again "
                    "against the system as described.",
    references=("OWASP LLM06", "NIST AI 600-1 MS-2.7"),
    fix="Find how the tool did what the manifest says it cannot (reached a host its configuration does not "
        "name, returned a page anyone can write) and fix the configuration, or correct the manifest; until "
        "then the manifest's word does not count.",
)


# What the manifest said, and what the analysis takes instead, by attribute.
SAYS = {"destinations": "sends only to {said}", "output-trust": "returns {said} output"}
TAKEN = {"destinations": "The analysis takes it to send wherever its call says.",
         "output-trust": "The analysis takes its output as untrusted: a way in."}


def check(ctx: Context) -> Iterator[Finding]:
    live = ctx.system.live or {}
    for cid, attributes in sorted(live.get("contradicted", {}).items()):
        if cid not in ctx.system.components:
            continue
        comp = ctx.system.components[cid]
        for attribute, seen in sorted(attributes.items()):
            said = ", ".join(seen["said"]) or "nothing"
            says = SAYS.get(attribute, "has {attribute} {said}").format(attribute=attribute, said=said)
            taken = TAKEN.get(attribute, "The analysis leaves that out.")
            yield Finding(
                rule=RULE.id,
                key=(cid, attribute),
                severity="high",
                title=f"{cid}'s {attribute} did not hold in live test {live.get('run')}",
                explanation=(f"The manifest says {comp.label} {says} (`{attribute}`); the campaign "
                             f"against {live.get('target')} saw otherwise ({seen['why']}). {taken}"),
                recommendation=RULE.fix,
                responsible=(comp.actor,),
                components=(cid,),
            )
