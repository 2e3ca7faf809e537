"""A layered (Sugiyama-style) layout of an asset graph, for drawing it on a grid.

Four steps, on plain lists of integers so that 10,000 assets and 20,000 edges lay out
in under a second (``bench/bench_layout.py``: 0.2-0.7 s; the app computes this in a
worker thread and then draws only what is visible):

1. *Layering*: each asset goes to its longest-path depth from the roots of the subset,
   so every edge points down at least one layer.
2. *Dummies*: an edge that spans several layers is cut into links between adjacent
   layers by virtual `Dummy` nodes, one per layer it passes through; a drawing can
   then route every link in the gap between two neighbouring layers.
3. *Ordering*: barycenter sweeps (down, then up) move each node towards the mean
   position of its neighbours in the layer just swept, which removes most crossings.
   The order with the fewest crossings seen is kept, so sweeping never makes it worse,
   and sweeping stops once a sweep removes less than 1% of them.
4. *Result*: a frozen `Layout` with the layers, each asset's ``(layer, position)``,
   the links between adjacent layers, and neighbour queries for moving a cursor.

Everything is deterministic and independent of the order the graph was built in: each
layer starts in key order (dummies after the assets), and sorts are stable, so equal
barycenters keep their previous order.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, TypeAlias

from flowdev.keys import AssetKey
from flowdev.records import FrozenDict, record
from flowdev.selection.graph import AssetGraph

Direction = Literal["up", "down", "left", "right"]


@record
class Dummy:
    """Where a long edge passes through a layer it does not stop in.

    One object per edge, shared by every layer the edge passes through (a layer holds
    at most one dummy of an edge), so a layout of thousands of long edges stays small.
    """

    edge: tuple[AssetKey, AssetKey]


LayoutNode: TypeAlias = AssetKey | Dummy

# For each node id, the ids it links to in the layer above (or below).
Adjacency: TypeAlias = list[Sequence[int]]


@record
class Layout:
    """Where each asset of a graph (or of a subset) sits on a layered grid.

    Attributes:
        layers: Each layer's nodes in left-to-right order: asset keys and the
            `Dummy` nodes of edges that pass through the layer.
        positions: Each asset key's ``(layer, index in that layer)``.
        edges: Every edge between two assets of the subset, as ``(parent, child)``.
        links: ``links[i]`` holds the ``(upper index, lower index)`` pairs joining
            layer ``i`` to layer ``i + 1`` (sorted); together they route every edge
            through its dummies.
        parents_by_key: Each asset's parents inside the layout (see `parents`).
        children_by_key: Each asset's children inside the layout (see `children`).
    """

    layers: tuple[tuple[LayoutNode, ...], ...]
    positions: Mapping[AssetKey, tuple[int, int]]
    edges: tuple[tuple[AssetKey, AssetKey], ...]
    links: tuple[tuple[tuple[int, int], ...], ...]
    parents_by_key: Mapping[AssetKey, tuple[AssetKey, ...]]
    children_by_key: Mapping[AssetKey, tuple[AssetKey, ...]]

    def __len__(self) -> int:
        return len(self.positions)

    def crossings(self) -> int:
        """How many pairs of links cross, summed over every pair of adjacent layers."""
        return sum(_count_crossings(pairs) for pairs in self.links)

    def parents(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """The direct upstream keys of ``key`` inside the layout, left to right."""
        return tuple(sorted(self.parents_by_key[key], key=self._horizontal))

    def children(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """The direct downstream keys of ``key`` inside the layout, left to right."""
        return tuple(sorted(self.children_by_key[key], key=self._horizontal))

    def _horizontal(self, key: AssetKey) -> tuple[int, int]:
        layer, index = self.positions[key]
        return index, layer

    def neighbour(self, key: AssetKey, direction: Direction) -> AssetKey | None:
        """The asset a cursor on ``key`` moves to, in screen terms (roots at the top).

        ``"left"`` and ``"right"`` step to the next asset in the same layer, skipping
        dummies. ``"up"`` and ``"down"`` follow an edge to the parent or child nearest
        in position; from a key with none, they move to the nearest asset in the
        closest layer above or below that has one. None when there is nowhere to go.
        """
        layer, index = self.positions[key]
        if direction in ("left", "right"):
            step = -1 if direction == "left" else 1
            row = self.layers[layer]
            index += step
            while 0 <= index < len(row):
                node = row[index]
                if isinstance(node, AssetKey):
                    return node
                index += step
            return None
        linked = self.parents(key) if direction == "up" else self.children(key)
        if linked:  # min() keeps the leftmost of equally near ones
            return min(linked, key=lambda other: abs(self.positions[other][1] - index))
        step = -1 if direction == "up" else 1
        layer += step
        while 0 <= layer < len(self.layers):
            assets = [n for n in self.layers[layer] if isinstance(n, AssetKey)]
            if assets:
                return min(assets, key=lambda other: abs(self.positions[other][1] - index))
            layer += step
        return None


def compute_layout(
    graph: AssetGraph,
    keys: Iterable[AssetKey] | None = None,
    *,
    sweeps: int = 4,
    by_group: bool = False,
) -> Layout:
    """Lay out ``graph`` (or only ``keys`` of it) in layers, roots on top.

    Args:
        graph: The asset graph.
        keys: The assets to lay out (default: all). Edges through assets left out are
            dropped, and layers are counted from the roots of this subset.
        sweeps: The most down-and-up barycenter sweeps to run; 0 keeps the initial
            order (by key, dummies after the assets), to measure what sweeps gain.
        by_group: Keep each group's assets side by side in every layer, so that a
            drawing can label each group once per layer: the sweeps then order the
            groups by the mean barycenter of their assets, and the assets within each
            group (dummies go between groups). Costs some crossings.

    Returns:
        The `Layout`.
    """
    order = graph.toposort(keys)
    count = len(order)
    index = dict(zip(order, range(count), strict=True))
    nodes = graph.nodes

    # Layering: longest path from the subset's roots, in topological order.
    layer_of = [0] * count
    parent_ids: list[list[int]] = []
    for child, key in enumerate(order):
        ids = [i for i in map(index.get, nodes[key].parents) if i is not None]
        if len(ids) > 1:
            ids = list(dict.fromkeys(ids))  # a parent listed twice is still one edge
        parent_ids.append(ids)
        if ids:
            layer_of[child] = 1 + max(map(layer_of.__getitem__, ids))
    depth = 1 + max(layer_of, default=-1)

    # Dummies get ids from `count` on; each has one link up and one down, kept in
    # tuples, which the garbage collector soon stops tracking (there can be 50,000+).
    up_real: list[list[int]] = [[] for _ in range(count)]
    down_real: list[list[int]] = [[] for _ in range(count)]
    up_dummy: list[tuple[int]] = []
    down_dummy: list[tuple[int]] = []
    dummy_of: list[Dummy] = []
    # The initial order, and so every tie after it, goes by key, whatever order the
    # graph was built in; dummies start after the assets of their layer.
    group_of: list[int] | None = None
    if by_group:
        names = sorted({nodes[key].group_name for key in order})
        rank = {name: i for i, name in enumerate(names)}
        group_of = [rank[nodes[key].group_name] for key in order]
        by_key = sorted(range(count), key=lambda i: (group_of[i], order[i].path))
    else:
        by_key = sorted(range(count), key=lambda i: order[i].path)
    rows: list[list[int]] = [[] for _ in range(depth)]
    for i in by_key:
        rows[layer_of[i]].append(i)
    edges: list[tuple[AssetKey, AssetKey]] = []
    children_ids: list[list[int]] = [[] for _ in range(count)]
    for child in by_key:
        for parent in parent_ids[child]:
            edge = (order[parent], order[child])
            edges.append(edge)
            children_ids[parent].append(child)
            first, last = layer_of[parent] + 1, layer_of[child] - 1
            if first > last:
                down_real[parent].append(child)
                up_real[child].append(parent)
                continue
            dummy = count + len(dummy_of)
            down_real[parent].append(dummy)
            up_dummy.append((parent,))
            for layer in range(first, last):
                rows[layer].append(dummy)
                down_dummy.append((dummy + 1,))
                up_dummy.append((dummy,))
                dummy += 1
            rows[last].append(dummy)
            down_dummy.append((child,))
            up_real[child].append(dummy)
            dummy_of.extend([Dummy(edge)] * (last - first + 1))
    up: Adjacency = [*up_real, *up_dummy]
    down: Adjacency = [*down_real, *down_dummy]

    pos = [0] * len(up)
    for row in rows:
        for i, node in enumerate(row):
            pos[node] = i
    if sweeps > 0:
        rows = _reduce_crossings(rows, up, down, pos, sweeps, group_of)

    keys_of = order.__getitem__
    by_index: list[LayoutNode] = [*order, *dummy_of]
    return Layout(
        layers=tuple(tuple(by_index[index] for index in row) for row in rows),
        positions=FrozenDict(zip(order, zip(layer_of, pos, strict=False), strict=True)),
        edges=tuple(edges),
        links=tuple(_links(rows[i], down, pos) for i in range(depth - 1)),
        parents_by_key=FrozenDict(
            zip(order, (tuple(map(keys_of, ids)) for ids in parent_ids), strict=True)
        ),
        children_by_key=FrozenDict(
            zip(order, (tuple(map(keys_of, ids)) for ids in children_ids), strict=True)
        ),
    )


def _links(row: list[int], down: Adjacency, pos: list[int]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((pos[node], pos[lower]) for node in row for lower in down[node]))


def _reduce_crossings(
    rows: list[list[int]],
    up: Adjacency,
    down: Adjacency,
    pos: list[int],
    sweeps: int,
    group_of: list[int] | None,
) -> list[list[int]]:
    """Barycenter sweeps; returns the best rows seen and leaves ``pos`` matching them."""
    best_rows = [row[:] for row in rows]
    best = _total_crossings(rows, down, pos)
    for _ in range(sweeps):
        if best == 0:
            break
        for layer in range(1, len(rows)):
            rows[layer] = _sort_by_barycenter(rows[layer], up, pos, group_of)
        for layer in range(len(rows) - 2, -1, -1):
            rows[layer] = _sort_by_barycenter(rows[layer], down, pos, group_of)
        crossings = _total_crossings(rows, down, pos)
        previous = best
        if crossings < best:
            best, best_rows = crossings, [row[:] for row in rows]
        # Sweeps converge fast and then oscillate: stop once one removes under 1%.
        if (previous - crossings) * 100 < previous:
            break
    for row in best_rows:
        for i, node in enumerate(row):
            pos[node] = i
    return best_rows


def _sort_by_barycenter(
    row: list[int], linked: Adjacency, pos: list[int], group_of: list[int] | None = None
) -> list[int]:
    at = pos.__getitem__
    # Most nodes of a big graph are dummies with one link: keep that case cheap.
    centers = [
        at(others[0])
        if len(others) == 1
        else sum(map(at, others)) / len(others)
        if others
        # Nothing pulls it: stay put.
        else at(node)
        for node, others in zip(row, map(linked.__getitem__, row), strict=True)
    ]
    order_key = centers.__getitem__ if group_of is None else _group_keys(row, centers, group_of)
    # Stable sort: equal centers keep their current (initially key) order.
    new_row = [row[i] for i in sorted(range(len(row)), key=order_key)]
    for i, node in enumerate(new_row):
        pos[node] = i
    return new_row


def _group_keys(
    row: list[int], centers: list[float], group_of: list[int]
) -> Callable[[int], tuple[float, int, float]]:
    """Sort keys that keep groups together: (the group's mean center, dummies after the
    assets it ties with, the node's own center). A dummy is a group of its own."""
    assets = len(group_of)
    sums: dict[int, list[float]] = {}
    for node, center in zip(row, centers, strict=True):
        if node < assets:
            total = sums.setdefault(group_of[node], [0.0, 0])
            total[0] += center
            total[1] += 1
    means = {group: total / size for group, (total, size) in sums.items()}
    keys = [
        (means[group_of[node]], 0, center) if node < assets else (center, 1, center)
        for node, center in zip(row, centers, strict=True)
    ]
    return keys.__getitem__


def _total_crossings(rows: list[list[int]], down: Adjacency, pos: list[int]) -> int:
    at = pos.__getitem__
    total = 0
    for row in rows[:-1]:
        lower_ends: list[int] = []
        for others in map(down.__getitem__, row):
            if len(others) == 1:
                lower_ends.append(at(others[0]))
            elif others:
                # A node's own links never cross each other: take them left to right.
                lower_ends.extend(sorted(map(at, others)))
        total += _inversions(lower_ends)
    return total


def _count_crossings(pairs: Iterable[tuple[int, int]]) -> int:
    return _inversions([lower for _, lower in sorted(pairs)])


def _inversions(lower_ends: list[int]) -> int:
    """Pairs of links that cross, given their lower ends ordered by upper end.

    A link crosses every link that starts further left and ends further right.
    """
    total = 0
    seen: list[int] = []  # sorted; insort's memmove beats a Fenwick tree in Python
    for lower in lower_ends:
        at = bisect_right(seen, lower)
        total += len(seen) - at
        seen.insert(at, lower)
    return total
