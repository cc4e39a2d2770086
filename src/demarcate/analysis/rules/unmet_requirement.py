"""A control the manifest's `requirements` call for is not in effect where they call for it."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="unmet-requirement",
    name="Unmet requirement",
    title="A control your organisation requires is not in effect",
    detects="A component that a `requirements` entry selects (by kind, id, owner and attribute values) on "
            "which the required control is not in effect: missing, only planned or partial, contradicted by "
            "the configuration, or declared not applicable.",
    why="Some controls an organisation requires everywhere, whatever a given system's attack paths look like "
        "today: a person approves every payment, every model interaction is logged. The analysis judges "
        "paths; a requirement holds each system to the baseline its owners agreed, and the gate keeps it held.",
    severity="as the requirement says (high unless it says otherwise).",
    who_acts="The party the requirement names; otherwise whoever answers for the control on that component "
             "(its owner, when the control falls to it).",
    false_positives="None in the analysis' sense: the requirement is yours. A component that is exempt is "
                    "left out of the requirement's `on`, or its finding is decided in `tracking`.",
    fix="Put the control in effect on the component and claim it with evidence (or show it in the "
        "component's configuration), or narrow the requirement if the component is exempt.",
)


def check(ctx: Context) -> Iterator[Finding]:
    for req in ctx.system.requirements:
        control = ctx.catalog.controls[req.control]
        why = req.why if req.why.endswith((".", "!", "?", ")")) else req.why + "."
        if not control.applies_to:  # a control of the system as a whole (governance): its claims decide
            r = ctx.resp[req.control]
            if not r.implemented:
                status = {"nobody": "provided by nobody", "not-applicable": "declared not applicable"}.get(
                    r.status, r.status)
                yield Finding(
                    rule=RULE.id,
                    key=(req.control,),
                    severity=req.severity,
                    title=f"{req.control} is required and is {status}",
                    explanation=f"Required: {control.title} ({req.control}), for the system as a whole. Why: {why} "
                                f"It is {status}.",
                    recommendation=f"Put {req.control} in place and record a `provides: implemented` claim with "
                                   "evidence.",
                    responsible=(req.party,) if req.party else r.responsible,
                    controls=(req.control,),
                )
            continue
        for cid in ctx.resp[req.control].protected:
            comp = ctx.system.components[cid]
            if not req.on.covers(cid, comp):
                continue
            state = ctx.state(req.control, cid)
            if state.effective:
                continue
            status = {"not-applicable": "declared not applicable"}.get(state.state, state.state)
            because = f" ({state.reason})" if state.reason else ""
            r = ctx.resp[req.control]
            if state.state == "not-applicable" and r.not_applicable is not None and r.not_applicable.not_applicable:
                because = f" (“{r.not_applicable.not_applicable}”)"
            elif state.state == "missing" and r.providers:
                claimants = ", ".join(dict.fromkeys(c.party for c in r.providers if c.party))
                because += (f": {claimants} claim{'s' if ',' not in claimants else ''} it, but no claim covers {cid} "
                            f"(without `scope`, a claim covers its party's own components; if it covers {cid} "
                            "too, name it in the claim's scope)")
            yield Finding(
                rule=RULE.id,
                key=(req.control, cid),
                severity=req.severity,
                title=f"{req.control} is required on {cid} and is {status}",
                explanation=f"Required: {control.title} ({req.control}) on {comp.label}, {comp.owner}'s "
                            f"{comp.kind}. Why: {why} On {cid} it is {status}{because}.",  # type: ignore[attr-defined]
                recommendation=f"Put {req.control} in effect on {cid} and claim it with evidence, or narrow "
                               "the requirement if this component is exempt.",
                responsible=(req.party,) if req.party else state.parties or (comp.owner,),
                components=(cid,),
                controls=(req.control,),
            )
