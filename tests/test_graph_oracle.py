"""The asset graph against networkx, on random graphs.

flowdev's graph is hand-written for the load path (networkx takes ~150 ms to import;
a whole 10,000-asset load takes ~130 ms); networkx is the independent oracle it is
checked against here, through `AssetGraph.to_networkx`.
"""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from flowdev.errors import CycleError
from flowdev.keys import AssetKey
from flowdev.selection.graph import AssetGraph, AssetNode
from hypothesis import given, settings
from hypothesis import strategies as st


@st.composite
def dags(draw: st.DrawFn) -> AssetGraph:
    """Random DAGs of up to 25 keys, listed in a random order."""
    size = draw(st.integers(min_value=1, max_value=25))
    nodes = [
        AssetNode(
            key=AssetKey(f"n{index}"),
            parents=tuple(
                AssetKey(f"n{p}")
                for p in sorted(draw(st.sets(st.integers(0, index - 1), max_size=4)))
            )
            if index
            else (),
        )
        for index in range(size)
    ]
    return AssetGraph(draw(st.permutations(nodes)))


def _within(graph: nx.DiGraph, starts: set[AssetKey], depth: int | None) -> set[AssetKey]:
    found = set(starts)
    for start in starts:
        found |= set(nx.single_source_shortest_path_length(graph, start, cutoff=depth))
    return found


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_upstream_and_downstream_are_networkx_ancestors_and_descendants(
    graph: AssetGraph, data: st.DataObject
) -> None:
    oracle = graph.to_networkx()
    starts = set(data.draw(st.sets(st.sampled_from(graph.keys), min_size=1, max_size=3)))
    depth = data.draw(st.none() | st.integers(0, 4))

    assert graph.upstream(starts, depth) == _within(oracle.reverse(copy=False), starts, depth)
    assert graph.downstream(starts, depth) == _within(oracle, starts, depth)
    if depth is None:
        start = next(iter(starts))
        assert graph.upstream({start}) == nx.ancestors(oracle, start) | {start}
        assert graph.downstream({start}) == nx.descendants(oracle, start) | {start}


@settings(max_examples=200, deadline=None)
@given(dags())
def test_the_order_and_the_layers_are_networkx_topological_ones(graph: AssetGraph) -> None:
    oracle = graph.to_networkx()

    order = list(graph.keys)
    position = {key: index for index, key in enumerate(order)}
    assert set(order) == set(oracle) and len(order) == len(oracle)
    assert all(position[parent] < position[child] for parent, child in oracle.edges)
    assert [set(layer) for layer in graph.layers()] == [
        set(generation) for generation in nx.topological_generations(oracle)
    ]
    assert graph.roots(graph.keys) == {k for k in oracle if oracle.in_degree(k) == 0}
    assert graph.sinks(graph.keys) == {k for k in oracle if oracle.out_degree(k) == 0}


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_a_cycle_is_refused_with_a_path_networkx_agrees_is_a_cycle(
    graph: AssetGraph, data: st.DataObject
) -> None:
    # Close a cycle: an edge from a key back to one of its ancestors (or to itself).
    oracle = graph.to_networkx()
    child = data.draw(st.sampled_from(graph.keys))
    ancestor = data.draw(st.sampled_from(sorted(nx.ancestors(oracle, child) | {child})))
    parents = {key: graph.parents(key) for key in graph.keys}
    parents[ancestor] = (*parents[ancestor], child)
    cyclic = nx.DiGraph([(p, k) for k, ps in parents.items() for p in ps])
    assert not nx.is_directed_acyclic_graph(cyclic)

    with pytest.raises(CycleError) as caught:
        AssetGraph([AssetNode(key=k, parents=ps) for k, ps in parents.items()])

    path = [AssetKey.from_user_string(name) for name in caught.value.path]
    assert path[0] == path[-1] and len(set(path)) == len(path) - 1
    assert all(cyclic.has_edge(a, b) for a, b in itertools.pairwise(path))
