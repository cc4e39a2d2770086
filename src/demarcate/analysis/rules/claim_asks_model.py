"""An enforced control a party provides by asking a model: a prompt, or a classifier."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, count, listing

RULE = Rule(
    id="claim-asks-model",
    name="Enforced control provided by a model's judgement",
    title="A party provides an enforced control by a prompt or a classifier",
    detects="A `provides` claim on a control meant to be enforced outside the model (a check on tool "
            "arguments, an allowlist, a confirmation) that says a prompt or a classifier does the work "
            "(`by: prompt` or `by: classifier`): a system prompt that tells the model whom it may email, a "
            "tool description that says read-only, a guard model that decides what is an instruction.",
    why="The model can be influenced: text that reaches it can argue past any instruction it was given, "
        "and a classifier asked to tell instructions from data is itself a model. Such a defence lowers "
        "the odds and closes nothing; the attack paths it sits on stay open, reduced.",
    severity="high when it sits on an open attack path it would close if it were enforced; medium "
             "otherwise.",
    who_acts="The party making the claim.",
    false_positives="The claim's `by` is wrong (the check is in code after all): correct it.",
    references=("OWASP LLM01", "OWASP LLM06", "OWASP ASI01"),
    fix="Enforce it where the model cannot reach: a check in code on the tool's arguments, a setting or "
        "policy the agent cannot change, a person who approves what they can see; or record the claim as "
        "partial.",
)


def check(ctx: Context) -> Iterator[Finding]:
    for cid, r in ctx.resp.by_control.items():
        if not r.providers or not ctx.asks_model(cid):
            continue
        components = [c for c in ctx.covered(cid) if c in r.protected_set and ctx.state(cid, c).by_model]
        if not components:
            continue
        on = set(components)
        paths = [p for p in ctx.paths.open_paths
                 if any(c.id == cid and c.could_close and on.intersection(c.components) for c in p.controls)]
        parties = tuple(dict.fromkeys(p for comp in components for p in ctx.state(cid, comp).parties))
        ways = sorted({claim.by or "" for claim in r.providers if claim.asks_model})
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity="high" if paths else "medium",
            title=f"{cid} is provided by {' or '.join(f'a {w}' for w in ways)}: it lowers the odds and closes nothing",
            explanation=(f"{listing(parties)} {'provides' if len(parties) == 1 else 'provide'} {cid} "
                         f"({r.control.title}) on {listing(components)} by {' or '.join(f'a {w}' for w in ways)}, "
                         "which asks a model to tell instructions from data. "
                         + (f"{count(len(paths), 'open attack path')} (for example {paths[0].id}) would close "
                            "with it enforced; as it is, they stay open, reduced." if paths else
                            "It closes no attack path here; any it stands on stays open.")),
            recommendation=RULE.fix,
            responsible=parties,
            components=tuple(components),
            controls=(cid,),
        )
