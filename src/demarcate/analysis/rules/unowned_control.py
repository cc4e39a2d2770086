"""An applicable control that no party provides."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, count, lower, severity_rank
from demarcate.analysis.rules._shared import path_severity

RULE = Rule(
    id="unowned-control",
    name="Unowned control",
    title="A control that applies here is provided by no party",
    detects="An applicable control that no party provides and no configuration shows in place. Each "
            "control that could close an open attack path is reported on its own; the rest are reported "
            "once per responsible party, so the list stays short.",
    why="A control nobody claims is a control nobody runs. Where it sits on an open path, it is one of "
        "the ways to close it.",
    severity="one step below the worst open path it could close; low for the per-party summary.",
    who_acts="For a control on open paths, the parties those paths name for it (in a portfolio, the teams "
             "whose paths they are); otherwise the party the preset assigns the control to.",
    false_positives="A control provided outside the manifest, or one that does not apply (record it as "
                    "`not-applicable` with the reason). Controls someone relies on are reported by "
                    "assumption-chain instead.",
    references=("CSA AICM STA-02",),
    fix="Decide who provides it, and record a `provides` claim with evidence; or declare it "
        "`not-applicable` with the reason.",
)


# Controls a more specific rule reports with the configuration that shows the gap.
SPECIFIC = {
    "APP-OUT-01": "unsafe-rendering", "APP-OUT-04": "unsafe-rendering", "INF-NET-03": "open-egress",
    "APP-TOOL-03": "over-privileged-credential", "APP-TOOL-07": "self-approvable-action",
    "INF-RT-01": "self-approvable-action", "APP-PRM-01": "secret-in-prompt",
    "APP-LOG-01": "visibility-gap", "APP-AGT-05": "visibility-gap",
}


def check(ctx: Context) -> Iterator[Finding]:
    on_paths = ctx.paths.candidate_use
    rest: dict[str, list[str]] = {}
    for cid, r in ctx.resp.by_control.items():
        if r.status != "nobody" or r.reliances or r.verify_only or cid in SPECIFIC:
            continue
        if r.protected and all(ctx.effective(cid, c) for c in r.protected):
            continue
        if cid in on_paths and any(ctx.effective(cid, c) for c in on_paths[cid].components):
            continue  # in place there, and not enough on some path: the path's finding says why
        if cid in on_paths:
            use = on_paths[cid]
            paths = use.paths
            worst = max((path_severity(ctx, p) for p in paths), key=severity_rank)
            yield Finding(
                rule=RULE.id,
                key=(cid,),
                severity=lower(worst),
                title=f"Nobody provides {cid}: {r.control.title}",
                explanation=(
                    f"{cid} would close {count(len(paths), 'open path')} (for example {paths[0].id}), "
                    f"but no party provides it. {r.default_reason}."
                ),
                recommendation=RULE.fix,
                # Those the open paths name for it, on the components where it would close them.
                responsible=tuple(use.responsible) or r.responsible,
                components=tuple(use.components),
                controls=(cid,),
            )
        elif r.control.function in ("prevent", "detect"):
            # (Not an application developer that runs nothing here: the default parties leave those out.)
            for party in r.responsible or ("nobody",):
                rest.setdefault(party, []).append(cid)
    for party, controls in sorted(rest.items()):
        one = len(controls) == 1
        them = "it" if one else "them"
        assign = ""
        acting: tuple[str, ...] = (party,)
        if party == "nobody":
            roles = sorted({role for c in controls for role in ctx.resp[c].default_roles})
            owner = f"the {' or '.join(roles)} role, which no party in the manifest plays"
            subject = f"{owner},"  # the clause closes before the verb
            # Somebody must still act: whoever owns the system assigns the role to a party.
            acting = ctx.resp.system_owners[:1]
            assign = (f" Until a party plays the {' or '.join(roles)} role, {acting[0]}, who owns the system, "
                      f"must assign {them}." if acting else "")
        else:
            owner = subject = party
        yield Finding(
            rule=RULE.id,
            key=(party,),
            severity="low",
            title=f"{count(len(controls), 'further control')} {'falls' if one else 'fall'} to {owner}, "
                  f"and nobody provides {them}",
            explanation=(
                f"By the preset, {subject} is expected to own {'this applicable control' if one else 'these applicable controls'}, "
                f"and no claim covers {them}: {', '.join(controls)}. "
                f"{'It does not sit' if one else 'None sits'} on an open attack path.{assign}"
            ),
            recommendation=f"Review {them} with `demarcate matrix --status nobody`; claim, plan or declare "
                           "each not applicable." + (" Add a party with the role, or give the controls to "
                                                     "an existing party with `provides` claims." if assign else ""),
            responsible=acting,
            controls=tuple(controls),
        )
