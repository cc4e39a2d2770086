"""The agent can change its own tool configuration or confirmation rules."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule

RULE = Rule(
    id="self-approvable-action",
    name="Self-approvable action",
    title="The agent can change its own tools, approval rules or runtime configuration",
    detects="A tool marked `self-configurable` (the agent can edit its own tool settings or confirmation "
            "rules) or a runtime with `agent-writable-config`, without APP-TOOL-07 or INF-RT-01 in effect.",
    why="Every other gate is void if the agent can switch it off. Public cases: an agent writing a new "
        "tool-server entry into its own config, which then ran at once; an agent editing the container "
        "configuration that confined it.",
    severity="critical when untrusted content reaches the model; high otherwise; medium for a tool whose "
             "every call already waits for a person's approval (`confirmation: user` or `admin`).",
    who_acts="The party that operates the tool or runtime (`operated-by`), else its owner.",
    false_positives="None known when the attribute is accurate.",
    references=("OWASP LLM06", "OWASP ASI05", "MITRE ATLAS AML.M0029"),
    fix="Make tool settings, approval rules and runtime configuration read-only to the agent; changes go "
        "through a person outside the conversation (APP-TOOL-07, INF-RT-01).",
)


def check(ctx: Context) -> Iterator[Finding]:
    graph = ctx.paths.graph
    untrusted_models = {m for m in ctx.components_of("model") if ctx.untrusted_upstream.any(m)}
    models = set(ctx.components_of("model"))
    for cid in ctx.components_of("tool", "runtime"):
        comp = ctx.system.components[cid]
        if ctx.kind(cid) == "tool":
            flagged, control = bool(comp.self_configurable), "APP-TOOL-07"  # type: ignore[attr-defined]
            reach = set(graph.predecessors(cid))
        else:
            flagged, control = bool(comp.agent_writable_config), "INF-RT-01"  # type: ignore[attr-defined]
            reach = models
        if not flagged or ctx.effective(control, cid):
            continue
        exposed = bool(reach & untrusted_models)
        if ctx.kind(cid) != "tool":
            what = "write the configuration of the runtime that confines it"
        elif comp.switches_approvals is None:  # type: ignore[attr-defined]
            what = "change its own settings and confirmation rules"
        elif comp.switches_approvals:  # type: ignore[attr-defined]
            what = f"change its own settings and the confirmation of {', '.join(comp.switches_approvals)}"  # type: ignore[attr-defined]
        else:  # what starts, what runs at each step, what it is told: no approval it runs under
            what = "change its own settings"
        approved = ctx.kind(cid) == "tool" and comp.confirmation in ("user", "admin")  # type: ignore[attr-defined]
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity="medium" if approved else "critical" if exposed else "high",
            title=f"The agent can {what} ({cid})",
            explanation=f"Through {comp.label}, the model can {what}"
                        + (", and untrusted content reaches that model." if exposed else ".")
                        + (f" Each change waits for approval ({comp.confirmation}), which a convincing "  # type: ignore[attr-defined]
                           "injected request can still win." if approved else ""),
            recommendation=RULE.fix,
            responsible=comp.acting((control,)),
            components=(cid,),
            controls=(control,),
        )
