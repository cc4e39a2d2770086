"""A control claimed or configured as in effect that a stored campaign got past."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="claim-refuted",
    name="Claim refuted by a live test",
    title="A control said to be in effect did not hold when the running application was attacked",
    detects="With `check --evidence RUN|last`: a control that a party claims (or whose configuration "
            "shows it) in effect, which a probe of the stored campaign got past. It is then taken as not in "
            "effect: the attack paths it closed open again.",
    why="A claim is a statement; a campaign is evidence. When the two disagree, the evidence wins, and "
        "the party that made the claim has to say why the control did not act.",
    severity="high.",
    who_acts="The parties who claim the control (or own the component whose configuration shows it).",
    false_positives="A campaign run against another configuration than the manifest describes (other lab "
                    "switches, another deployment): run it again against the system as described.",
    references=("OWASP LLM01", "NIST AI 600-1 MS-2.7"),
    fix="Find why the control did not act on the probe (the evidence names the case), fix it, and run the "
        "campaign again; until then, the claim does not count.",
)


def check(ctx: Context) -> Iterator[Finding]:
    live = ctx.system.live or {}
    for cid, why in sorted(live.get("refuted", {}).items()):
        if cid not in ctx.catalog.controls:
            continue
        r = ctx.resp[cid]
        parties = tuple(dict.fromkeys(c.party for c in r.providers if c.party))
        configured = [c for c in r.protected if ctx.state(cid, c).state == "contradicted"
                      and ctx.state(cid, c).reason.startswith("refuted by")]
        if cid in live.get("refuted_on", {}):
            # Got past on some components alone (a tool that ran without its gate): those who claim it
            # there answer for it, and a claim on the others stands.
            parties = tuple(p for p in dict.fromkeys(p for c in configured for p in ctx.state(cid, c).parties)
                            if p in parties)
            if not configured:
                continue
        if not parties and not configured:
            continue  # nobody says it is in effect: the open paths already say so
        owners = tuple(dict.fromkeys(ctx.system.components[c].actor for c in configured))
        who = parties or owners
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity="high",
            title=f"{cid} did not hold in live test {live.get('run')}",
            explanation=(f"{', '.join(who)} {'claim' if parties else 'configure'} {cid} ({r.control.title})"
                         + (f" on {', '.join(configured)}" if configured else "")
                         + f"; the campaign against {live.get('target')} got past it ({why}). It is taken as not "
                           "in effect, so the paths it closed are open again."),
            recommendation=RULE.fix,
            responsible=who,
            components=tuple(configured),
            controls=(cid,),
        )
