"""The asset graph's grid: a layout placed on columns, every edge routed between layers.

Shared by the CLI's drawing (`flowdev.drawing.text`, three-line boxes) and the app's
graph pane (`flowdev.tui.widgets`, one-line nodes): `build_grid` places a layout on
columns and routes its links into a `Grid`, which says nothing of how tall a layer is or
what a node looks like, and which draws any rectangle on demand (`Grid.items_between`,
`Channel.line`), as a scrolling view needs.

No routing is ambiguous: edges only flow down; ``├ ┤ ┬ ┴`` and corners join lines of
the same edges (a fork under its source, a merge into its target), while ``┼`` is
only ever two unrelated lines crossing.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter
from heapq import heappop, heappush
from types import MappingProxyType
from typing import TypeAlias

from flowdev.drawing.layout import Dummy, Layout
from flowdev.keys import AssetKey
from flowdev.records import field, record

_N, _E, _S, _W = 1, 2, 4, 8
_GLYPHS = {
    _N | _S: "│", _E | _W: "─", _N | _E: "╰", _N | _W: "╯", _S | _E: "╭", _S | _W: "╮",
    _N | _S | _E: "├", _N | _S | _W: "┤", _E | _W | _S: "┬", _E | _W | _N: "┴",
    _N | _E | _S | _W: "┼",
}  # fmt: skip


@record
class GroupLabel:
    """A group's label, placed in a layer before a run of that group's assets."""

    text: str


GridItem: TypeAlias = AssetKey | Dummy | GroupLabel


@record
class Channel:
    """The lines between two adjacent layers of a `Grid`, drawn one row at a time.

    A link runs straight down its column, or takes its source's *bus*: a horizontal
    on one row, reached by a line down from the source, with a line down from it to
    each target (``╰──┬───╮`` or ``╭─┴─┬─╮``). A source with a straight link too has
    one bus per side, on different rows, so that ``┼`` only ever means two unrelated
    lines crossing.

    Attributes:
        height: The rows between the two layers (at least 1).
        straight: The columns of straight links, sorted.
        sources: ``(source column, row, left end, right end)`` of each bus, sorted.
        taps: ``(target column, row, left end, right end)`` of each bus's targets, sorted.
        spans: For each row, the ``(right end, left end)`` of its buses, sorted.
    """

    height: int
    straight: tuple[int, ...]
    sources: tuple[tuple[int, int, int, int], ...]
    taps: tuple[tuple[int, int, int, int], ...]
    spans: tuple[tuple[tuple[int, int], ...], ...]

    def line(self, row: int, start: int, end: int) -> str:
        """Columns ``start`` to ``end`` (exclusive) of ``row``, blanks as spaces.

        Only the lines that touch those columns are looked at, so drawing a screenful
        of a 10,000-asset graph costs the same as drawing one of ten.
        """
        bits = [0] * (end - start)
        straight = self.straight
        for column in straight[bisect_left(straight, start) : bisect_left(straight, end)]:
            bits[column - start] |= _N | _S
        first, last = (start, -1, -1, -1), (end, -1, -1, -1)
        sources = self.sources
        for column, at, left, right in sources[
            bisect_left(sources, first) : bisect_left(sources, last)
        ]:
            if at > row:
                bits[column - start] |= _N | _S
            elif at == row:
                bits[column - start] |= (
                    _N | (_W if left < column else 0) | (_E if right > column else 0)
                )
        taps = self.taps
        for column, at, left, right in taps[bisect_left(taps, first) : bisect_left(taps, last)]:
            if at < row:
                bits[column - start] |= _N | _S
            elif at == row:
                bits[column - start] |= (
                    _S | (_W if left < column else 0) | (_E if right > column else 0)
                )
        spans = self.spans[row] if row < len(self.spans) else ()
        for right, left in spans[bisect_left(spans, (start, -1)) :]:
            if left >= end:
                break
            for column in range(max(left + 1, start), min(right, end)):
                bits[column - start] |= _E | _W
        return "".join(_GLYPHS.get(cell, " ") for cell in bits)


@record
class Grid:
    """A layout placed on columns, with every link routed: what a drawing draws.

    Text-free: each drawing decides how tall a layer is and what a node looks like (the
    CLI draws three-line boxes, the app one-line nodes), and can draw any rectangle of
    it on demand, which is what a scrolling view needs.

    Attributes:
        layout: The layout placed.
        items: Each layer's items left to right: its assets and dummies, and a
            `GroupLabel` before each run of one group's assets when labels were asked for.
        lefts: Each item's first column.
        widths: Each item's columns (a dummy's is 1: the column its line passes in).
        in_ports: Each item's columns where links from the layer above arrive, left to right.
        out_ports: Each item's column where its links to the layer below leave, if any.
        channels: ``channels[i]`` holds the lines between layer ``i`` and ``i + 1``.
        width: The columns of the whole grid.
        item_index: Each asset's index among its layer's items (derived from the rest,
            so left out of equality).
    """

    layout: Layout
    items: tuple[tuple[GridItem, ...], ...]
    lefts: tuple[tuple[int, ...], ...]
    widths: tuple[tuple[int, ...], ...]
    in_ports: tuple[tuple[tuple[int, ...], ...], ...]
    out_ports: tuple[tuple[int | None, ...], ...]
    channels: tuple[Channel, ...]
    width: int
    item_index: Mapping[AssetKey, int] = field(repr=False, compare=False)

    def place(self, key: AssetKey) -> tuple[int, int, int]:
        """``(layer, first column, width)`` of the asset ``key``."""
        layer = self.layout.positions[key][0]
        index = self.item_index[key]
        return layer, self.lefts[layer][index], self.widths[layer][index]

    def items_between(self, layer: int, start: int, end: int) -> range:
        """The indices of the items of ``layer`` that overlap columns ``start`` to ``end``."""
        lefts = self.lefts[layer]
        first = bisect_right(lefts, start) - 1
        if first < 0 or lefts[first] + self.widths[layer][first] <= start:
            first += 1
        return range(first, bisect_left(lefts, end))


def build_grid(
    layout: Layout,
    content_widths: Mapping[AssetKey, int],
    *,
    padding: int,
    group_labels: Mapping[AssetKey, str] | None = None,
    max_width: int | None = None,
    strict: bool = True,
) -> Grid | None:
    """Place ``layout`` on columns and route each link between adjacent layers.

    An asset is ``content_widths[key] + padding`` columns wide, or wider when more than
    one link arrives, so that its ports stay two columns apart. It has one port at the
    bottom for all its outgoing links (they fork below it) and one port per incoming
    link, so that lines never merge above it: merging there too would let a line seem
    to run from one fork into another edge's merge.

    Args:
        layout: The layout to place.
        content_widths: The columns each asset's own text takes.
        padding: Columns added to each asset's text (a box's borders and margins).
        group_labels: A label for each asset's group: a `GroupLabel` of that width is
            placed before each run of assets with the same label in a layer.
        max_width: The columns available: None if the grid is wider.
        strict: None when a channel cannot be routed without two lines sharing a
            column; with False such lines are routed anyway, overlapping.

    Returns:
        The `Grid`, or None (see ``max_width`` and ``strict``).
    """
    items, index = _grid_items(layout, group_labels)
    ups: list[list[list[int]]] = [[[] for _ in row] for row in items]
    downs: list[list[list[tuple[int, int]]]] = [[[] for _ in row] for row in items]
    links = []
    for layer, pairs in enumerate(layout.links):
        upper_at, lower_at = index[layer], index[layer + 1]
        # Sorted, so each ups list comes out left to right.
        links.append(tuple((upper_at[u], lower_at[v]) for u, v in pairs))
        for upper, lower in links[-1]:
            downs[layer][upper].append((lower, len(ups[layer + 1][lower])))
            ups[layer + 1][lower].append(upper)
    widths = [
        [
            max(content_widths[node] + padding, 2 * len(ins) + 3 if len(ins) > 1 else 0)
            if isinstance(node, AssetKey)
            else len(node.text)
            if isinstance(node, GroupLabel)
            else 1
            for node, ins in zip(row, ups[layer], strict=True)
        ]
        for layer, row in enumerate(items)
    ]
    if max_width is not None and max(sum(row) + 2 * len(row) - 2 for row in widths) > max_width:
        return None  # even packed tight, a layer would not fit
    lefts = _place(widths, ups, downs)
    for row, row_lefts, row_widths in zip(items, lefts, widths, strict=True):
        for i, item in enumerate(row):
            if isinstance(item, GroupLabel):  # to the right, beside its first asset
                row_lefts[i] = row_lefts[i + 1] - row_widths[i] - 1
    total = max(
        (row_l[-1] + row_w[-1] for row_l, row_w in zip(lefts, widths, strict=True)), default=0
    )
    if max_width is not None and total > max_width:
        return None
    in_ports = [
        [
            tuple(left + _port(w, slot, len(ins)) for slot in range(len(ins)))
            for left, w, ins in zip(*row, strict=True)
        ]
        for row in zip(lefts, widths, ups, strict=True)
    ]
    out_ports = [
        [left + _port(w, 0, 1) if outs else None for left, w, outs in zip(*row, strict=True)]
        for row in zip(lefts, widths, downs, strict=True)
    ]
    channels = []
    for layer, pairs in enumerate(links):
        sources = [port if port is not None else -1 for port in out_ports[layer]]
        targets = [in_ports[layer + 1][v][ups[layer + 1][v].index(u)] for u, v in pairs]
        channel = _route(pairs, sources, targets, strict)
        if channel is None:
            return None
        channels.append(channel)
    return Grid(
        layout=layout,
        items=tuple(map(tuple, items)),
        lefts=tuple(map(tuple, lefts)),
        widths=tuple(map(tuple, widths)),
        in_ports=tuple(map(tuple, in_ports)),
        out_ports=tuple(map(tuple, out_ports)),
        channels=tuple(channels),
        width=total,
        item_index=MappingProxyType(
            {key: index[layer][i] for key, (layer, i) in layout.positions.items()}
        ),
    )


def _grid_items(
    layout: Layout, group_labels: Mapping[AssetKey, str] | None
) -> tuple[list[list[GridItem]], list[list[int]]]:
    """Each layer's items, and where each layout node went among them."""
    if not group_labels:
        return [list(row) for row in layout.layers], [
            list(range(len(row))) for row in layout.layers
        ]
    items: list[list[GridItem]] = []
    index: list[list[int]] = []
    for row in layout.layers:
        placed: list[GridItem] = []
        at: list[int] = []
        current = None
        for node in row:
            if isinstance(node, AssetKey) and group_labels[node] != current:
                current = group_labels[node]
                placed.append(GroupLabel(current))
            at.append(len(placed))
            placed.append(node)
        items.append(placed)
        index.append(at)
    return items, index


def _port(width: int, slot: int, count: int) -> int:
    """The column, from a box's left edge, of port ``slot`` of ``count`` spread along it."""
    return round((slot + 1) * (width - 1) / (count + 1))


def _place(
    widths: list[list[int]], ups: list[list[list[int]]], downs: list[list[list[tuple[int, int]]]]
) -> list[list[int]]:
    """Each node's left column: its ports near the ports they link to, in order, no overlaps."""
    lefts = [_pack(row, [0.0] * len(row)) for row in widths]
    depth = len(widths)
    # Down, up, down: parents pull children under them, then children pull parents back.
    for layer, pull in [
        *((i, "down") for i in range(1, depth)),
        *((i, "up") for i in range(depth - 2, -1, -1)),
        *((i, "down") for i in range(1, depth)),
    ]:
        wanted: list[float] = []
        for i, (w, left) in enumerate(zip(widths[layer], lefts[layer], strict=True)):
            if pull == "down":
                above, aw = lefts[layer - 1], widths[layer - 1]
                ins = ups[layer][i]
                spots = [
                    above[u] + _port(aw[u], 0, 1) - _port(w, s, len(ins)) for s, u in enumerate(ins)
                ]
            else:
                below, bw = lefts[layer + 1], widths[layer + 1]
                spots = [
                    below[v] + _port(bw[v], s, len(ups[layer + 1][v])) - _port(w, 0, 1)
                    for v, s in downs[layer][i]
                ]
            wanted.append(sum(spots) / len(spots) if spots else left)
        lefts[layer] = _pack(widths[layer], wanted)
    shift = min(row[0] for row in lefts if row)
    return [[left - shift for left in row] for row in lefts]


def _pack(widths: list[int], wanted: list[float]) -> list[int]:
    """Lefts closest to ``wanted`` (least squares) that keep the order and the gaps.

    Subtracting each node's minimum offset from the row start turns "no overlap" into
    "non-decreasing", which pool-adjacent-violators solves in one pass. Dummies weigh
    more, so long edges stay straight while boxes move aside.
    """
    offsets = [0]
    for a, b in itertools.pairwise(widths):
        # Three blank columns between boxes: ports then sit evenly between them.
        offsets.append(offsets[-1] + a + (a > 1) + (b > 1) + 1)
    blocks: list[list[float]] = []  # [value, weight, size]
    for want, offset, w in zip(wanted, offsets, widths, strict=True):
        blocks.append([want - offset, 1.0 if w > 1 else 3.0, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            value, weight, size = blocks.pop()
            merged = blocks[-1]
            merged[0] = (merged[0] * merged[1] + value * weight) / (merged[1] + weight)
            merged[1] += weight
            merged[2] += size
    fitted = [value for value, _, size in blocks for _ in range(int(size))]
    return [round(value) + offset for value, offset in zip(fitted, offsets, strict=True)]


def _route(
    pairs: tuple[tuple[int, int], ...], sources: list[int], targets: list[int], strict: bool
) -> Channel | None:
    """The lines between two layers, given each upper node's port column (``sources``)
    and each link's own port column on its lower node (``targets``).

    Each source's bent links take one bus (see `Channel`); a row holds buses that do
    not touch. Where a source is straight above a target of another bus, the source's
    buses come first, so the lines never overlap; and of two buses into one box, the
    nearer comes first, so a node's own links never cross. If those rules contradict
    each other: None when ``strict`` (the CLI then draws lanes), else a route that
    breaks as few of the first rule's as it can.
    """
    straight = {sources[u] for (u, _), t in zip(pairs, targets, strict=True) if sources[u] == t}
    bent: dict[int, list[tuple[int, int]]] = defaultdict(list)  # upper -> (lower, target)
    for (u, v), t in zip(pairs, targets, strict=True):
        if sources[u] != t:
            bent[u].append((v, t))
    buses: list[tuple[int, list[int]]] = []  # (source column, target columns)
    bus_of: dict[tuple[int, int], int] = {}  # (upper, lower) -> bus
    for u, links in bent.items():
        port = sources[u]
        sides = [[link for link in links if (link[1] > port) == right] for right in (False, True)]
        # With a straight link too, one bus across the port would draw "┼" there.
        for side in sides if port in straight else [links]:
            if side:
                for v, _ in side:
                    bus_of[(u, v)] = len(buses)
                buses.append((port, [t for _, t in side]))
    bus_at = {t: b for b, (_, ts) in enumerate(buses) for t in ts}
    must: set[tuple[int, int]] = set()
    for b, (port, _) in enumerate(buses):
        below = bus_at.get(port)
        if below is not None:
            must.add((b, below))
    nice: set[tuple[int, int]] = set()
    into: dict[int, list[tuple[int, int]]] = defaultdict(list)  # lower -> (upper, target)
    for u, links in bent.items():
        for v, t in links:
            into[v].append((u, t))
    for v, links in into.items():
        for right in (False, True):  # nearest first
            side = sorted(
                ((u, t) for u, t in links if (sources[u] > t) == right),
                key=lambda link: abs(sources[link[0]] - link[1]),
            )
            nice.update(
                (bus_of[(a, v)], bus_of[(c, v)]) for (a, _), (c, _) in itertools.pairwise(side)
            )
    before = _topological(len(buses), must | nice)
    if before is None:
        before = _topological(len(buses), must)
    if before is None:
        if strict:
            return None
        before = _relaxed_order(len(buses), must)
    ends = [(min(port, *ts), max(port, *ts)) for port, ts in buses]
    taken = _TakenRows(sorted({end for pair in ends for end in pair}))
    row_of = [0] * len(buses)
    rows: list[list[tuple[int, int]]] = []  # each row's buses as (right end, left end)
    for b, earlier in before.items():
        lo, hi = ends[b]
        row = taken.first_free(lo, hi, max((row_of[a] + 1 for a in earlier), default=0))
        taken.take(lo, hi, row)
        if row == len(rows):
            rows.append([])
        insort(rows[row], (hi, lo))
        row_of[b] = row
    return Channel(
        height=max(1, len(rows)),
        straight=tuple(sorted(straight)),
        sources=tuple(
            sorted(
                (port, row, *ends[b])
                for b, ((port, _), row) in enumerate(zip(buses, row_of, strict=True))
            )
        ),
        taps=tuple(
            sorted(
                (t, row, *ends[b])
                for b, ((_, ts), row) in enumerate(zip(buses, row_of, strict=True))
                for t in ts
            )
        ),
        spans=tuple(tuple(row) for row in rows),
    )


class _TakenRows:
    """Which rows of a channel are taken at which columns, to find the first row where
    a new bus fits without scanning every row above it.

    A segment tree over the bus ends' columns (two closed spans overlap or not
    whatever happens between their ends) whose nodes hold sets of rows as bits of an
    int: ``cover`` the rows of buses spanning all of a node's columns (recorded at the
    fewest nodes that make up the bus), ``touch`` the rows of buses spanning some.
    """

    __slots__ = ("_cover", "_rank", "_size", "_touch")

    def __init__(self, columns: list[int]) -> None:
        self._rank = {column: i for i, column in enumerate(columns)}
        self._size = 1 << max(0, len(columns) - 1).bit_length()
        self._cover = [0] * (2 * self._size)
        self._touch = [0] * (2 * self._size)

    def first_free(self, lo: int, hi: int, lowest: int) -> int:
        """The first row from ``lowest`` on with nothing between ``lo`` and ``hi``."""
        cover, touch = self._cover, self._touch
        left, right = self._rank[lo] + self._size, self._rank[hi] + self._size
        rows = 0
        # Buses over a node on the way up from either end also span that end.
        at = left
        while at:
            rows |= cover[at]
            at >>= 1
        at = right
        while at:
            rows |= cover[at]
            at >>= 1
        right += 1
        while left < right:  # the nodes that make up [lo, hi]: anything touching them
            if left & 1:
                rows |= touch[left]
                left += 1
            if right & 1:
                right -= 1
                rows |= touch[right]
            left >>= 1
            right >>= 1
        free = ~rows >> lowest
        return lowest + (free & -free).bit_length() - 1

    def take(self, lo: int, hi: int, row: int) -> None:
        """Record a bus from ``lo`` to ``hi`` on ``row``."""
        cover, touch, bit = self._cover, self._touch, 1 << row
        left, right = self._rank[lo] + self._size, self._rank[hi] + self._size
        for at in (left, right):
            while at:
                touch[at] |= bit
                at >>= 1
        right += 1
        while left < right:
            if left & 1:
                cover[left] |= bit
                touch[left] |= bit
                left += 1
            if right & 1:
                right -= 1
                cover[right] |= bit
                touch[right] |= bit
            left >>= 1
            right >>= 1


def _topological(count: int, pairs: set[tuple[int, int]]) -> dict[int, list[int]] | None:
    """What must come before each of ``range(count)``, in an order that puts every ``a``
    of ``(a, b)`` before ``b``; None if the pairs make a cycle."""
    before: dict[int, list[int]] = {b: [] for b in range(count)}
    for a, b in sorted(pairs):
        before[b].append(a)
    try:
        return {b: before[b] for b in TopologicalSorter(before).static_order()}
    except CycleError:
        return None


def _relaxed_order(count: int, pairs: set[tuple[int, int]]) -> dict[int, list[int]]:
    """Like `_topological` for pairs that make cycles: when every waiting item waits on
    another, the lowest one goes next anyway. Maps each item to those placed before it
    that it had to follow."""
    before: dict[int, list[int]] = {b: [] for b in range(count)}
    after: dict[int, list[int]] = {b: [] for b in range(count)}
    for a, b in sorted(pairs):
        before[b].append(a)
        after[a].append(b)
    waiting = [len(before[b]) for b in range(count)]
    ready = [b for b in range(count) if not waiting[b]]
    placed: dict[int, list[int]] = {}
    while len(placed) < count:
        if not ready:
            ready.append(min(b for b in range(count) if b not in placed))
        b = heappop(ready)
        if b in placed:
            continue
        placed[b] = [a for a in before[b] if a in placed]
        for c in after[b]:
            waiting[c] -= 1
            if waiting[c] == 0 and c not in placed:
                heappush(ready, c)
    return placed
