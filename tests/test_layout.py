"""The layered layout: layering, dummies, crossing reduction, cursor neighbours."""

from __future__ import annotations

import random

import pytest
from flowdev.drawing.layout import Direction, Dummy, Layout, compute_layout
from flowdev.keys import AssetKey
from flowdev.selection.graph import AssetGraph, AssetNode
from hypothesis import given, settings
from hypothesis import strategies as st


def make_graph(spec: dict[str, list[str]]) -> AssetGraph:
    """``{"child": ["parent", ...]}`` as an AssetGraph."""
    return AssetGraph(
        AssetNode(key=AssetKey(name), parents=tuple(AssetKey(p) for p in parents), group_name="g")
        for name, parents in spec.items()
    )


def random_graph(count: int, seed: int) -> AssetGraph:
    rng = random.Random(seed)
    spec: dict[str, list[str]] = {}
    for i in range(count):
        earlier = [f"n{j:03d}" for j in range(i)]
        spec[f"n{i:03d}"] = rng.sample(earlier, min(len(earlier), rng.randint(1, 3)))
    return make_graph(spec)


@st.composite
def dags(draw: st.DrawFn) -> AssetGraph:
    count = draw(st.integers(min_value=0, max_value=14))
    spec: dict[str, list[str]] = {}
    for i in range(count):
        earlier = [f"k{j}" for j in range(i)]
        parents = draw(st.lists(st.sampled_from(earlier), max_size=3)) if earlier else []
        spec[f"k{i}"] = parents
    return make_graph(spec)


def keys(*names: str) -> tuple[AssetKey, ...]:
    return tuple(AssetKey(n) for n in names)


def edges_through_links(layout: Layout) -> set[tuple[AssetKey, AssetKey]]:
    """Follow the links from every asset down through dummies to the asset they reach."""
    found = set()
    for layer, row in enumerate(layout.layers):
        for index, node in enumerate(row):
            if not isinstance(node, AssetKey):
                continue
            frontier = [(layer, index)]
            while frontier:
                at_layer, at_index = frontier.pop()
                for upper, lower in layout.links[at_layer] if at_layer < len(layout.links) else ():
                    if upper != at_index:
                        continue
                    reached = layout.layers[at_layer + 1][lower]
                    if isinstance(reached, AssetKey):
                        found.add((node, reached))
                    else:
                        assert reached.edge[0] == node, "a dummy links to the wrong edge"
                        frontier.append((at_layer + 1, lower))
    return found


DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def test_layers_are_longest_path_depths() -> None:
    layout = compute_layout(make_graph({**DIAMOND, "e": ["a"], "f": ["e", "d"]}))
    assert layout.layers == (
        keys("a"),
        keys("b", "c", "e"),
        (AssetKey("d"), Dummy(keys("e", "f"))),
        keys("f"),
    )
    assert layout.positions[AssetKey("e")] == (1, 2)
    assert layout.links == (((0, 0), (0, 1), (0, 2)), ((0, 0), (1, 0), (2, 1)), ((0, 0), (1, 0)))


def test_long_edges_get_one_dummy_per_skipped_layer() -> None:
    layout = compute_layout(make_graph({"a": [], "b": ["a"], "c": ["b"], "d": ["c", "a"]}))
    dummies = [(i, n) for i, row in enumerate(layout.layers) for n in row if isinstance(n, Dummy)]
    assert dummies == [(1, Dummy(keys("a", "d"))), (2, Dummy(keys("a", "d")))]
    assert edges_through_links(layout) == set(layout.edges)


@settings(max_examples=150, deadline=None)
@given(dags())
def test_links_join_adjacent_layers_and_route_every_edge(graph: AssetGraph) -> None:
    layout = compute_layout(graph)
    for parent, child in layout.edges:
        assert layout.positions[parent][0] < layout.positions[child][0]
    for key in layout.positions:
        parent_layers = [layout.positions[p][0] for p in layout.parents(key)]
        assert layout.positions[key][0] == 1 + max(parent_layers, default=-1)
    assert len(layout.links) == max(len(layout.layers) - 1, 0)
    for layer, pairs in enumerate(layout.links):
        for upper, lower in pairs:  # every link joins layer i to layer i + 1
            assert 0 <= upper < len(layout.layers[layer])
            assert 0 <= lower < len(layout.layers[layer + 1])
    for layer, row in enumerate(layout.layers):
        for index, node in enumerate(row):
            if isinstance(node, AssetKey):
                assert layout.positions[node] == (layer, index)
    assert edges_through_links(layout) == set(layout.edges)
    assert set(layout.edges) == {(p, k) for k in graph.keys for p in graph.parents(k)}


@settings(max_examples=150, deadline=None)
@given(dags())
def test_sweeps_never_add_crossings(graph: AssetGraph) -> None:
    assert compute_layout(graph).crossings() <= compute_layout(graph, sweeps=0).crossings()


def test_sweeps_remove_crossings_from_the_key_order() -> None:
    # By key, a sits over x and b over w, so a->w and b->x cross; so do c's and d's.
    graph = make_graph(
        {"a": [], "b": [], "c": [], "d": [], "w": ["b"], "x": ["a"], "y": ["d"], "z": ["c"]}
    )
    assert compute_layout(graph, sweeps=0).crossings() == 2
    layout = compute_layout(graph)
    assert layout.crossings() == 0
    assert layout.layers[1] == keys("x", "w", "z", "y")


def test_sweeps_help_on_a_bigger_graph() -> None:
    graph = random_graph(150, seed=3)
    before, after = compute_layout(graph, sweeps=0).crossings(), compute_layout(graph).crossings()
    assert after < before / 2


def test_crossings_counts_pairs_of_links() -> None:
    # Complete bipartite 2x2: exactly one crossing, whatever the order.
    graph = make_graph({"a": [], "b": [], "c": ["a", "b"], "d": ["a", "b"]})
    assert compute_layout(graph).crossings() == 1
    # Three parents each linked to all three children: 3 crossings per pair of parents.
    graph = make_graph({"a": [], "b": [], "c": [], **{x: ["a", "b", "c"] for x in "xyz"}})
    assert compute_layout(graph).crossings() == 9


def test_layout_is_deterministic() -> None:
    graph = random_graph(120, seed=7)
    shuffled = list(graph.nodes.values())
    random.Random(1).shuffle(shuffled)
    first, second = compute_layout(graph), compute_layout(AssetGraph(shuffled))
    assert first.layers == second.layers
    assert first.positions == second.positions
    assert first.links == second.links


def test_subset_drops_edges_through_missing_assets() -> None:
    graph = make_graph({"a": [], "b": ["a"], "c": ["b"], "d": ["c", "a"]})
    layout = compute_layout(graph, keys("a", "c", "d"))
    assert layout.edges == (keys("c", "d"), keys("a", "d"))
    # c lost its only parent, so it is a root of the subset.
    assert layout.layers == (keys("a", "c"), keys("d"))
    assert layout.parents(AssetKey("c")) == ()


def test_empty_and_single() -> None:
    empty = compute_layout(make_graph({}))
    assert (empty.layers, empty.links, len(empty), empty.crossings()) == ((), (), 0, 0)
    single = compute_layout(make_graph({"a": []}))
    assert single.layers == (keys("a"),)
    assert single.neighbour(AssetKey("a"), "down") is None


def test_parents_and_children_in_screen_order() -> None:
    layout = compute_layout(make_graph({"a": [], "b": [], "c": [], "d": ["c", "a", "b"]}))
    assert layout.parents(AssetKey("d")) == keys("a", "b", "c")
    assert layout.children(AssetKey("b")) == keys("d")


NEIGHBOURS = {**DIAMOND, "e": ["a"], "f": ["e", "d"], "p": [], "q": ["p"], "r": ["q", "p"]}


@pytest.mark.parametrize(
    ("start", "direction", "expected"),
    [
        ("a", "down", "b"),  # the child nearest in position
        ("d", "up", "b"),
        ("f", "up", "d"),  # d sits right above f; e is two places off
        ("e", "down", "f"),  # along the long edge, over its dummy
        ("b", "right", "c"),
        ("c", "left", "b"),
        ("b", "left", None),
        ("a", "up", None),
        ("f", "down", None),
    ],
)
def test_neighbour_follows_edges(start: str, direction: Direction, expected: str | None) -> None:
    layout = compute_layout(make_graph(NEIGHBOURS), keys(*"abcdef"))
    moved = layout.neighbour(AssetKey(start), direction)
    assert moved == (AssetKey(expected) if expected else None)


def test_neighbour_skips_dummies_and_falls_back_to_nearest() -> None:
    layout = compute_layout(make_graph({"a": [], "b": ["a"], "c": ["b", "a"], "p": [], "q": ["p"]}))
    assert layout.layers[1] == (AssetKey("b"), Dummy(keys("a", "c")), AssetKey("q"))
    assert layout.neighbour(AssetKey("b"), "right") == AssetKey("q")
    assert layout.neighbour(AssetKey("q"), "left") == AssetKey("b")
    # q has no children: "down" goes to the nearest asset of the next layer.
    assert layout.neighbour(AssetKey("q"), "down") == AssetKey("c")
