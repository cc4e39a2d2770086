"""The highest-leverage fix, computed: the smallest set of missing controls that closes every open path.

Only enforced controls close a path, so only they make up the fix. Each open path lists the enforced
controls whose implementation would close it; a fix must contain at least one from every list. A
path no enforced control can close is named, with the probabilistic controls that would at least
lower its odds; and high or critical findings that closing the paths leaves open (a contradicted claim, unsafe
rendering, an over-privileged credential) are listed beside the fix, so that the fix never reads
"nothing to do" while they are open. That is a minimum hitting set (equivalently, a minimum cut between untrusted
sources and impacts where each control removes every hop it acts on). It is solved exactly by
branch and bound while the reduced problem is small, and by the greedy approximation (within a
factor ln n of the optimum) beyond that; the result says which.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from demarcate.analysis.context import Context
from demarcate.analysis.findings import Finding, count
from demarcate.analysis.paths import AttackPath, PathControl, candidate_use

# Among equally small fixes, the one whose controls hold whatever the model writes, and keep the
# feature working, comes first: approval rules out of the agent's reach (without it every other
# gate can be switched off); a credential or retrieval scoped to the user (bounds what any action
# reaches); rendered URLs only to allowlisted hosts (closes the zero-click channel in the client);
# a person approving each action (keeps the feature, holds when the person reads it); the
# operation taken away (holds absolutely, may take the feature too); a sandbox (contains, can be
# escaped); an egress allowlist (holds for hosts that do not relay); output encoding; tools
# withheld after untrusted input (coarse); argument rules (as complete as the rules are).
PREFERENCE = ("APP-TOOL-07", "INF-RT-01", "APP-TOOL-03", "APP-RAG-01", "APP-OUT-04", "APP-TOOL-02",
              "APP-TOOL-01", "APP-TOOL-04", "INF-NET-03", "APP-OUT-01", "APP-TOOL-05", "APP-OUT-02")
_PREFERRED = {c: i for i, c in enumerate(PREFERENCE)}

EXACT_NODE_BUDGET = 200_000
MAX_ALTERNATIVES = 5
LAYERS = ("model", "application", "infrastructure", "usage")


@dataclass
class Leverage:
    fix: list[str]
    closes: int
    open_paths: int
    by_layer: dict[str, int]
    exact: bool
    # Open paths each party could close alone (a control it would put in effect in every group the
    # path needs), most first: what the operator of a product can do before its maker does anything.
    by_party: dict[str, int] = field(default_factory=dict)
    alternatives: list[list[str]] = field(default_factory=list)
    unclosable: list[str] = field(default_factory=list)  # open paths no catalog control can close
    responsible: dict[str, list[str]] = field(default_factory=dict)
    paths_closed: dict[str, int] = field(default_factory=dict)  # per control in the fix
    # Of those, per control: the paths where it closes one of two ways out (another control closes the other).
    paths_partly: dict[str, int] = field(default_factory=dict)
    # For the open paths no enforced control can close: probabilistic controls, not in effect, that
    # would lower their odds (control -> how many such paths).
    reduce_only: dict[str, int] = field(default_factory=dict)
    # High or critical open findings that closing the paths leaves open, with the enforced controls they name.
    also: list[AlsoNeeded] = field(default_factory=list)

    def closing(self, control: str) -> str:
        """What a control of the fix closes, in words: paths, and one way out of those a renderer
        leaves by two."""
        partly = self.paths_partly.get(control, 0)
        whole = self.paths_closed.get(control, 0) - partly
        if not partly:
            return f"closes {count(whole, 'path')}"
        if not whole:
            return f"closes one way out of {count(partly, 'path')}"
        return f"closes {count(whole, 'path')}, and one way out of {count(partly, 'more path')}"


@dataclass
class AlsoNeeded:
    finding: str
    severity: str
    title: str
    controls: list[str]  # enforced controls the finding names, not in effect
    responsible: list[str]
    recommendation: str


def leverage(ctx: Context, paths: list[AttackPath]) -> Leverage:
    open_paths = [p for p in paths if p.open]
    # A path needs one control from each of its groups (most have one group: its candidates); worked
    # out once per path, since every figure below reads it.
    needed = [(p, p.needs) for p in open_paths]
    closable = [(p, needs) for p, needs in needed if all(needs)]
    unclosable = [p for p, needs in needed if not all(needs)]
    by_layer = {layer: 0 for layer in LAYERS}
    by_party: dict[str, int] = {}
    for p, needs in closable:
        # A layer, or a party, alone closes a path when it has a control in every group the path needs.
        first, *more = needs
        layers = {ctx.catalog.controls[c].layer for c in first}
        for group in more:
            layers &= {ctx.catalog.controls[c].layer for c in group}
        for layer in layers:
            by_layer[layer] += 1
        for party in _alone(p, needs):
            by_party[party] = by_party.get(party, 0) + 1

    constraints = _minimal(frozenset(group) for _, needs in closable for group in needs)

    # For each candidate control: how many paths it would close, and who would put it in effect.
    use = ctx.paths.candidate_use if paths is ctx.paths.paths else candidate_use(open_paths)
    coverage = {c: len(u.paths) for c, u in use.items()}

    def parties(solution: list[str]) -> int:
        return len({party for c in solution for party in use[c].parties})

    def rank(solution: list[str]) -> tuple[int, int, list[int], list[str]]:
        # Among equally small fixes: the one that closes more paths several times over, then the
        # one fewer parties must act on, then the more robust controls (PREFERENCE), then a stable order.
        return (-sum(coverage[c] for c in solution), parties(solution),
                sorted(_PREFERRED.get(c, len(PREFERENCE)) for c in solution), sorted(solution))

    found, exact = _minimum_hitting_sets(constraints)
    if not exact:
        found = [_greedy(constraints, coverage)]
    solutions = sorted((sorted(s) for s in found), key=rank)
    fix = solutions[0] if solutions else []
    reduce_only: dict[str, int] = {}
    for p in unclosable:
        for c in p.controls:
            if not c.closes and not c.reduces and c.layer != "model" and c.function in ("prevent", "reduce") \
                    and c.assurance == "probabilistic":
                reduce_only[c.id] = reduce_only.get(c.id, 0) + 1
    return Leverage(
        reduce_only=dict(sorted(reduce_only.items(), key=lambda kv: (-kv[1], kv[0]))),
        fix=fix,
        closes=len(closable),
        open_paths=len(open_paths),
        by_layer=by_layer,
        by_party=dict(sorted(by_party.items(), key=lambda kv: (-kv[1], kv[0]))),
        exact=exact,
        alternatives=solutions[1 : 1 + MAX_ALTERNATIVES],
        unclosable=[p.id for p in unclosable],
        responsible={c: use[c].responsible or list(ctx.resp[c].responsible) for c in fix},
        paths_closed={c: coverage[c] for c in fix},
        paths_partly={c: use[c].partly for c in fix if use[c].partly},
    )


@dataclass
class OwnFix:
    """What some parties could do by themselves (`check --party`): the smallest set of controls they
    would put in effect, and the open paths it closes."""

    parties: list[str]
    fix: list[str]
    closes: int
    open_paths: int
    exact: bool
    # For each control of the fix, the components it would act on, in the order the paths meet them:
    # "APP-TOOL-01" is which tools to withhold.
    on: dict[str, list[str]] = field(default_factory=dict)


def own_fix(paths: list[AttackPath], parties: Collection[str], acts: Callable[[str, str], str]) -> OwnFix:
    """The smallest set of controls these parties could put in effect themselves that closes every
    open path they could close alone (a control of theirs in every group the path needs). `acts`
    (component, control) names the party able to put the control there: where a control spans hops of
    several parties, the fix names only the hops that are theirs."""
    wanted = frozenset(parties)
    open_paths = [p for p in paths if p.open]
    constraints: list[frozenset[str]] = []
    coverage: dict[str, int] = {}
    closable: list[list[PathControl]] = []  # for each path they could close alone, their controls on it
    for p in open_paths:
        theirs = [c for c in p.controls if c.could_close and not c.closes and not wanted.isdisjoint(c.parties)]
        mine = {c.id for c in theirs}
        groups = [frozenset(mine.intersection(group)) for group in p.needs]
        if not groups or not all(groups):
            continue
        closable.append(theirs)
        constraints += groups
        for c in mine:
            coverage[c] = coverage.get(c, 0) + 1
    constraints = _minimal(constraints)
    found, exact = _minimum_hitting_sets(constraints)
    if not exact:
        found = [_greedy(constraints, coverage)]
    best = min((sorted(s) for s in found), default=[], key=lambda s: (
        -sum(coverage[c] for c in s), sorted(_PREFERRED.get(c, len(PREFERENCE)) for c in s), s))
    on: dict[str, dict[str, None]] = {cid: {} for cid in best}
    for theirs in closable:
        for pc in theirs:
            if pc.id in on:
                hops = [c for c in pc.components if acts(c, pc.id) in wanted]
                on[pc.id].update(dict.fromkeys(hops or pc.components))
    return OwnFix(sorted(wanted), best if closable else [], len(closable), len(open_paths), exact,
                  {cid: list(components) for cid, components in on.items()} if closable else {})


def _minimal(groups: Iterable[frozenset[str]]) -> list[frozenset[str]]:
    """The constraints a fix must meet: groups with the same controls are one, and a group that
    contains another's controls is met whenever the smaller one is, so it is dropped."""
    constraints: list[frozenset[str]] = []
    for s in sorted(set(groups), key=lambda s: (len(s), sorted(s))):
        if not any(c <= s for c in constraints):
            constraints.append(s)
    return constraints


def _alone(path: AttackPath, needs: tuple[tuple[str, ...], ...]) -> set[str]:
    """The parties that could close a path by themselves (its `needs`): each would put in effect a
    control of every group."""
    candidates = [c for c in path.controls if c.could_close and not c.closes]
    if len(needs) == 1:  # most paths: any candidate closes it
        return {party for c in candidates for party in c.parties}
    able = None
    for group in needs:
        mine = {party for c in candidates if c.id in group for party in c.parties}
        able = mine if able is None else able & mine
    return able or set()


class _Budget(Exception):
    """The exact search ran out of its node budget."""


def _minimum_hitting_sets(constraints: list[frozenset[str]]) -> tuple[list[set[str]], bool]:
    """All minimum hitting sets, by iterative deepening that branches on the constraint with the
    fewest candidates. Returns (solutions, exact); exact is False if the budget ran out."""
    if not constraints:
        return [set()], True
    budget = [EXACT_NODE_BUDGET]
    try:
        for size in range(1, len(constraints) + 1):
            found: dict[frozenset[str], None] = {}
            _search(frozenset(), constraints, size, found, budget)
            if found:
                return [set(s) for s in found], True
    except _Budget:
        pass
    return [], False


def _search(chosen: frozenset[str], remaining: list[frozenset[str]], size: int,
            found: dict[frozenset[str], None], budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise _Budget
    if not remaining:
        found[chosen] = None
        return
    if len(chosen) >= size:
        return
    pivot = min(remaining, key=len)
    for control in sorted(pivot):
        _search(chosen | {control}, [c for c in remaining if control not in c], size, found, budget)


def _greedy(constraints: list[frozenset[str]], coverage: dict[str, int]) -> set[str]:
    remaining = list(constraints)
    chosen: set[str] = set()
    while remaining:
        counts: dict[str, int] = {}
        for s in remaining:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        best = max(sorted(counts), key=lambda c: (counts[c], coverage.get(c, 0)))
        chosen.add(best)
        remaining = [s for s in remaining if best not in s]
    return chosen


# Rules whose findings are the open paths seen from another side: the fix over the paths answers them.
ABOUT_PATHS = frozenset({"open-attack-path", "lethal-trifecta", "model-is-safe", "infrastructure-only",
                         "handled-elsewhere"})


def also_needed(ctx: Context, findings: list[Finding], fix: list[str]) -> list[AlsoNeeded]:
    """High or critical open findings the path fix does not answer, each with the enforced controls
    it names that are not yet in effect (none, for a finding whose fix is a decision or a design
    change), worst first."""
    catalog = ctx.catalog.controls
    on_paths = set(ctx.paths.candidate_use)
    out = []
    for f in findings:
        if not f.is_open or f.severity not in ("high", "critical") or f.rule in ABOUT_PATHS:
            continue
        if f.rule == "unowned-control" and set(f.controls) <= on_paths:
            continue  # one of the controls that could close a path: the fix above chose among them
        controls = [c for c in f.controls if c in catalog and catalog[c].closes_paths and c not in fix
                    and not any(ctx.effective(c, comp) for comp in f.components if comp in ctx.system.components)]
        if f.controls and not controls and all(c in fix for c in f.controls if c in catalog):
            continue  # the path fix puts its controls in effect
        out.append(AlsoNeeded(f.id, f.severity, f.title, controls, list(f.responsible), f.recommendation))
    return out
