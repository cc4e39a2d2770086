"""The flow graph: components, and which can pass content to which.

A plain adjacency map rather than networkx: the analysis needs successors, predecessors,
reachability and strongly connected components, and importing networkx (150–350 ms measured here)
cost more than a whole `check` of a thousand-component portfolio.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


class FlowGraph:
    def __init__(self, nodes: Iterable[str], edges: Iterable[tuple[str, str]]):
        self._succ: dict[str, list[str]] = {n: [] for n in nodes}
        self._pred: dict[str, list[str]] = {n: [] for n in self._succ}
        self._sccs: list[list[str]] | None = None  # the same groups either way; only their order differs
        self._ordered: dict[bool, tuple[list[list[str]], dict[str, int]]] = {}  # by `down`: see _groups
        for a, b in edges:
            if b not in self._succ[a]:
                self._succ[a].append(b)
                self._pred[b].append(a)

    @property
    def nodes(self) -> list[str]:
        return list(self._succ)

    def successors(self, node: str) -> list[str]:
        return self._succ[node]

    def predecessors(self, node: str) -> list[str]:
        return self._pred[node]

    def descendants(self, node: str) -> set[str]:
        """Every other component content from `node` can reach."""
        return _reach(self._succ, node)

    def ancestors(self, node: str) -> set[str]:
        """Every other component whose content can reach `node`."""
        return _reach(self._pred, node)

    def marked(self, test: Callable[[str], bool], *, down: bool = False,
               label: Callable[[str], str] | None = None) -> Marked:
        """Which components passing `test` lie upstream of each component (downstream with
        `down`), other than itself: for every component at once, in time linear in the graph.
        With `label`, their labels (their owners, say) instead of their ids."""
        marked = [n for n in self._succ if test(n)]
        return Marked(self, marked, *self._groups(down), down, label)

    def gathered(self, values: dict[str, int], *, down: bool = False) -> Callable[[str], int]:
        """For each component, the union (bitwise or) of `values` over every component whose content
        reaches it, itself included (`down`: every one it reaches): the askers of every model a
        retriever feeds, say, in time linear in the graph rather than one walk per component."""
        groups, group_of = self._groups(down)
        into = self._succ if down else self._pred
        total: list[int] = []
        for g, members in enumerate(groups):  # each after every group it gathers from
            acc = 0
            for n in members:
                acc |= values.get(n, 0)
                for m in into[n]:
                    h = group_of[m]
                    if h != g:
                        acc |= total[h]
            total.append(acc)
        return lambda node: total[group_of[node]]

    def _groups(self, down: bool) -> tuple[list[list[str]], dict[str, int]]:
        """The strongly connected components, each after every one whose content flows into it
        (`down`: every one it flows into), and the index there of each component's group."""
        found = self._ordered.get(down)
        if found is None:
            if self._sccs is None:
                # Tarjan's algorithm emits a component after every one it reaches: sinks first.
                self._sccs = _strongly_connected(self._succ)
            groups = self._sccs if down else self._sccs[::-1]
            found = self._ordered[down] = (groups, {n: g for g, members in enumerate(groups) for n in members})
        return found


class Marked:
    """The marked components upstream (or downstream) of each component, other than itself.

    Asking `ancestors()` for every model of a long chain is quadratic: 10,000 components in a line
    took a minute. Here the graph is folded into its strongly connected components (everything on
    a cycle reaches everything else on it), which form a DAG; one pass over that DAG in order gives
    each group the marks of every group that feeds it, as the bits of one integer."""

    def __init__(self, graph: FlowGraph, marked: list[str], groups: list[list[str]], group_of: dict[str, int],
                 down: bool = False, label: Callable[[str], str] | None = None):
        labels = {n: label(n) if label else n for n in marked}
        self.names = sorted(set(labels.values()))
        index = {name: i for i, name in enumerate(self.names)}
        self._bit = bit = {n: 1 << index[name] for n, name in labels.items()}
        into = graph._succ if down else graph._pred
        self._group = group_of
        self._members = groups
        self._before: list[int] = []  # the marks of every other group that feeds it
        self._own: list[int] = []  # its members' marks
        for g, members in enumerate(groups):
            own = before = 0
            for n in members:
                own |= bit.get(n, 0)
                for m in into[n]:
                    h = group_of[m]
                    if h != g:
                        before |= self._before[h] | self._own[h]
            self._own.append(own)
            self._before.append(before)

    def bits(self, node: str) -> int:
        g = self._group[node]
        members = self._members[g]
        if len(members) == 1:  # on no cycle: nothing in its own group reaches it
            return self._before[g]
        if node not in self._bit:  # on a cycle with the rest of its group, which all reach it
            return self._before[g] | self._own[g]
        others = 0
        for m in members:
            if m != node:
                others |= self._bit.get(m, 0)
        return self._before[g] | others

    def any(self, node: str) -> bool:
        return bool(self.bits(node))

    def count(self, node: str) -> int:
        return self.bits(node).bit_count()

    def reaches(self, node: str, other: str) -> bool:
        """Whether `other` is one of the marks of `node` (without labels)."""
        return bool(self.bits(node) & self._bit.get(other, 0))

    def __call__(self, node: str, limit: int | None = None) -> list[str]:
        """The marked components that reach `node` (or that it reaches), or their labels, in order;
        with `limit`, the first that many."""
        return self.named(self.bits(node), limit)

    def named(self, bits: int, limit: int | None = None) -> list[str]:
        """The marks these bits stand for (of `bits()`, or several of them or'ed), in order."""
        names = self.names
        found: list[str] = []
        while bits and (limit is None or len(found) < limit):
            low = bits & -bits
            found.append(names[low.bit_length() - 1])
            bits ^= low
        return found


def _reach(adjacent: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(adjacent[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(adjacent[node])
    seen.discard(start)
    return seen


def _strongly_connected(succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, without recursion (a 10,000-component chain is
    deeper than Python's stack). Each component comes out after every component it reaches."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for root in succ:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups
