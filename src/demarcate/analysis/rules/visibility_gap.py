"""Nobody can see what the model was told and what it did."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, listing

RULE = Rule(
    id="visibility-gap",
    name="Visibility gap",
    title="Logging does not capture model interactions, or incident responders cannot read it",
    detects="The system has a model (and retrieval, and tools) but no logging captures prompts, "
            "completions, retrievals or tool calls, and no party provides AI-aware logging "
            "(APP-LOG-01, APP-AGT-05); or the parties who would respond to an incident cannot read the "
            "logs that do.",
    why="Infrastructure operators cannot see into model interactions: a gateway log shows that a request "
        "came in, not that a review told the model to mail the customer table out. Without it, an "
        "incident cannot be traced or even noticed.",
    severity="high when tool calls with side effects go unrecorded; medium otherwise.",
    who_acts="The party that runs the logging, the application developers who run a part of the system, "
             "and the deployer.",
    false_positives="Interactions logged by a system the manifest does not show; add it as a logging component.",
    references=("OWASP LLM10", "MITRE ATLAS AML.M0024", "CSA AICM LOG-14"),
    fix="Record prompts, completions, retrievals and tool calls with user attribution (APP-LOG-01, "
        "APP-AGT-05), and give incident responders read access.",
)

NEEDS = {"model": ("prompts", "completions"), "retriever": ("retrievals",), "tool": ("tool-calls",)}


def check(ctx: Context) -> Iterator[Finding]:
    kinds = ctx.kinds_of(ctx.system.components)
    if "model" not in kinds:
        return
    needed = [n for kind, names in NEEDS.items() if kind in kinds for n in names]
    logs = ctx.components_of("logging")
    captured: set[str] = set()
    for log in logs:
        captured |= set(ctx.system.components[log].captures or [])  # type: ignore[attr-defined]
    app_logging = [c for c in ("APP-LOG-01", "APP-AGT-05") if ctx.resp[c].implemented]
    if "APP-LOG-01" in app_logging:
        captured |= {"prompts", "completions", "retrievals", "tool-calls"}
    if "APP-AGT-05" in app_logging:
        captured |= {"tool-calls"}
    missing = [n for n in needed if n not in captured]
    # Who would respond to an incident: the deployer, and the application developers who run a part of
    # this system — not one whose component another party runs here (the maker of a remote agent), but
    # the party that runs an application no developer runs here (a company's deployment of one).
    responders = [*ctx.resp.stand_ins, *(p.id for p in ctx.system.parties.values() if p.role == "deployer" or (
        p.role == "application-developer" and p.id not in ctx.resp.idle_developers))]
    model_logs = [log for log in logs
                  if set(ctx.system.components[log].captures or []) & {"prompts", "completions", "tool-calls"}]  # type: ignore[attr-defined]
    readers: set[str] = set()
    for log in model_logs:
        readers |= set(ctx.system.components[log].readable_by or [])  # type: ignore[attr-defined]
    blind = [p for p in responders if model_logs and p not in readers]
    if not missing and not blind:
        return
    side_effects = any(ctx.kind(c) == "tool" and set(ctx.system.components[c].effects or [])  # type: ignore[attr-defined]
                       - {"read-public", "read-private"} for c in ctx.system.components)
    parts = []
    if missing:
        gap = ", ".join(missing)
        parts.append((f"The logs ({listing(logs)}) do not capture {gap}" if logs else
                      f"Nothing records {gap}: the system has no logging component")
                     + ", and no party provides AI-aware logging")
    if blind:
        parts.append(f"Incident responders {listing(blind)} cannot read the logs that record model interactions")
    owners = tuple(dict.fromkeys([*(ctx.system.components[log].actor for log in logs), *responders]))
    yield Finding(
        rule=RULE.id,
        key=tuple(logs) or ("logging",),
        severity="high" if side_effects and "tool-calls" in missing else "medium",
        title="Model interactions are not visible to those who would respond",
        explanation=". ".join(parts) + ".",
        recommendation=RULE.fix,
        responsible=owners,
        components=tuple(logs),
        controls=("APP-LOG-01", "APP-AGT-05", "INF-LOG-01"),
    )
