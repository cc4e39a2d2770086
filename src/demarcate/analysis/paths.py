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
from functools import cached_property
from typing import Any, NamedTuple

from demarcate.analysis.context import Context, ControlState
from demarcate.analysis.graph import FlowGraph
from demarcate.model.errors import Problem
from demarcate.model.loader import System
from demarcate.model.schema import Control

# Bounds that keep enumeration linear in the size of the manifest: per source, and overall.
MAX_DEPTH = 12
MAX_PATHS_PER_SOURCE = 500
MAX_EXPANSIONS_PER_SOURCE = 50_000
MAX_PATHS = 1_000_000
CLOSING_LAYERS = ("application", "infrastructure")


class Impact(NamedTuple):
    kind: str  # exfiltration | code-execution | side-effect | output | memory-write
    threats: frozenset[str]


_UNSEEN = Impact("", frozenset())  # a component not yet asked what impact it is


class PathControl(NamedTuple):
    id: str
    layer: str
    function: str
    status: str  # the best state over the path's hops it applies to
    parties: tuple[str, ...]
    components: tuple[str, ...]
    reason: str = ""
    could_close: bool = False  # a preventive application- or infrastructure-layer control
    closes: bool = False  # ... and in effect

    @classmethod
    def of(cls, id: str, layer: str, function: str, status: str, parties: tuple[str, ...],
           components: tuple[str, ...], reason: str = "") -> PathControl:
        could = function == "prevent" and layer in CLOSING_LAYERS
        return cls(id, layer, function, status, parties, components, reason, could,
                   could and status in ("implemented", "configured"))


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

    @cached_property
    def open(self) -> bool:
        return not any(c.closes for c in self.controls)

    @property
    def closed_by(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.controls if c.closes)

    @cached_property
    def candidates(self) -> tuple[str, ...]:
        """Controls not yet in effect whose implementation would close this path."""
        return tuple(c.id for c in self.controls if c.could_close and not c.closes)


@dataclass
class CandidateUse:
    """Where a control not in effect would close open paths: which paths, on which of their
    components it acts, and how many of them name each party for it."""

    paths: list[AttackPath] = field(default_factory=list)
    components: dict[str, None] = field(default_factory=dict)
    parties: dict[str, int] = field(default_factory=dict)

    @property
    def responsible(self) -> list[str]:
        """The parties that would put it in effect (in a portfolio, the teams whose paths they
        are), most paths first."""
        return sorted(self.parties, key=lambda p: (-self.parties[p], p))


def candidate_use(paths: list[AttackPath]) -> dict[str, CandidateUse]:
    """For each control that could close some of these paths but is not in effect: its use."""
    found: dict[str, CandidateUse] = {}
    for path in paths:
        for c in path.controls:
            if c.could_close and not c.closes:
                use = found.get(c.id)
                if use is None:
                    use = found[c.id] = CandidateUse()
                use.paths.append(path)
                use.components.update(dict.fromkeys(c.components))
                for party in c.parties:
                    use.parties[party] = use.parties.get(party, 0) + 1
    return found


@dataclass
class PathAnalysis:
    graph: FlowGraph
    paths: list[AttackPath]
    bounded: bool = False
    notes: list[str] = field(default_factory=list)

    @cached_property
    def open_paths(self) -> list[AttackPath]:
        return [p for p in self.paths if p.open]

    @cached_property
    def candidate_use(self) -> dict[str, CandidateUse]:
        """The open paths' `candidate_use`."""
        return candidate_use(self.open_paths)

    @cached_property
    def _by_component(self) -> dict[str, list[AttackPath]]:
        index: dict[str, list[AttackPath]] = {}
        for p in self.open_paths:
            for c in p.steps:
                index.setdefault(c, []).append(p)
        return index

    def open_through(self, component: str) -> list[AttackPath]:
        """Open paths that pass through (or start or end at) a component."""
        return self._by_component.get(component, [])


def unconnected(system: System) -> list[Problem]:
    """A warning for each component of a kind that carries content — a source, a model, context, an
    impact — with no flow in or out: no attack path can pass through it, and most often a flow was
    left out of the manifest (an untrusted review store that feeds nothing looks safe). Network
    egress is left alone: it is the runtime's way out, there before any tool uses it."""
    linked = {f.source for f in system.flows} | {f.target for f in system.flows}
    kinds = system.catalog.kinds
    return [
        Problem(f"{cid} ({comp.kind}) has no flow in or out, so no attack path passes through it",  # type: ignore[attr-defined]
                system.position("component", cid), "add the flows that carry its content, or remove it",
                level="warning")
        for cid, comp in system.components.items()
        if cid not in linked and comp.kind != "network-egress"  # type: ignore[attr-defined]
        and kinds[comp.kind].graph in ("source", "model", "context", "impact")  # type: ignore[attr-defined]
    ]


def build_graph(ctx: Context) -> FlowGraph:
    return FlowGraph(ctx.system.components, ((f.source, f.target) for f in ctx.system.flows))


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


def analyse_paths(ctx: Context, max_depth: int = MAX_DEPTH, per_source: int = MAX_PATHS_PER_SOURCE,
                  max_expansions: int = MAX_EXPANSIONS_PER_SOURCE, max_paths: int = MAX_PATHS) -> PathAnalysis:
    graph = build_graph(ctx)
    result = PathAnalysis(graph, [])
    succ = {n: sorted(graph.successors(n)) for n in graph.nodes}
    models = frozenset(ctx.components_of("model"))
    # What each component does as an impact: once for attacks by the signed-in user, once for others.
    impacts_by_user: dict[bool, dict[str, Impact | None]] = {True: {}, False: {}}

    sources = sorted(c for c in ctx.system.components if ctx.is_untrusted_source(c))
    # (entry threat, entry, steps, index of the first model, impacts met on the way)
    found: list[tuple[str, str, tuple[str, ...], int, tuple[Impact, ...]]] = []

    for source in sources:
        source_kind = ctx.kind(source)
        entry_threat = "direct-injection" if source_kind == "user-input" else "indirect-injection"
        entry = entry_of(ctx, source)
        impacts_seen = impacts_by_user[source_kind == "user-input"]
        before, expansions = len(found), 0
        # Depth-first over simple paths. Frame: (node, path so far, index of its first model or -1, impacts met)
        stack: list[tuple[str, tuple[str, ...], int, tuple[Impact, ...]]] = [(source, (source,), -1, ())]
        while stack:
            node, path, first_model, impacts = stack.pop()
            expansions += 1
            children = []
            for nxt in succ[node]:
                if nxt in path:
                    continue
                if len(path) >= max_depth:
                    result.bounded = True
                    result.notes.append(f"paths longer than {max_depth} hops were not followed")
                    continue
                nxt_model = first_model if first_model >= 0 else len(path) if nxt in models else -1
                if nxt_model >= 0:
                    hit = impacts_seen.get(nxt, _UNSEEN)
                    if hit is _UNSEEN:
                        hit = impacts_seen[nxt] = impact_of(ctx, nxt, source_kind)
                else:
                    hit = None
                if impacts and hit is None:
                    continue  # past an impact, only a further impact extends the path
                children.append((nxt, (*path, nxt), nxt_model, (*impacts, hit) if hit else impacts))
            if impacts and not children:
                found.append((entry_threat, entry, path, first_model, impacts))
            stack.extend(reversed(children))
            if len(found) - before >= per_source or expansions >= max_expansions:
                result.bounded = True
                result.notes.append(
                    f"from {source}: stopped after {len(found) - before} paths and {expansions} steps; "
                    "further paths from it exist but were not listed")
                break
        if len(found) >= max_paths:
            result.bounded = True
            result.notes.append(f"stopped after {len(found)} paths in all; later sources were not followed")
            break
    result.notes = sorted(set(result.notes))

    path_controls = _PathControls(ctx)
    threats_of: dict[tuple[str, tuple[Impact, ...]], tuple[frozenset[str], frozenset[str], frozenset[str]]] = {}
    for entry_threat, entry, steps, first_model, impacts in found:
        key = (entry_threat, impacts)
        known = threats_of.get(key)
        if known is None:
            impact_threats = frozenset().union(*(i.threats for i in impacts))
            known = threats_of[key] = (frozenset({entry_threat}), impact_threats, impact_threats | {entry_threat})
        entry_threats, impact_threats, threats = known
        result.paths.append(AttackPath(steps[0], steps[-1], steps, entry, impacts[0].kind, threats,
                                       path_controls(steps, first_model, entry_threats, impact_threats, threats)))
    return result


_RANK = {"implemented": 6, "configured": 6, "partial": 4, "contradicted": 3, "planned": 2,
         "not-applicable": 1, "missing": 0}


_Entry = tuple[Control, ControlState, int, tuple[str, ...]]  # control, best state, its rank, hops


def _merge(into: dict[str, _Entry], more: dict[str, _Entry]) -> None:
    """Add one stretch of a path's controls to what comes before it: a control on both keeps the
    better state (the earlier on a tie) and lists the hops of both, in path order."""
    common = into.keys() & more.keys()
    if not common:
        into.update(more)
        return
    before = {k: into[k] for k in common}
    into.update(more)
    for k, (control, state, rank, components) in before.items():
        _, more_state, more_rank, more_components = more[k]
        into[k] = (control, more_state, more_rank, components + more_components) if more_rank > rank else (
            control, state, rank, components + more_components)


class _PathControls:
    """Builds each path's controls. A path is three stretches — the hops before the first model
    (which count against the injection), that model (against everything), and the hops after it
    (against what the impact does) — and paths share stretches: every route into a model meets
    every route out of it. So the controls of one hop, and the merged controls of one stretch, are
    worked out once; a path merges its three stretches, and equal results share one PathControl."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.hops: dict[tuple[str, frozenset[str]], dict[str, _Entry]] = {}
        self.stretches: dict[tuple[tuple[str, ...], frozenset[str]], dict[str, _Entry]] = {}
        self.made: dict[tuple[Any, ...], PathControl] = {}
        # By id() of an entry whose PathControl is the same on every path: (the entry, its
        # PathControl). Holding the entry keeps its id() from being reused by another.
        self.made_alone: dict[int, tuple[_Entry, PathControl]] = {}
        self.order: dict[tuple[str, ...], dict[str, int]] = {}
        self.owner = {cid: c.owner for cid, c in ctx.system.components.items()}

    def _among(self, parties: tuple[str, ...], owners: dict[str, None]) -> tuple[str, ...]:
        """The parties that are among the owners, in the parties' order (which may be long: every
        team of a portfolio that claims a control)."""
        order = self.order.get(parties)
        if order is None:
            order = self.order[parties] = {p: i for i, p in enumerate(parties)}
        return tuple(sorted((p for p in owners if p in order), key=order.__getitem__))

    def hop(self, cid: str, threats: frozenset[str]) -> dict[str, _Entry]:
        key = (cid, threats)
        found = self.hops.get(key)
        if found is None:
            ctx = self.ctx
            found = self.hops[key] = {
                c.id: (c, state, _RANK[state.state], (cid,))
                for c in ctx.acting_controls(ctx.kind(cid), threats) for state in (ctx.state(c.id, cid),)
            }
        return found

    def stretch(self, hops: tuple[str, ...], threats: frozenset[str]) -> dict[str, _Entry]:
        if len(hops) == 1:
            return self.hop(hops[0], threats)
        key = (hops, threats)
        found = self.stretches.get(key)
        if found is None:
            found = {}
            for cid in hops:
                _merge(found, self.hop(cid, threats))
            self.stretches[key] = found
        return found

    def __call__(self, steps: tuple[str, ...], first_model: int, entry: frozenset[str],
                 impact_threats: frozenset[str], threats: frozenset[str]) -> tuple[PathControl, ...]:
        """The controls that act on a path. Before the model, a hop's controls count against the
        injection (`entry`); at the model, against every threat of the path; after it, against
        what the impact does. A control on several hops keeps its best state and lists every hop
        it is on."""
        merged = dict(self.stretch(steps[:first_model], entry))
        _merge(merged, self.hop(steps[first_model], threats))
        if first_model + 1 < len(steps):
            _merge(merged, self.stretch(steps[first_model + 1:], impact_threats))
        out = []
        made, alone = self.made, self.made_alone
        owners: dict[str, None] | None = None
        for item in merged.values():
            known = alone.get(id(item))
            if known is not None:
                out.append(known[1])
                continue
            control, state, _, components = item
            parties = state.parties or self.ctx.resp[control.id].responsible
            if len(parties) > 1:
                # Of several parties a control could fall to, those who own part of this path answer here.
                owners = owners or dict.fromkeys(self.owner[c] for c in steps)
                parties = self._among(parties, owners) or parties
                shared = False
            else:
                shared = True  # the same wherever this entry appears
            key = (control.id, state, components, parties)
            pc = made.get(key)
            if pc is None:
                pc = made[key] = PathControl.of(control.id, control.layer, control.function, state.state,
                                                parties, components, state.reason)
            if shared:
                alone[id(item)] = (item, pc)
            out.append(pc)
        return tuple(out)
