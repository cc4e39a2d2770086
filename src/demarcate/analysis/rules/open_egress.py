"""The runtime's outbound network is open to any host."""

from __future__ import annotations

from collections.abc import Iterator

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, Rule, listing
from demarcate.analysis.paths import sends_only_to_listed_hosts

RULE = Rule(
    id="open-egress",
    name="Open egress",
    title="Tools and the runtime can reach any host on the internet",
    detects="A network-egress component with `policy: open`, or an allowlist containing a host that "
            "relays arbitrary URLs (or, where a tool sends out to wherever its call says, a service that "
            "delivers to whoever the call names: a mail or chat API, a git host's issues; where a tool runs "
            "code, also one that takes uploads into anyone's account: an API, a package registry), that "
            "tools or the runtime send through, with no egress allowlist (INF-NET-03) in effect.",
    why="Whatever an injected instruction makes a tool fetch or send can go anywhere. An allowlist turns "
        "exfiltration into a blocked, logged connection.",
    severity="high when a tool that sends externally, fetches public pages or executes code flows into it, unless its configuration "
             "fixes the hosts it sends to (`destinations`), which any allowlist here must let through; medium otherwise.",
    who_acts="The infrastructure operator who runs the egress (`operated-by`), else its owner.",
    false_positives="Egress that is filtered by a proxy the manifest does not show; add it.",
    references=("OWASP LLM06", "OWASP LLM02", "MITRE ATLAS AML.M0032"),
    fix="Allow outbound traffic only to the hosts the tools need, none of which relays arbitrary URLs; reach "
        "a service that delivers to whoever the call names through a tool that fixes the recipient, and where "
        "code runs, services that take uploads into anyone's account only through a proxy that sends your own "
        "credential (INF-NET-03).",
)


# Effects of a tool that reaches whatever host its call names: a fetched URL carries data as a sent
# message does.
GOES_ANYWHERE = frozenset({"send-external", "read-public", "execute-code"})


def check(ctx: Context) -> Iterator[Finding]:
    graph = ctx.paths.graph
    for cid in ctx.components_of("network-egress"):
        comp = ctx.system.components[cid]
        if ctx.effective("INF-NET-03", cid) or comp.policy == "none":  # type: ignore[attr-defined]
            continue
        feeders = sorted(graph.predecessors(cid))
        if not feeders:
            continue
        # Open by its policy, or by an allowlist the configuration shows to be no limit (empty, or
        # with a host that relays); a sound allowlist is not open, whatever a claim says of it.
        failing = ctx.failing_checks("INF-NET-03", cid)
        if comp.policy != "open" and not failing:  # type: ignore[attr-defined]
            continue
        # A tool whose configuration fixes where it sends is not narrowed by any allowlist here, which
        # must let those hosts through; what it passes on is the tool's own finding.
        risky = [f for f in feeders if ctx.kind(f) == "tool" and not sends_only_to_listed_hosts(ctx.system.components[f])
                 and GOES_ANYWHERE & set(ctx.system.components[f].effects or [])]  # type: ignore[attr-defined]
        how = "policy: open" if comp.policy == "open" else "; ".join(c.describe(comp) for c in failing)  # type: ignore[attr-defined]
        yield Finding(
            rule=RULE.id,
            key=(cid,),
            severity="high" if risky else "medium",
            title=f"{cid} lets traffic out to any host" if comp.policy == "open" or any(  # type: ignore[attr-defined]
                h.unsafe and not h.uploads for h in comp.allow or ()) else f"{cid} lets what is sent reach anyone",  # type: ignore[attr-defined]
            explanation=f"{comp.label} ({how}) carries traffic from {listing(feeders)}."
                        + (f" {listing(risky)} can send data, fetch any URL or run code." if risky else ""),
            recommendation=RULE.fix,
            responsible=comp.acting(("INF-NET-03",)),
            components=(cid, *feeders),
            controls=("INF-NET-03",),
        )
