"""Attack paths: every route from untrusted content, through a model, to an impact.

The graph is the manifest's components and flows. A path starts at an untrusted source (user
input, a document store outsiders write to, a tool returning outside content, memory other users
write), passes through at least one model, and ends at an impact: a tool with side effects, a
renderer that fetches URLs or runs markup, network egress, or a write to persistent memory. When
an impact flows on into another impact (an email tool into open egress), the path goes on too;
when it passes content to anything else (a task handed to another agent), a further path goes on
from there to the impacts that content reaches.

A path is closed only when an enforced preventive control (a deterministic mechanism outside the
model: an allowlist, a real confirmation, a sandbox, a scoped credential, encoding) is in effect on
one of its hops where it can still stop the attack. A probabilistic control in effect (a classifier,
a guard model, delimiters, safety training) leaves it open and *reduced*; a detective one changes
nothing. After the first impact that is not an exfiltration (code ran, a record was written), a
control further on no longer closes the path: the harm is done.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from demarcate.analysis.graph import FlowGraph
from demarcate.model.errors import Problem
from demarcate.model.loader import System
from demarcate.model.schema import Control, allowlist_entry

if TYPE_CHECKING:  # the context builds the paths (Context.paths): at run time it comes to them
    from demarcate.analysis.context import Context, ControlState


@dataclass(frozen=True)
class Bounds:
    """How far the search for paths goes, so that no manifest can stall `check`: a dense graph has
    more simple paths than atoms in the universe, and a pull request's manifest must not hang the
    gate that judges it. Within a source the search is breadth-first, so what a bound leaves out
    are the longest routes; every source gets its share of the budget, and what one leaves unused
    goes to the rest. docs/check-json.md ("Bounds") states them; the result says when one was hit."""

    depth: int = 12  # hops in one path
    per_source: int = 500  # paths from one source
    steps_per_source: int = 50_000  # search steps from one source
    paths_per_component: int = 2  # paths in all: this many per component of the system,
    least_paths: int = 2_000  # and never fewer
    steps_per_element: int = 10  # search steps in all: this many per component and flow,
    least_steps: int = 100_000  # and never fewer
    route_share: int = 8  # paths from one source that go on from the same first impact: at most this
    # fraction of the source's share (an email tool, then every host egress lets it reach)
    rounds: int = 3  # rounds of sharing out what sources that needed less left over

    def paths(self, components: int) -> int:
        return max(self.least_paths, self.paths_per_component * components)

    def steps(self, components: int, flows: int) -> int:
        return max(self.least_steps, self.steps_per_element * (components + flows))

    def limits(self, components: int, flows: int) -> dict[str, int]:
        """The bounds as they apply to a system of this size, as the JSON result states them."""
        return {"depth": self.depth, "paths": self.paths(components), "per_source": self.per_source,
                "steps": self.steps(components, flows)}


BOUNDS = Bounds()
PATH_STATES = ("open", "reduced", "closed")


class Impact(NamedTuple):
    kind: str  # exfiltration | code-execution | side-effect | memory-write
    threats: frozenset[str]
    needs_click: bool = False  # data leaves only if the user clicks a link


_UNSEEN = Impact("", frozenset())  # a component not yet asked what impact it is


class PathControl(NamedTuple):
    id: str
    layer: str
    function: str
    assurance: str  # enforced | probabilistic | detective | procedural
    status: str  # the best state over the path's hops it applies to
    parties: tuple[str, ...]
    components: tuple[str, ...]
    reason: str = ""
    could_close: bool = False  # enforced and preventive, on a hop where it can still stop the attack
    closes: bool = False  # ... and in effect
    reduces: bool = False  # in effect outside the model, but only lowers the odds
    void: str = ""  # why, on this path, it cannot close it though it could elsewhere
    # The one way out of a renderer with two that it closes ("markup" or "urls"); empty: the whole path.
    part: str = ""

    @classmethod
    def of(cls, control: Control, status: str, parties: tuple[str, ...], components: tuple[str, ...],
           reason: str = "", too_late: bool = False, void: str = "", part: str = "",
           by_model: bool = False) -> PathControl:
        """`by_model`: provided only by a prompt or a classifier, so in place but closing nothing: it
        still could close the path, enforced, and lowers the odds meanwhile."""
        too_late = too_late or bool(void)
        could = control.closes_paths and not too_late
        effective = status in ("implemented", "configured")
        return cls(control.id, control.layer, control.function, control.assurance or "enforced", status, parties,
                   components, reason, could, could and effective and not by_model,
                   # The model's own training is the baseline every severity assumes: shown, not a reduction.
                   effective and not too_late and (by_model or (not could and control.function in ("prevent", "reduce")
                                                                and control.layer != "model")), void, part)


@dataclass(frozen=True)
class AttackPath:
    source: str
    impact: str
    steps: tuple[str, ...]
    entry: str  # user-input | documents | reviews | email | web | tool-output | memory | ...
    impact_kind: str
    threats: frozenset[str]
    controls: tuple[PathControl, ...]
    needs_click: bool = False  # the way out is a link the user must click
    first_impact: int = -1  # index in steps of the impact that gives impact_kind (-1: the last step)
    # The ways out of a renderer at its end that each need closing ("markup", "urls"), where it has
    # two; the controls that close one of them say which (PathControl.part).
    parts: tuple[str, ...] = ()
    # closed (an enforced control in effect stops it), reduced (only probabilistic controls in
    # effect outside the model lower its odds) or open: from the controls.
    state: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        closed = _closes(self.controls) if self.parts else any(c.closes for c in self.controls)
        state = "closed" if closed else "reduced" if any(c.reduces for c in self.controls) else "open"
        object.__setattr__(self, "state", state)  # frozen: set once, here

    @property
    def id(self) -> str:
        return ">".join(self.steps)

    @property
    def acted_on(self) -> str:
        """The component of the first impact, which gives the path its impact_kind: the tool that ran
        the code or wrote the record, though the path goes on to a way out."""
        return self.steps[self.first_impact]

    @property
    def open(self) -> bool:
        """Not closed: open, or open and reduced."""
        return self.state != "closed"

    @property
    def closed_by(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.controls if c.closes)

    @property
    def reduced_by(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.controls if c.reduces)

    @cached_property
    def candidates(self) -> tuple[str, ...]:
        """Controls not yet in effect whose implementation would close this path (or, where a
        renderer has two ways out, one of them: see `needs`)."""
        return tuple(c.id for c in self.controls if c.could_close and not c.closes)

    @property
    def needs(self) -> tuple[tuple[str, ...], ...]:
        """What closing this path takes: one control from each group. One group, the candidates,
        unless the path ends at a renderer with two ways out (markup that runs, URLs that load):
        then one group for each way out still open, its own controls beside those that close the
        whole path. An empty group: no catalog control closes that way."""
        if not self.parts:
            return (self.candidates,)
        whole = tuple(c.id for c in self.controls if c.could_close and not c.closes and not c.part)
        shut = {c.part for c in self.controls if c.part and c.closes}
        return tuple(whole + tuple(c.id for c in self.controls if c.part == part and c.could_close and not c.closes)
                     for part in self.parts if part not in shut)


def _closes(controls: tuple[PathControl, ...]) -> bool:
    """Whether the controls in effect close a path that has parts: one that closes it whole, or one
    for each way out of its renderer."""
    parts: dict[str, bool] = {}
    for c in controls:
        if c.part:
            parts[c.part] = parts.get(c.part, False) or c.closes
        elif c.closes:
            return True
    return bool(parts) and all(parts.values())


@dataclass
class CandidateUse:
    """Where a control not in effect would close open paths: which paths, on which of their
    components it acts, and how many of them name each party for it."""

    paths: list[AttackPath] = field(default_factory=list)
    components: dict[str, None] = field(default_factory=dict)
    parties: dict[str, int] = field(default_factory=dict)
    partly: int = 0  # of those paths, the ones where it closes one way out of two (a renderer's `part`)

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
                use.partly += bool(c.part)
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
    limits: dict[str, int] = field(default_factory=dict)  # the bounds for this system (Bounds.limits)

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


def flow_warnings(system: System) -> list[Problem]:
    """What the flows leave unsaid. A component of a kind that carries content — a source, a model,
    context, an impact — with no flow in or out: no attack path can pass through it, and most often
    a flow was left out of the manifest (an untrusted review store that feeds nothing looks safe).
    Network egress is left alone: it is the runtime's way out, there before any tool uses it. And a
    renderer whose words a flow takes on to a user's input without its saying how, or that says how
    with no flow to one."""
    comps = system.components
    kinds = system.catalog.kinds
    renderers = {cid: c.sends_as_user for cid, c in comps.items() if c.kind == "output-renderer"}  # type: ignore[attr-defined]
    linked: set[str] = set()
    drawn: dict[str, None] = {}  # renderers a flow connects to a user's input
    for flow in system.flows:
        linked.add(flow.source)
        linked.add(flow.target)
        if flow.source in renderers and comps[flow.target].kind == "user-input":  # type: ignore[attr-defined]
            drawn[flow.source] = None
    said = {cid for cid, how in renderers.items() if how not in (None, "none")}
    return [
        Problem(f"{cid} ({comp.kind}) has no flow in or out, so no attack path passes through it",  # type: ignore[attr-defined]
                system.position("component", cid), "add the flows that carry its content, or remove it",
                level="warning")
        for cid, comp in comps.items()
        if cid not in linked and comp.kind != "network-egress"  # type: ignore[attr-defined]
        and kinds[comp.kind].graph in ("source", "model", "context", "impact")  # type: ignore[attr-defined]
    ] + [
        Problem(f"a flow takes what {cid} shows to a user's input, but {cid} does not say how: it is taken as "
                "suggested replies, which nothing at the renderer stops", system.position("component", cid),
                f"say how on '{cid}': sends-as-user: markup (buttons or forms in the answer, which encoding takes "
                "away) or suggestions (suggested replies the application offers); or remove the flow",
                level="warning")
        for cid in drawn if cid not in said
    ] + [
        Problem(f"{cid} sends what it shows on as the user's message (sends-as-user), but no flow goes from it to "
                "a user-input", system.position("component", cid),
                "add the flow to the input its messages arrive at, so that paths go through the click",
                level="warning")
        for cid in sorted(said - drawn.keys())
    ]


def build_graph(system: System) -> FlowGraph:
    return FlowGraph(system.components, ((f.source, f.target) for f in system.flows))


def entry_of(ctx: Context, cid: str) -> str:
    comp = ctx.system.components[cid]
    kind = comp.kind  # type: ignore[attr-defined]
    if kind == "data-source":
        return str(comp.content)  # type: ignore[attr-defined]
    return {"tool": "tool-output"}.get(kind, kind)


def renders_html(comp: Any) -> bool:
    """Whether an output renderer renders HTML in what it shows: raw HTML allowed, or an HTML page."""
    return bool(comp.raw_html or comp.format == "html")


def renders_markup(comp: Any) -> bool:
    """Whether an output renderer runs the HTML in what it shows: renders it, scripts and all."""
    return renders_html(comp) and comp.scripts is not False


def ways_out(comp: Any) -> tuple[str, ...]:
    """How an attacker's text in a renderer's output gets out: markup that runs in the page (raw
    HTML, an HTML page) and URLs the page loads or links (images, previews, links, and the <img>
    and CSS of HTML whose scripts never run). Each is closed by its own control: encoding takes
    markup away but images still load; an allowlist of hosts stops the URLs but not a script, which
    reaches any host."""
    return (("markup",) if renders_markup(comp) else ()) + (
        ("urls",) if comp.images or comp.link_previews or comp.links or renders_inert_html(comp) else ())


def renders_inert_html(comp: Any) -> bool:
    """Whether an output renderer renders HTML whose scripts never run (`scripts: false`): its <img>
    and CSS still load from wherever they point."""
    return renders_html(comp) and comp.scripts is False


# The threat each way out of a renderer carries: a control on the renderer closes the ways out
# whose threat it mitigates.
WAY_OUT_THREAT = {"markup": "improper-output", "urls": "data-exfiltration"}
# What acts at a renderer that sends what it shows on as the user's next message (`sends-as-user`),
# by how: encoding the output takes away buttons written in its markup; nothing at the renderer
# stops suggested replies the application offers itself.
TURN_THREATS = {"markup": frozenset({"improper-output"}), "suggestions": frozenset[str]()}


class Turns(dict[str, str]):
    """The renderers that send what they show on as the user's next message (`sends-as-user`), with
    how, and the user inputs such a message can arrive at. A path that goes from one to the other
    passes through the user's click."""

    def __init__(self, ctx: Context, graph: FlowGraph):
        comps = ctx.system.components
        # Where a renderer does not say how, suggested replies: nothing at the renderer is credited.
        super().__init__((cid, how if how in TURN_THREATS else "suggestions")
                         for cid in ctx.components_of("output-renderer")
                         if any(ctx.kind(t) == "user-input" for t in graph.successors(cid))
                         for how in (comps[cid].sends_as_user,))  # type: ignore[attr-defined]
        self.inputs = frozenset(ctx.components_of("user-input")) if self else frozenset()

    def turn(self, steps: Sequence[str], i: int) -> str:
        """How the hop at `i` sends on to the next one as the user's message, or "" where it does not."""
        how = self.get(steps[i], "")
        return how if how and i + 1 < len(steps) and steps[i + 1] in self.inputs else ""

    def sends_on(self, steps: Sequence[str], cid: str) -> bool:
        """Whether the path goes from this renderer on to a user input (a click), not out through it."""
        return cid in self and cid in steps and bool(self.turn(steps, steps.index(cid)))

    def clicked(self, steps: Sequence[str], upto: int) -> str:
        """The first renderer before step `upto` whose text the path needs a user to click on."""
        return next((steps[i] for i in range(min(upto, len(steps) - 1)) if self.turn(steps, i)), "") if self else ""


def turns(ctx: Context, graph: FlowGraph | None = None) -> Turns:
    """The system's `Turns`, once per analysis (`graph`: the path graph, while it is being analysed)."""
    found = ctx.memo.get(("turns", ""))
    if found is None:
        found = ctx.memo["turns", ""] = Turns(ctx, graph or ctx.paths.graph)
    return found


def reaches_out(comp: Any) -> bool:
    """Whether an output renderer sends what the answer points at somewhere: images and previews load
    by themselves, HTML carries <img> and CSS, a link goes on a click."""
    return bool(comp.images or comp.link_previews or comp.links or renders_html(comp))


def impact_of(ctx: Context, cid: str, source_kind: str) -> Impact | None:
    comp = ctx.system.components[cid]
    kind = comp.kind  # type: ignore[attr-defined]
    if kind == "tool":
        effects = set(comp.effects or [])  # type: ignore[attr-defined]
        # A tool that changes settings (its own, or the approval rules) adds self-modification to
        # whatever else it does: the controls that keep settings out of reach act on it too.
        extra = {"self-modification"} if "configure" in effects or comp.self_configurable else set()  # type: ignore[attr-defined]
        if "execute-code" in effects:
            # Not tool-misuse: checking a program's arguments does not make attacker code safe to run.
            return Impact("code-execution", frozenset({"code-execution", "excessive-agency", *extra}))
        if "send-external" in effects and cid not in ctx.fixed_host_tools:
            return Impact("exfiltration", frozenset({"data-exfiltration", "tool-misuse", *extra}))
        # One that sends only to its own fixed hosts is misused at worst, like one that writes.
        if extra or effects & {"write", "financial", "send-external"}:
            return Impact("side-effect", frozenset({"excessive-agency", "tool-misuse", *extra}))
        return None
    if kind == "output-renderer":
        # A renderer that fetches anything is a way out whatever its format: images load and previews
        # unfurl by themselves, and HTML carries <img> and CSS. A user who injects into their own chat
        # only attacks their own browser; markup shown to someone else (a support agent's console, a
        # published page) runs in their browser, with their session.
        markup = renders_markup(comp)
        if source_kind == "user-input":
            return Impact("output", frozenset({"improper-output"})) if markup and comp.publishes else None  # type: ignore[attr-defined]
        if markup:
            # Markup runs script, which fetches from any host whatever an allowlist of image hosts
            # says: only encoding takes it away. Images or links beside it are a second way out.
            return Impact("exfiltration", frozenset({"data-exfiltration", "improper-output"}))
        if comp.images or comp.link_previews or renders_inert_html(comp):  # type: ignore[attr-defined]
            # The fetch happens whatever the encoding: only where the URLs may point matters. HTML
            # whose scripts never run still loads its <img> and CSS by itself.
            return Impact("exfiltration", frozenset({"data-exfiltration"}))
        if comp.links:  # type: ignore[attr-defined]
            return Impact("exfiltration", frozenset({"data-exfiltration"}), needs_click=True)
        return None
    if kind == "network-egress":
        return None if comp.policy == "none" else Impact("exfiltration", frozenset({"data-exfiltration"}))  # type: ignore[attr-defined]
    if kind == "memory" and comp.persistent:  # type: ignore[attr-defined]
        if source_kind == "user-input" and not comp.shared_across_users:  # type: ignore[attr-defined]
            return None  # a user who writes their own memory reaches only their own later sessions
        return Impact("memory-write", frozenset({"memory-poisoning"}))
    return None


# (entry threat, entry, steps, index of the first model, impacts met on the way, index of the first)
_Found = tuple[str, str, tuple[str, ...], int, tuple[Impact, ...], int]


class _Search:
    """The search for paths from one source at a time, within an allowance of paths and steps."""

    def __init__(self, ctx: Context, graph: FlowGraph, bounds: Bounds):
        self.ctx, self.bounds = ctx, bounds
        self.succ = {n: sorted(graph.successors(n)) for n in graph.nodes}
        self.models = frozenset(ctx.components_of("model"))
        # What each component does as an impact: once for attacks by the signed-in user, once for others.
        self.impacts_by_user: dict[bool, dict[str, Impact | None]] = {True: {}, False: {}}
        self.too_deep = False

    def __call__(self, source: str, path_allowance: int, step_allowance: int) -> tuple[list[_Found], int, bool]:
        """The paths from `source` in the order of their steps, the steps taken, and whether the
        allowance stopped the search before it had seen every path."""
        ctx, succ, models, max_depth = self.ctx, self.succ, self.models, self.bounds.depth
        fixed_host_tools = ctx.fixed_host_tools
        source_kind = ctx.kind(source)
        entry_threat = "direct-injection" if source_kind == "user-input" else "indirect-injection"
        entry = entry_of(ctx, source)
        impacts_seen = self.impacts_by_user[source_kind == "user-input"]
        mine: list[_Found] = []
        expansions = 0
        # Paths that share their route up to the first impact: when a source's share is small, one
        # route's many endings must not take all of it.
        per_route = max(1, path_allowance // self.bounds.route_share)
        endings: dict[tuple[str, ...], int] = {}
        cut = False
        # Over simple paths, except that a path may come back to its source as its impact (one tool
        # that reads attacker data and also writes or sends): breadth-first to the first impact, so
        # that the shortest routes in come first, then depth-first from there, so that a route that
        # has reached its impact is followed to its end (an email tool, then egress) before the next
        # one is started. Frame:
        # (node, path so far, index of its first model or -1, impacts met, index of the first impact or -1)
        queue: deque[tuple[str, tuple[str, ...], int, tuple[Impact, ...], int]] = deque(
            [(source, (source,), -1, (), -1)])
        while queue:
            if expansions >= step_allowance:
                cut = True
                break
            node, path, first_model, impacts, first_impact = queue.popleft()
            if impacts and endings.get(path[:first_impact + 1], 0) >= per_route:
                cut = True
                continue
            expansions += 1
            onward = []  # children past an impact, followed first (depth-first) to the end of their route
            extended = False
            for nxt in succ[node]:
                # Back to the source only once: a route on from an impact there may not return again.
                if nxt in path and not (nxt == source and first_model >= 0 and not impacts and source not in path[1:]):
                    continue
                if len(path) >= max_depth:
                    self.too_deep = True
                    continue
                nxt_model = first_model if first_model >= 0 else len(path) if nxt in models else -1
                if nxt_model >= 0:
                    hit = impacts_seen.get(nxt, _UNSEEN)
                    if hit is _UNSEEN:
                        hit = impacts_seen[nxt] = impact_of(ctx, nxt, source_kind)
                    if hit is not None and node in fixed_host_tools and ctx.kind(nxt) == "network-egress":
                        hit = None  # what this tool sends through the egress goes only to its own hosts
                else:
                    hit = None
                if nxt == source and hit is None:
                    continue  # back at the source, only as an impact
                if impacts and hit is None:
                    # Past an impact, a further impact extends the path. Anything else takes what the
                    # impact passed on (a task handed to another agent, a record another model
                    # reads): a route of its own from there, to impacts of its own, while the path
                    # that ends here stands.
                    queue.append((nxt, (*path, nxt), nxt_model, (), -1))
                    continue
                extended = True
                child = (nxt, (*path, nxt), nxt_model, (*impacts, hit) if hit else impacts,
                         first_impact if impacts or not hit else len(path))
                if hit:
                    onward.append(child)
                else:
                    queue.append(child)
            queue.extendleft(reversed(onward))
            if impacts and not extended:
                if len(mine) >= path_allowance:  # one more than its share: there are more than it may list
                    cut = True
                    break
                mine.append((entry_threat, entry, path, first_model, impacts, first_impact))
                route = path[:first_impact + 1]
                endings[route] = endings.get(route, 0) + 1
        mine.sort(key=lambda f: f[2])  # in the order of their steps, whatever order they were found in
        return mine, expansions, cut


def analyse_paths(ctx: Context, bounds: Bounds = BOUNDS) -> PathAnalysis:
    graph = build_graph(ctx.system)
    result = PathAnalysis(graph, [], limits=bounds.limits(len(ctx.system.components), len(ctx.system.flows)))
    search = _Search(ctx, graph, bounds)
    sources = sorted(c for c in ctx.system.components if ctx.is_untrusted_source(c))
    paths_left = bounds.paths(len(ctx.system.components))
    steps_left = bounds.steps(len(ctx.system.components), len(ctx.system.flows))
    # Every source gets an equal share of the budget; what the sources that need less leave goes,
    # in a further round, to those their share cut short, searched again with the larger share.
    done: dict[str, list[_Found]] = {}
    todo = sources
    share = (0, 0)
    cut: list[tuple[str, int, int]] = []  # sources whose search stopped early: (source, paths, steps)
    for _ in range(bounds.rounds):
        if not todo:
            break
        wider = (min(bounds.per_source, max(1, paths_left // len(todo))),
                 min(bounds.steps_per_source, max(1, steps_left // len(todo))))
        if wider[0] <= share[0] and wider[1] <= share[1]:
            break  # nothing more to give
        share, searched, cut = wider, {}, []
        for source in todo:
            searched[source] = mine, spent, stopped = search(source, *share)
            if stopped:
                cut.append((source, len(mine), spent))
            else:
                done[source] = mine
                paths_left -= len(mine)
                steps_left -= spent
        todo = [source for source, _, _ in cut]
        for source in todo:
            done[source] = searched[source][0]
    found = [f for source in sources for f in done.get(source, ())]
    if search.too_deep:
        result.bounded = True
        result.notes.append(f"paths longer than {bounds.depth} hops were not followed")
    if cut:
        result.bounded = True
        result.notes.append(_cut_note(cut, len(sources), bounds, len(ctx.system.components), len(ctx.system.flows)))
        result.notes.append("the fix and the findings cover the paths listed; a path left out may need a control "
                            "they do not name")
    result.notes = sorted(set(result.notes))

    path_controls = _PathControls(ctx, graph)
    threats_of: dict[tuple[str, tuple[Impact, ...]], tuple[frozenset[str], frozenset[str], frozenset[str]]] = {}
    # Each route as the harms it does: usually one path; code that runs and then sends is two.
    harms: list[tuple[str, str, tuple[str, ...], int, tuple[Impact, ...], int, int]] = []
    listed: set[tuple[str, ...]] = set()  # a route's code-execution part, once however many ways on it has
    for entry_threat, entry, route, first_model, met, first_impact in found:
        for kept, worst in _harms(met):
            steps = route[:first_impact + kept]
            if kept < len(met):
                if steps in listed:
                    continue
                listed.add(steps)
            harms.append((entry_threat, entry, steps, first_model, met[:kept], first_impact, worst))
    for entry_threat, entry, steps, first_model, impacts, first_impact, worst in harms:
        key = (entry_threat, impacts)
        known = threats_of.get(key)
        if known is None:
            impact_threats = frozenset().union(*(i.threats for i in impacts))
            known = threats_of[key] = (frozenset({entry_threat}), impact_threats, impact_threats | {entry_threat})
        entry_threats, impact_threats, threats = known
        acted = first_impact + worst  # the impacts are the path's last hops, one after another
        leaving = impacts[worst].kind == "exfiltration"
        # Data on its way out can still be stopped further on (an email tool, then egress); code that
        # ran or a record that was written cannot.
        last_stop = len(steps) - 1 if leaving else acted
        by_user = ctx.kind(steps[0]) == "user-input"
        # Past the first impact each hop counts against what it does itself: a tool that runs what
        # another wrote is no stop for the writing, nor does the writer's check vouch for the run. Hops
        # that carry what leaves count against the leaving: a sandbox around the code is no stop for it.
        after: _Threats | None = None
        if len(impacts) > 1:
            carried = impacts[worst].threats
            own = [(i.threats - {"code-execution"}) | carried if leaving and k < worst else i.threats
                   for k, i in enumerate(impacts)]
            after = (impact_threats,) * (first_impact - first_model - 1) + tuple(own)
        controls = path_controls(steps, first_model, entry_threats, impact_threats, threats, last_stop, by_user,
                                 after)
        needs_click = ((impacts[0].needs_click and all(i.needs_click for i in impacts if i.kind == "exfiltration"))
                       or bool(path_controls.turns and path_controls.turns.clicked(steps, first_impact))
                       # Held on this turn, it is passed only through a click that starts the next.
                       or (bool(path_controls.loops) and _crossed_only(ctx, controls)))
        parts: tuple[str, ...] = ()
        if path_controls.markup_ways and "improper-output" in impact_threats:
            parts = tuple(sorted({c.part for c in controls if c.part}))
            if parts and not needs_click and len(impacts) == 1:
                # Markup encoded, a renderer that only links has a click left as its way out.
                comp: Any = ctx.system.components[steps[first_impact]]
                needs_click = not (comp.images or comp.link_previews) and any(
                    c.closes and c.part == "markup" for c in controls)
        result.paths.append(AttackPath(
            steps[0], steps[-1], steps, entry, impacts[worst].kind, threats, controls,
            needs_click=needs_click, first_impact=acted, parts=parts))
    return result


def _harms(impacts: tuple[Impact, ...]) -> list[tuple[int, int]]:
    """What a route through consecutive impacts does, as paths: for each, how many of the impacts it
    keeps and which of them is its harm. One path, harmed at its first impact, unless a later one runs
    code (a file the agent wrote that a hook runner then runs): the running is the harm. Code that runs
    and then reaches out is two harms, two paths: the code running (a sandbox stops it), and what it
    sends (which only what stops data leaving does)."""
    run = next((k for k, i in enumerate(impacts) if i.kind == "code-execution"), None)
    if run is None:
        return [(len(impacts), 0)]
    out = next((j for j in range(run + 1, len(impacts)) if impacts[j].kind == "exfiltration"), None)
    if out is None:
        return [(len(impacts), run)]
    return [(run + 1, run), (len(impacts), out)]


def _crossed_only(ctx: Context, controls: tuple[PathControl, ...]) -> bool:
    """Whether what keeps the path from closing is a control in effect that holds for a turn, which a
    click carries the injection past."""
    catalog = ctx.system.catalog.controls
    return not any(c.closes for c in controls) and any(
        c.void and c.status in ("implemented", "configured") and catalog[c.id].holds_for == "turn" for c in controls)


_RANK = {"implemented": 6, "configured": 6, "partial": 4, "contradicted": 3, "planned": 2,
         "not-applicable": 1, "missing": 0}


_Entry = tuple[Control, "ControlState", int, tuple[str, ...]]  # control, best state, its rank, hops
_Threats = frozenset[str] | tuple[frozenset[str], ...]  # the same for every hop of a stretch, or one set each


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

    def __init__(self, ctx: Context, graph: FlowGraph):
        self.ctx = ctx
        self.hops: dict[tuple[str, frozenset[str], bool], dict[str, _Entry]] = {}
        self.stretches: dict[tuple[tuple[str, ...], _Threats], dict[str, _Entry]] = {}
        self.made: dict[tuple[Any, ...], PathControl] = {}
        # By id() of an entry, and whether the user sent the attack: the entry (held so that its id()
        # is not reused by another) and its PathControl (None: it does not act), when that is the
        # same on every such path where it is not too late.
        self.made_alone: dict[tuple[int, bool], tuple[_Entry, PathControl | None]] = {}
        self.order: dict[tuple[str, ...], dict[str, int]] = {}
        self.owner = {cid: c.actor for cid, c in ctx.system.components.items()}
        # Tools that hand what they send to a host that passes it on (`passes_on`): those hosts, and
        # the egress behind them, where what an allowlist does depends on the tool a path took.
        comps = ctx.system.components
        self.passes_on = {cid: hosts for cid, c in comps.items()
                          if c.kind == "tool" and (hosts := passes_on(c))}  # type: ignore[attr-defined]
        self.behind = frozenset(n for t in self.passes_on for n in graph.successors(t)
                                if comps[n].kind == "network-egress")  # type: ignore[attr-defined]
        # The ways out of each renderer that runs markup: where a control closes only one of them.
        self.markup_ways = {cid: ways_out(c) for cid, c in ctx.system.components.items()
                            if c.kind == "output-renderer" and renders_markup(c)}  # type: ignore[attr-defined]
        self.turns = turns(ctx, graph)
        # For each model whose words a click sends back to it as the user's next message, the renderer
        # that sends them: what holds only for a turn (`holds-for: turn`) does not hold past that click.
        self.loops: dict[str, str] = {}
        if self.turns:
            # Only a renderer whose click nothing stops (encoding takes a markup button away) sends them.
            sends = {r for r, how in self.turns.items() if not any(
                c.closes_paths and state.effective for c, state, _, _ in self.hop(r, TURN_THREATS[how], True).values())}
            after = graph.marked(lambda c: c in sends, down=True)
            before = graph.marked(lambda c: c in sends)
            self.loops = {m: r for m in ctx.components_of("model")
                          if (r := next((r for r in after(m) if before.reaches(m, r)), ""))}

    def _among(self, parties: tuple[str, ...], owners: dict[str, None]) -> tuple[str, ...]:
        """The parties that are among the owners, in the parties' order (which may be long: every
        team of a portfolio that claims a control)."""
        order = self.order.get(parties)
        if order is None:
            order = self.order[parties] = {p: i for i, p in enumerate(parties)}
        return tuple(sorted((p for p in owners if p in order), key=order.__getitem__))

    def hop(self, cid: str, threats: frozenset[str], turn: bool = False) -> dict[str, _Entry]:
        """The controls on one hop against these threats; `turn`: the hop is a renderer sending what it
        shows on as the user's message, kept apart from the same renderer as a way out."""
        key = (cid, threats, turn)
        found = self.hops.get(key)
        if found is None:
            ctx = self.ctx
            found = self.hops[key] = {
                c.id: (c, state, _RANK["partial" if state.by_model else state.state], (cid,))
                for c in ctx.acting_controls(ctx.kind(cid), threats) for state in (ctx.state(c.id, cid),)
            }
        return found

    def stretch(self, hops: tuple[str, ...], threats: _Threats) -> dict[str, _Entry]:
        """The merged controls of consecutive hops against the same threats, or against one set of
        threats per hop (past a path's first impact, each impact's own)."""
        if len(hops) == 1:
            return self.hop(hops[0], threats if isinstance(threats, frozenset) else threats[0])
        key = (hops, threats)
        found = self.stretches.get(key)
        if found is None:
            found = {}
            each = (threats,) * len(hops) if isinstance(threats, frozenset) else threats
            for i, cid in enumerate(hops):
                against = each[i]
                if self.turns and (turn := self.turns.turn(hops, i)):
                    # What stops a click sending the text on is all that acts at the renderer; the
                    # text then arrives as typed input, which input screening reads.
                    _merge(found, self.hop(cid, TURN_THREATS[turn], turn=True))
                elif self.turns and i and self.turns.turn(hops, i - 1):
                    _merge(found, self.hop(cid, against | {"direct-injection"}))
                else:
                    _merge(found, self.hop(cid, against))
            self.stretches[key] = found
        return found

    def __call__(self, steps: tuple[str, ...], first_model: int, entry: frozenset[str],
                 impact_threats: frozenset[str], threats: frozenset[str], last_stop: int,
                 by_user: bool, after: _Threats | None = None) -> tuple[PathControl, ...]:
        """The controls that act on a path. Before the model, a hop's controls count against the
        injection (`entry`); at the model, against every threat of the path; after it, against
        what the impact does (`after`: one set per hop where the path meets several impacts, each
        counting against its own). A control on several hops keeps its best state and lists every
        hop it is on. A control only on hops past `last_stop` acts too late to close it; a person's
        approval does not count when that person sent the attack (`by_user`)."""
        merged = dict(self.stretch(steps[:first_model], entry))
        _merge(merged, self.hop(steps[first_model], threats))
        if first_model + 1 < len(steps):
            _merge(merged, self.stretch(steps[first_model + 1:], impact_threats if after is None else after))
        late = frozenset(steps[last_stop + 1:]).difference(steps[:last_stop + 1])
        out = []
        alone = self.made_alone
        for item in merged.values():
            too_late = bool(late) and late.issuperset(item[3])
            known = None if too_late else alone.get((id(item), by_user))
            if known is None:
                pc, shared = self._control(item, steps, too_late, by_user, impact_threats)
                if shared:
                    alone[id(item), by_user] = (item, pc)
            else:
                pc = known[1]
            if pc is not None:
                out.append(pc)
        return tuple(out)

    def _control(self, item: _Entry, steps: tuple[str, ...], too_late: bool, by_user: bool,
                 impact_threats: frozenset[str]) -> tuple[PathControl | None, bool]:
        """One control's part on a path (None: it does not act there), and whether that part is the
        same on every path where it is not too late and the attack comes from the same side (an
        entry's hop and threats fix `impact_threats`: they need not be in the key)."""
        control, state, _, components = item
        if by_user and control.outside_content_only:
            return None, True  # it acts on content the application takes in, not on what its user types
        status, void = state.state, ""
        if by_user and self._approved_by_user(control, components):
            # The person approving is the one attacking: the gate stops nothing here.
            void = "the person who approves is the user who sent the input"
            if status in ("implemented", "configured"):
                status = "contradicted"
        part = ""
        if self.markup_ways:
            ways = [c for c in components if not self.turns.sends_on(steps, c)] if self.turns else components
            part, cannot = self._way_out(control, ways, impact_threats)
            void = void or cannot
        relayed = self._relayed(control, components, steps) if self.behind else None
        # The user who attacks types the next turn's message anyway: a click carries them past nothing. A
        # gate a prompt provides holds within the turn no better: the prompt, not the click, is why it fails.
        crossed = self._crossed(components, steps) if (
            self.loops and control.holds_for == "turn" and not by_user and not state.by_model) else ""
        void = void or relayed or crossed
        parties = state.parties or self.ctx.resp[control.id].responsible
        # Behind a relaying tool, or past a model that sends its words on, it depends on the path.
        shared = not too_late and relayed is None and not (self.loops and control.holds_for and not by_user)
        if len(parties) > 1:
            # Of several parties a control could fall to, those who own part of this path answer here.
            parties = self._among(parties, dict.fromkeys(self.owner[c] for c in steps)) or parties
            shared = False
        key = (control.id, state, components, parties, status, too_late, void, part)
        pc = self.made.get(key)
        if pc is None:
            pc = self.made[key] = PathControl.of(control, status, parties, components, state.reason, too_late,
                                                 void, part, state.by_model)
        return pc, shared

    def _crossed(self, components: tuple[str, ...], steps: tuple[str, ...]) -> str:
        """For a control that holds for a turn: why it cannot close this path, where the model before
        its hop sends its words on as the user's next message (the injection goes into a turn of its
        own, where the tool is offered again); "" where it can."""
        for cid in components:
            i = steps.index(cid)
            model = next((steps[j] for j in range(i - 1, -1, -1) if self.ctx.kind(steps[j]) == "model"), "")
            if renderer := self.loops.get(model, ""):
                return (f"{model}'s words go on as the user's next message when {renderer} is clicked: the injection "
                        f"crosses into a turn of its own, where {cid} is offered again")
        return ""

    def _relayed(self, control: Control, components: tuple[str, ...], steps: tuple[str, ...]) -> str | None:
        """For a host allowlist on the egress after a tool that hands what it sends to a host that
        passes it on (`passes_on`): why it cannot close this path, or "" where it can (the path did
        not come through such a tool, or the egress leaves the host out, so the tool sends nothing).
        None for any other control (a DLP gateway on that egress reads what leaves): the same on
        every path."""
        gates = [c for c in components if c in self.behind]
        if not gates or not any(check.hosts for check in control.configured_by if check.kind == "network-egress"):
            return None
        comps = self.ctx.system.components
        for gate in gates:
            tool = steps[steps.index(gate) - 1]  # an egress is never a path's source
            allowed = [(h, why) for h, why in self.passes_on.get(tool, ()) if lets_through(comps[gate], h)]
            if allowed:
                host, why = allowed[0]
                return f"{tool} hands what it sends to {why}: an egress that lets {host} through stops no recipient"
        return ""

    def _way_out(self, control: Control, components: Sequence[str], threats: frozenset[str]) -> tuple[str, str]:
        """For a control on a renderer that runs markup: the one way out it closes where the path
        goes out by two (`part`), or why it closes none where markup is the only one. A way counts
        where the path carries its threat: what a user types into a page others see is markup only."""
        if not control.closes_paths:
            return "", ""
        ways = {w for c in components for w in self.markup_ways.get(c, ()) if WAY_OUT_THREAT[w] in threats}
        if not ways:
            return "", ""
        shut = {w for w in ways if WAY_OUT_THREAT[w] in control.mitigates}
        if not shut:
            return "", ("the renderer runs markup: a script in it reaches any host, whichever hosts its URLs "
                        "are allowed; only encoding the output closes that way out")
        return ("", "") if shut == ways else (next(iter(shut)), "")

    def _approved_by_user(self, control: Control, components: tuple[str, ...]) -> bool:
        """Whether the control is an approval that the user who is chatting would give: a gate set to
        `confirmation: user`, or one not set yet (the gate an application puts in front of its user)."""
        if not control.approval:
            return False
        kinds = {ch.kind for ch in control.configured_by if ch.attribute == "confirmation"}
        gated = [c for c in components if self.ctx.kind(c) in kinds]
        return bool(gated) and all(self.ctx.system.components[c].get("confirmation") != "admin"
                                   for c in gated)


def passes_on(tool: Any) -> list[tuple[str, str]]:
    """The hosts a tool sends to that pass what they get on to whoever the call names, each with why:
    a service it hands its sending to (`sends-through`: a mail server), and a fixed destination that
    relays, takes uploads into anyone's account or is held by someone else. An egress must let them
    through for the tool to work, so a host allowlist there stops no recipient."""
    found = [(h.host, f"{h.host}, which delivers it to whatever recipient the call names")
             for h in tool.get("sends-through") or []]
    if "execute-code" not in (tool.effects or []):
        found += [(h.host, h.why_unsafe) for h in tool.get("destinations") or [] if h.unsafe and not h.any_host]
    return found


def sends_only_to_listed_hosts(tool: Any) -> bool:
    """Whether a tool's own code or configuration fixes the hosts it sends to (`destinations`, none
    matching anyone's host), whatever they pass on: an egress must let them through for the tool to
    work, so no egress allowlist narrows where it sends. Never a tool that runs code."""
    hosts = tool.get("destinations")
    return bool(hosts) and "execute-code" not in (tool.effects or []) and not any(h.any_host for h in hosts)


def sends_only_to_fixed_hosts(tool: Any) -> bool:
    """Whether a tool sends only to the hosts its `destinations` name, fixed outside the model, none of
    which passes what it gets on to a host an attacker chose: none relays, takes uploads into anyone's
    account or is held by someone else, and none is a service the tool hands its sending to, which
    delivers to whatever recipient the call names (`sends-through`). A tool that runs code never
    does: the code builds its own requests."""
    if not sends_only_to_listed_hosts(tool):
        return False
    hosts = tool.get("destinations")
    if any(h.unsafe for h in hosts):
        return False
    relays = [h.host for h in tool.get("sends-through") or []]
    return not any(_entry_covers(h.host, r) or _entry_covers(r, h.host) for h in hosts for r in relays)


def lets_through(egress: Any, host: str) -> bool:
    """Whether a network-egress component lets traffic reach a host: open, or an allowlist with an
    entry that covers it (`policy: none` lets nothing out)."""
    policy = egress.get("policy")
    return policy == "open" or (policy == "allowlist" and any(_entry_covers(e.host, host) for e in egress.get("allow") or []))


def _entry_covers(entry: str, host: str) -> bool:
    """Whether an allowlist entry (a host, `*.domain` or `.domain`) lets traffic reach a host: the
    host itself or a domain above it (a proxy that allows a domain mostly allows what is under it).
    A host written as a wildcard (`*.slack.com`: any of a service's hosts) is reached by an entry
    for any host under it; `*` reaches every host."""
    base, _ = allowlist_entry(entry)
    name, any_under = allowlist_entry(host)
    name = name.rstrip(".")
    return (not base.strip("*.") or name == base or name.endswith("." + base)
            or (any_under and base.endswith("." + name)))


def _cut_note(cut: list[tuple[str, int, int]], sources: int, bounds: Bounds, components: int, flows: int) -> str:
    """What the bounds left out, in one sentence however many sources they cut short."""
    if len(cut) == 1:
        source, paths, steps = cut[0]
        return (f"from {source}: stopped after {paths:,} paths and {steps:,} steps; further paths from it exist "
                "but were not listed (the longest routes)")
    named = ", ".join(s for s, _, _ in cut[:5]) + (", …" if len(cut) > 5 else "")
    return (f"from {len(cut):,} of {sources:,} sources ({named}): the search stopped at its share of the "
            f"bounds ({bounds.paths(components):,} paths and {bounds.steps(components, flows):,} search steps "
            f"for {components:,} components and {flows:,} flows; at most {bounds.per_source:,} paths from one "
            "source); further paths from them exist but were not listed (the longest routes)")
