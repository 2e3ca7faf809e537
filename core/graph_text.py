"""The asset graph as text for a terminal: boxes on a layered grid, or lanes, or a list.

``style="auto"`` draws the first of these that fits the width:

``grid``
    The `flowdev.layout` layers top to bottom, a box per asset, every edge routed in
    the gap between adjacent layers (long edges pass the layers they skip as lines).
    It shows the shape best, but six 15-character keys side by side already pass 80
    columns, so it suits small or narrow graphs. A diamond::

            ┌───┐
            │ a │
            └─┬─┘
          ╭───┴───╮
        ┌─▼─┐   ┌─▼─┐
        │ b │   │ c │
        └─┬─┘   └─┬─┘
          ╰──╮ ╭──╯
           ┌─▼─▼─┐
           │  d  │
           └─────┘

``lanes``
    An asset per row, in a topological order that finishes a chain before starting
    the next, and a lane per edge still open (like ``git log --graph``). Its width
    grows with the edges open at once rather than with the widest layer, so 10-40
    assets nearly always fit in 80 columns; rows follow the layout's crossing-reduced
    order. A row per asset is also what a scrolling, cursor-driven view wants.

``list``
    A numbered row per asset with its parents' numbers, for graphs so tangled that
    any drawing would be wider than the screen.

No drawing is ambiguous: edges only flow down; ``├ ┤ ┬ ┴`` and corners join lines of
the same edges (a fork under its source, a merge into its target), while ``┼`` is
only ever two unrelated lines crossing. So a reader (or the tracer in
`tests/test_graph_text.py`) finds each edge's target by following its lines down,
straight on through ``┼``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Literal

from flowdev.asset_graph import AssetGraph
from flowdev.keys import AssetKey
from flowdev.layout import Layout, compute_layout

Style = Literal["auto", "grid", "lanes", "list"]

_N, _E, _S, _W = 1, 2, 4, 8
_GLYPHS = {
    _N | _S: "│", _E | _W: "─", _N | _E: "╰", _N | _W: "╯", _S | _E: "╭", _S | _W: "╮",
    _N | _S | _E: "├", _N | _S | _W: "┤", _E | _W | _S: "┬", _E | _W | _N: "┴",
    _N | _E | _S | _W: "┼",
}  # fmt: skip


def render_graph(
    graph: AssetGraph,
    keys: Iterable[AssetKey] | None = None,
    *,
    labels: Mapping[AssetKey, str] | None = None,
    width: int | None = None,
    style: Style = "auto",
) -> str:
    """Draw the asset graph (or the subset ``keys``) as text, roots at the top.

    Each asset shows as ``[label ]key``, then ``[group]`` when the drawing holds more
    than one group, then ``↑n``/``↓n`` when n parents/children are outside ``keys``
    (edges through left-out assets are not drawn).

    Args:
        graph: The asset graph.
        keys: The assets to draw (default: all).
        labels: Short text to put before a key, e.g. a one-character status glyph.
        width: The columns available (default 80); ``style="auto"`` picks the first
            drawing that fits: grid, then lanes, then list.
        style: ``"auto"``, or force ``"grid"`` (falls back to lanes when its edges
            cannot be routed unambiguously), ``"lanes"`` or ``"list"``.

    Returns:
        The drawing, lines joined by newlines, without a trailing newline.
    """
    layout = compute_layout(graph, keys)
    if not layout.positions:
        return "(no assets)"
    texts = _node_texts(graph, layout, labels or {})
    budget = 80 if width is None else width
    lines: list[str] | None = None
    if style in ("auto", "grid"):
        lines = _grid(layout, texts, budget if style == "auto" else None)
    if lines is None and style in ("auto", "grid", "lanes"):
        # A line may run past the width only where a list's line would too.
        limit = max(budget, 3 + max(map(len, texts.values())))
        lines = _lanes(layout, texts, limit if style == "auto" else None)
    if lines is None:
        lines = _numbered_list(layout, texts)
    return "\n".join(lines)


def _node_texts(
    graph: AssetGraph, layout: Layout, labels: Mapping[AssetKey, str]
) -> dict[AssetKey, str]:
    groups = {graph.node(key).group_name for key in layout.positions}
    texts = {}
    for key in layout.positions:
        text = f"{labels[key]} {key}" if labels.get(key) else str(key)
        if len(groups) > 1:
            text += f" [{graph.node(key).group_name}]"
        # Sets: a parent listed twice is one edge.
        hidden_up = len(set(graph.parents(key))) - len(layout.parents(key))
        hidden_down = len(set(graph.children(key))) - len(layout.children(key))
        text += f" ↑{hidden_up}" if hidden_up else ""
        text += f" ↓{hidden_down}" if hidden_down else ""
        texts[key] = text
    return texts


def _row_order(layout: Layout) -> list[AssetKey]:
    """A topological order that finishes a chain before starting the next (Kahn on a stack)."""
    waiting = {key: len(layout.parents(key)) for key in layout.positions}
    stack = [key for key in reversed(layout.layers[0]) if isinstance(key, AssetKey)]
    order = []
    while stack:
        key = stack.pop()
        order.append(key)
        for child in reversed(layout.children(key)):
            waiting[child] -= 1
            if not waiting[child]:
                stack.append(child)
    return order


# -- grid ----------------------------------------------------------------------------------


def _grid(layout: Layout, texts: Mapping[AssetKey, str], max_width: int | None) -> list[str] | None:
    """Boxes on the layout's layers; None if wider than ``max_width`` or not routable.

    A box has one port at the bottom for all its outgoing edges (they fork below it)
    and one ``▼`` per incoming edge, so that lines never merge above a box: merging
    there too would let a line seem to run from one fork into another edge's merge.
    """
    ups: list[list[list[int]]] = [[[] for _ in row] for row in layout.layers]
    downs: list[list[list[tuple[int, int]]]] = [[[] for _ in row] for row in layout.layers]
    for layer, pairs in enumerate(layout.links):
        for upper, lower in pairs:  # sorted, so each ups list comes out left to right
            downs[layer][upper].append((lower, len(ups[layer + 1][lower])))
            ups[layer + 1][lower].append(upper)
    widths = [
        [
            max(len(texts[node]) + 4, 2 * len(ins) + 3 if len(ins) > 1 else 0)
            if isinstance(node, AssetKey)
            else 1
            for node, ins in zip(row, ups[layer], strict=True)
        ]
        for layer, row in enumerate(layout.layers)
    ]
    if max_width is not None and max(sum(row) + 2 * len(row) - 2 for row in widths) > max_width:
        return None  # even packed tight, a layer would not fit
    lefts = _place(widths, ups, downs)
    total = max(row_l[-1] + row_w[-1] for row_l, row_w in zip(lefts, widths, strict=True))
    if max_width is not None and total > max_width:
        return None
    lines: list[str] = []
    for layer, row in enumerate(layout.layers):
        top, middle, bottom = ([" "] * total for _ in range(3))
        for i, node in enumerate(row):
            left, w, ins = lefts[layer][i], widths[layer][i], len(ups[layer][i])
            if not isinstance(node, AssetKey):
                top[left] = middle[left] = bottom[left] = "│"
                continue
            top[left : left + w] = "┌" + "─" * (w - 2) + "┐"
            middle[left : left + w] = f"│ {texts[node]:^{w - 4}} │"
            bottom[left : left + w] = "└" + "─" * (w - 2) + "┘"
            for slot in range(ins):
                top[left + _port(w, slot, ins)] = "▼"
            if downs[layer][i]:
                bottom[left + _port(w, 0, 1)] = "┬"
        lines += ["".join(chars).rstrip() for chars in (top, middle, bottom)]
        if layer + 1 < len(layout.layers):
            pairs = layout.links[layer]
            sources = [lefts[layer][u] + _port(widths[layer][u], 0, 1) for u in range(len(row))]
            targets = [
                lefts[layer + 1][v]
                + _port(widths[layer + 1][v], ups[layer + 1][v].index(u), len(ups[layer + 1][v]))
                for u, v in pairs
            ]
            channel = _route(pairs, sources, targets, total)
            if channel is None:
                return None
            lines += channel
    return lines


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
    pairs: tuple[tuple[int, int], ...], sources: list[int], targets: list[int], total: int
) -> list[str] | None:
    """The rows between two layers, given each upper node's port column (``sources``)
    and each link's own port column on its lower node (``targets``).

    Each bent link gets a horizontal on a row; a row holds horizontals that do not
    touch, or the two innermost bends of a fork on its last row. Where an upper port
    is straight above another link's port, all of the upper's bends come first, so
    the lines never overlap. A fork bends its farthest links first and a box takes
    its nearest first, so a node's own links never cross. None if those rules
    contradict each other (the caller then draws lanes).
    """
    links = [(u, v, sources[u], t) for (u, v), t in zip(pairs, targets, strict=True)]
    bends = [link for link in links if link[2] != link[3]]
    src = [s for _, _, s, _ in bends]
    dst = [t for _, _, _, t in bends]
    straight = {s for _, _, s, t in links if s == t}
    by_upper: dict[int, list[int]] = defaultdict(list)
    by_lower: dict[int, list[int]] = defaultdict(list)
    bend_at: dict[int, int] = {}
    for b, (u, v, _, t) in enumerate(bends):
        by_upper[u].append(b)
        by_lower[v].append(b)
        bend_at[t] = b
    must: set[tuple[int, int]] = set()
    nice: set[tuple[int, int]] = set()
    shared: set[frozenset[int]] = set()
    for u, group in by_upper.items():
        below = bend_at.get(sources[u])
        must.update((a, below) for a in group if below is not None)
        port = sources[u]
        sides = [[b for b in group if (dst[b] > port) == right] for right in (False, True)]
        for side in sides:  # farthest first
            side.sort(key=lambda b: -abs(dst[b] - port))
            nice.update(itertools.pairwise(side))
        if all(sides) and port not in straight:
            shared.add(frozenset((sides[0][-1], sides[1][-1])))
    for group in by_lower.values():
        for right in (False, True):  # nearest first
            side = sorted(
                (b for b in group if (src[b] > dst[b]) == right), key=lambda b: abs(src[b] - dst[b])
            )
            nice.update(itertools.pairwise(side))
    before = _topological(len(bends), must | nice)
    if before is None:
        # Without the nice ordering a shared corner might not be a fork's last row.
        before, shared = _topological(len(bends), must), set()
    if before is None:
        return None
    row_of = [0] * len(bends)
    rows: list[list[int]] = []  # the bends drawn on each row
    for b, earlier in before.items():
        lo, hi = min(src[b], dst[b]), max(src[b], dst[b])
        row = max((row_of[a] + 1 for a in earlier), default=0)
        while row < len(rows) and any(
            lo <= max(src[o], dst[o]) and min(src[o], dst[o]) <= hi and {b, o} not in shared
            for o in rows[row]
        ):
            row += 1
        if row == len(rows):
            rows.append([])
        rows[row].append(b)
        row_of[b] = row

    height = max(1, len(rows))
    bits = [[0] * total for _ in range(height)]
    for column in straight:
        for y in range(height):
            bits[y][column] |= _N | _S
    for b, row in enumerate(row_of):
        s, t = src[b], dst[b]
        toward, back = (_E, _W) if t > s else (_W, _E)
        for y in range(row):
            bits[y][s] |= _N | _S
        bits[row][s] |= _N | toward
        for x in range(min(s, t) + 1, max(s, t)):
            bits[row][x] |= _E | _W
        bits[row][t] |= _S | back
        for y in range(row + 1, height):
            bits[y][t] |= _N | _S
    return ["".join(_GLYPHS.get(cell, " ") for cell in line).rstrip() for line in bits]


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


# -- lanes ---------------------------------------------------------------------------------


def _lanes(
    layout: Layout, texts: Mapping[AssetKey, str], max_width: int | None
) -> list[str] | None:
    """One row per asset; None if a line would be wider than ``max_width``."""
    order = _row_order(layout)
    row_of = {key: i for i, key in enumerate(order)}
    lanes: list[tuple[AssetKey, AssetKey] | None] = []  # the edge each column carries
    lines: list[str] = []
    previous = ""  # the last line drawn: a lane may only start below a blank cell

    def free_column(start: int) -> int:
        for column in range(start, len(lanes)):
            if lanes[column] is None and previous[2 * column : 2 * column + 1] in ("", " "):
                return column
        lanes.append(None)
        return len(lanes) - 1

    def draw(marks: Mapping[int, str], span: tuple[int, int] = (0, 0), text: str = "") -> None:
        nonlocal previous
        chars = [" "] * (2 * len(lanes))
        for column, lane in enumerate(lanes):
            chars[2 * column] = "│" if lane is not None else " "
        for column in range(*span):  # the horizontal of a merge or a fork
            chars[2 * column] = "┼" if lanes[column] is not None else "─"
            chars[2 * column + 1] = "─"
        for column, mark in marks.items():
            chars[2 * column] = mark
        previous = "".join(chars)
        lines.append(f"{previous.rstrip()}  {text}" if text else previous.rstrip())

    for key in order:
        incoming = [c for c, lane in enumerate(lanes) if lane is not None and lane[1] == key]
        if not incoming:
            column = free_column(0)
        else:
            # The leftmost lane leads into the node, the others merge into it from the right.
            column, last = incoming[0], incoming[-1]
            if last != column:
                marks = {c: "┴" for c in incoming[1:-1]} | {column: "├", last: "╯"}
                draw(marks, (column, last))
                for c in incoming[1:]:
                    lanes[c] = None
            lanes[column] = None
        draw({column: "●"}, text=texts[key])
        children = sorted(layout.children(key), key=row_of.__getitem__)
        if children:
            lanes[column] = (key, children[0])
            forks = []
            for child in children[1:]:
                forks.append(free_column(column + 1))
                lanes[forks[-1]] = (key, child)
            if forks:
                marks = {c: "┬" for c in forks[:-1]} | {column: "├", forks[-1]: "╮"}
                draw(marks, (column, forks[-1]))
        if max_width is not None and len(lines[-1]) > max_width:
            return None
    if max_width is not None and max(map(len, lines)) > max_width:
        return None
    return lines


def _numbered_list(layout: Layout, texts: Mapping[AssetKey, str]) -> list[str]:
    order = _row_order(layout)
    number = {key: i for i, key in enumerate(order, start=1)}
    pad = len(str(len(order)))
    lines = []
    for key in order:
        parents = ", ".join(str(n) for n in sorted(number[p] for p in layout.parents(key)))
        lines.append(f"{number[key]:>{pad}}  {texts[key]}" + (f"  ← {parents}" if parents else ""))
    return lines
