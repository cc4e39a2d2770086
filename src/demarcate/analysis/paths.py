"""Attack paths: every route from untrusted content, through a model, to an impact.

The graph is the manifest's components and flows. A path starts at an untrusted source (user
input, a document store outsiders write to, a tool returning outside content, memory other users
write), passes through at least one model, and ends at an impact: a tool with side effects, a
renderer that fetches URLs or runs markup, network egress, or a write to persistent memory. When
an impact flows on into another impact (an email tool into open egress), the path goes on too.

A path is closed when an application- or infrastructure-layer `prevent` control is in effect on
one of its hops. Model-layer safety training lowers likelihood and never closes a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from demarcate.analysis.context import Context

MAX_DEPTH = 12
MAX_PATHS = 20_000
MAX_EXPANSIONS = 2_000_000
CLOSING_LAYERS = ("application", "infrastructure")


@dataclass(frozen=True)
class Impact:
    kind: str  # exfiltration | code-execution | side-effect | output | memory-write
    threats: frozenset[str]


@dataclass(frozen=True)
class PathControl:
    id: str
    layer: str
    function: str
    status: str  # the best state over the path's hops it applies to
    parties: tuple[str, ...]
    components: tuple[str, ...]
    reason: str = ""

    @property
    def closes(self) -> bool:
        return self.function == "prevent" and self.layer in CLOSING_LAYERS and self.status in (
            "implemented", "configured")

    @property
    def could_close(self) -> bool:
        return self.function == "prevent" and self.layer in CLOSING_LAYERS


@dataclass(frozen=True)
class AttackPath:
    source: str
    impact: str
    steps: tuple[str, ...]
    entry: str  # user-input | documents | reviews | email | web | tool-output | memory | ...
    impact_kind: str
    threats: frozenset[str]
    controls: tuple[PathControl, ...]

    @property
    def id(self) -> str:
        return ">".join(self.steps)

    @property
    def open(self) -> bool:
        return not any(c.closes for c in self.controls)

    @property
    def closed_by(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.controls if c.closes)

    @property
    def candidates(self) -> tuple[str, ...]:
        """Controls not yet in effect whose implementation would close this path."""
        return tuple(c.id for c in self.controls if c.could_close and not c.closes)


@dataclass
class PathAnalysis:
    graph: nx.DiGraph
    paths: list[AttackPath]
    bounded: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def open_paths(self) -> list[AttackPath]:
        return [p for p in self.paths if p.open]


def build_graph(ctx: Context) -> nx.DiGraph:
    graph = nx.DiGraph()
    for cid, comp in ctx.system.components.items():
        graph.add_node(cid, kind=comp.kind, owner=comp.owner)  # type: ignore[attr-defined]
    for flow in ctx.system.flows:
        graph.add_edge(flow.source, flow.target, data=flow.data)
    return graph


def entry_of(ctx: Context, cid: str) -> str:
    comp = ctx.system.components[cid]
    kind = comp.kind  # type: ignore[attr-defined]
    if kind == "data-source":
        return str(comp.content)  # type: ignore[attr-defined]
    return {"tool": "tool-output"}.get(kind, kind)


def impact_of(ctx: Context, cid: str, source_kind: str) -> Impact | None:
    comp = ctx.system.components[cid]
    kind = comp.kind  # type: ignore[attr-defined]
    if kind == "tool":
        effects = set(comp.effects or [])  # type: ignore[attr-defined]
        if "execute-code" in effects:
            return Impact("code-execution", frozenset({"code-execution", "excessive-agency", "tool-misuse"}))
        if "send-external" in effects:
            return Impact("exfiltration", frozenset({"data-exfiltration", "tool-misuse"}))
        if "configure" in effects or comp.self_configurable:  # type: ignore[attr-defined]
            return Impact("side-effect", frozenset({"excessive-agency", "tool-misuse", "self-modification"}))
        if effects & {"write", "financial"}:
            return Impact("side-effect", frozenset({"excessive-agency", "tool-misuse"}))
        return None
    if kind == "output-renderer":
        if comp.raw_html or comp.format == "html":  # type: ignore[attr-defined]
            return Impact("output", frozenset({"improper-output", "data-exfiltration"}))
        # A user who injects into their own chat only attacks their own browser.
        if (comp.images or comp.links) and source_kind != "user-input":  # type: ignore[attr-defined]
            return Impact("exfiltration", frozenset({"data-exfiltration"}))
        return None
    if kind == "network-egress":
        return None if comp.policy == "none" else Impact("exfiltration", frozenset({"data-exfiltration"}))  # type: ignore[attr-defined]
    if kind == "memory" and comp.persistent:  # type: ignore[attr-defined]
        return Impact("memory-write", frozenset({"memory-poisoning"}))
    return None


def analyse_paths(ctx: Context, max_depth: int = MAX_DEPTH, max_paths: int = MAX_PATHS,
                  max_expansions: int = MAX_EXPANSIONS) -> PathAnalysis:
    graph = build_graph(ctx)
    result = PathAnalysis(graph, [])
    succ = {n: sorted(graph.successors(n)) for n in graph.nodes}
    sources = sorted(c for c in ctx.system.components if ctx.is_untrusted_source(c))
    found: list[tuple[str, tuple[str, ...], list[Impact]]] = []

    expansions = 0
    for source in sources:
        source_kind = ctx.kind(source)
        entry_threat = "direct-injection" if source_kind == "user-input" else "indirect-injection"
        # Depth-first over simple paths. Frame: (node, path so far, passed a model?, impacts met)
        stack: list[tuple[str, tuple[str, ...], bool, tuple[Impact, ...]]] = [(source, (source,), False, ())]
        while stack and not result.bounded:
            node, path, seen_model, impacts = stack.pop()
            expansions += 1
            children = []
            for nxt in succ[node]:
                if nxt in path:
                    continue
                if len(path) >= max_depth:
                    result.notes.append(f"paths longer than {max_depth} hops were not followed")
                    continue
                nxt_model = seen_model or ctx.kind(nxt) == "model"
                impact = impact_of(ctx, nxt, source_kind) if nxt_model else None
                if impacts and impact is None:
                    continue  # past an impact, only a further impact extends the path
                children.append((nxt, (*path, nxt), nxt_model, (*impacts, impact) if impact else impacts))
            if impacts and not children:
                found.append((entry_threat, path, list(impacts)))
            stack.extend(reversed(children))
            if len(found) >= max_paths or expansions >= max_expansions:
                result.bounded = True
                result.notes.append(
                    f"enumeration stopped at {len(found)} paths and {expansions} steps; "
                    "further paths exist but were not listed")
        if result.bounded:
            break
    result.notes = sorted(set(result.notes))

    for entry_threat, steps, impacts in found:
        impact_threats = frozenset().union(*(i.threats for i in impacts))
        threats = impact_threats | {entry_threat}
        result.paths.append(AttackPath(
            source=steps[0],
            impact=steps[-1],
            steps=steps,
            entry=entry_of(ctx, steps[0]),
            impact_kind=impacts[0].kind,
            threats=threats,
            controls=_path_controls(ctx, steps, entry_threat, impact_threats),
        ))
    return result


def _path_controls(ctx: Context, steps: tuple[str, ...], entry_threat: str,
                   impact_threats: frozenset[str]) -> tuple[PathControl, ...]:
    """The controls that act on this path. Before the model, a hop's controls count against the
    injection; at the model, against everything; after it, against what the impact does."""
    first_model = next(i for i, cid in enumerate(steps) if ctx.kind(cid) == "model")
    hops: dict[str, list[str]] = {}
    for i, cid in enumerate(steps):
        if i < first_model:
            threats = frozenset({entry_threat})
        elif i == first_model:
            threats = impact_threats | {entry_threat}
        else:
            threats = impact_threats
        for control in ctx.controls_for_kind(ctx.kind(cid)):
            if control.function not in ("prevent", "reduce") or not threats.intersection(control.mitigates):
                continue
            if ctx.resp.applies(control):
                hops.setdefault(control.id, []).append(cid)
    rank = {"implemented": 6, "configured": 6, "partial": 4, "contradicted": 3, "planned": 2,
            "not-applicable": 1, "missing": 0}
    out = []
    for control_id, components in hops.items():
        control = ctx.catalog.controls[control_id]
        states = [ctx.state(control_id, cid) for cid in components]
        best = max(states, key=lambda s: rank[s.state])
        parties = best.parties or ctx.resp[control_id].responsible
        out.append(PathControl(control_id, control.layer, control.function, best.state, tuple(parties),
                               tuple(components), best.reason))
    return tuple(out)
