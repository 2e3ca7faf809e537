"""The asset graph's construction: its stable topological order, and what it refuses."""

import itertools
import random
from collections import deque

import pytest
from flowdev.errors import CycleError
from flowdev.keys import AssetKey
from flowdev.selection.graph import AssetGraph, AssetNode


def node(name: str, *parents: str) -> AssetNode:
    return AssetNode(key=AssetKey(name), parents=tuple(AssetKey(p) for p in parents))


def reference_order(nodes: list[AssetNode]) -> list[AssetKey]:
    """Kahn's algorithm as written down: sorted roots, then first in, first out."""
    pending = {n.key: len(n.parents) for n in nodes}
    children: dict[AssetKey, list[AssetKey]] = {n.key: [] for n in nodes}
    for n in nodes:
        for parent in n.parents:
            children[parent].append(n.key)
    ready = deque(sorted(k for k, count in pending.items() if count == 0))
    order = []
    while ready:
        key = ready.popleft()
        order.append(key)
        for child in children[key]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return order


@pytest.mark.parametrize("seed", range(20))
def test_the_order_is_kahns_with_sorted_roots(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(60)]
    nodes = [
        node(name, *sorted({names[rng.randrange(i)] for _ in range(rng.randrange(3))}))
        if i
        else node(name)
        for i, name in enumerate(names)
    ]
    rng.shuffle(nodes)

    graph = AssetGraph(nodes)

    assert list(graph.keys) == reference_order(nodes)


def test_a_parent_that_is_not_a_node_is_named() -> None:
    with pytest.raises(KeyError, match="'b' depends on 'missing'"):
        AssetGraph([node("a"), node("b", "a", "missing")])


def test_a_cycle_is_reported_upstream_first() -> None:
    nodes = [node("a", "c"), node("b", "a"), node("c", "b"), node("d", "c")]
    parents = {n.key.to_user_string(): {p.to_user_string() for p in n.parents} for n in nodes}

    with pytest.raises(CycleError) as caught:
        AssetGraph(nodes)

    path = caught.value.path
    assert path[0] == path[-1] and sorted(path[:-1]) == ["a", "b", "c"]
    assert all(up in parents[down] for up, down in itertools.pairwise(path))


def test_neighbours_of_an_unknown_key_raise() -> None:
    graph = AssetGraph([node("a"), node("b", "a")])

    assert graph.children(AssetKey("a")) == (AssetKey("b"),)
    assert graph.children(AssetKey("b")) == ()
    with pytest.raises(KeyError):
        graph.children(AssetKey("nope"))
    with pytest.raises(KeyError):
        graph.downstream([AssetKey("nope")])
