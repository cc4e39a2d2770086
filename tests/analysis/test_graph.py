"""The flow graph's marks agree with plain reachability on any graph, cycles and self-loops
included, and a 10,000-component chain needs no recursion."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from demarcate.analysis.graph import FlowGraph

NODES = [f"n{i}" for i in range(12)]


@st.composite
def graphs(draw):
    nodes = NODES[:draw(st.integers(1, len(NODES)))]
    edges = draw(st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)), max_size=40))
    marked = draw(st.sets(st.sampled_from(nodes)))
    return FlowGraph(nodes, edges), marked


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_marks_are_the_marked_ancestors_and_descendants(case):
    graph, marked = case
    up = graph.marked(marked.__contains__)
    down = graph.marked(marked.__contains__, down=True)
    for node in graph.nodes:
        assert up(node) == sorted(graph.ancestors(node) & marked)
        assert down(node) == sorted(graph.descendants(node) & marked)
        assert up.count(node) == len(graph.ancestors(node) & marked)
        assert up.any(node) == bool(graph.ancestors(node) & marked)
        assert up(node, limit=2) == sorted(graph.ancestors(node) & marked)[:2]
        # By label: here the last digit of the id, as the owner would be.
        by_digit = graph.marked(marked.__contains__, label=lambda n: n[-1])
        assert by_digit(node) == sorted({n[-1] for n in graph.ancestors(node) & marked})


@settings(max_examples=300, deadline=None)
@given(graphs(), st.lists(st.integers(0, 15), min_size=len(NODES), max_size=len(NODES)))
def test_gathered_values_are_those_of_every_component_reached(case, numbers):
    graph, marked = case
    values = {n: v for n, v in zip(NODES, numbers, strict=True) if n in marked}
    for down, reached in ((False, graph.ancestors), (True, graph.descendants)):
        gathered = graph.gathered(values, down=down)
        for node in graph.nodes:
            expected = 0
            for other in reached(node) | {node}:
                expected |= values.get(other, 0)
            assert gathered(node) == expected, (node, down)


def test_a_long_chain_and_a_long_cycle():
    names = [f"c{i:05}" for i in range(10_000)]
    chain = FlowGraph(names, pairwise(names))
    every_tenth = set(names[::10])
    up = chain.marked(every_tenth.__contains__)
    assert up.count(names[-1]) == 1_000 and up.count(names[10]) == 1 and up(names[0]) == []
    assert chain.marked(every_tenth.__contains__, down=True).count(names[0]) == 999  # not itself
    cycle = FlowGraph(names, pairwise([*names, names[0]]))
    assert cycle.marked(every_tenth.__contains__).count(names[0]) == 999  # all on the cycle but itself
    assert cycle.marked(every_tenth.__contains__).count(names[1]) == 1_000
