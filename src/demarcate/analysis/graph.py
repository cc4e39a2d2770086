"""The flow graph: components, and which can pass content to which.

A plain adjacency map rather than networkx: the analysis needs successors, predecessors and
reachability, and importing networkx (150–350 ms measured here) cost more than a whole `check` of a
thousand-component portfolio.
"""

from __future__ import annotations

from collections.abc import Iterable


class FlowGraph:
    def __init__(self, nodes: Iterable[str], edges: Iterable[tuple[str, str]]):
        self._succ: dict[str, list[str]] = {n: [] for n in nodes}
        self._pred: dict[str, list[str]] = {n: [] for n in self._succ}
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
