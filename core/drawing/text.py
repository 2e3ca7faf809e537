"""The asset graph as text for a terminal: boxes on a layered grid, or lanes, or a list.

``style="auto"`` draws the first of these that fits the width:

``grid``
    The `flowdev.drawing.layout` layers top to bottom, a box per asset, every edge routed in
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

The grid's geometry (`flowdev.drawing.grid`) is shared with the app's graph pane;
this module draws it as three-line boxes, the pane as one-line nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from flowdev.drawing.grid import build_grid
from flowdev.drawing.layout import Layout, compute_layout
from flowdev.keys import AssetKey
from flowdev.selection.graph import AssetGraph

Style = Literal["auto", "grid", "lanes", "list"]


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
    """Three-line boxes on the layout's layers; None if wider than ``max_width`` or not
    routable without ambiguity."""
    grid = build_grid(
        layout, {key: len(text) for key, text in texts.items()}, padding=4, max_width=max_width
    )
    if grid is None:
        return None
    lines: list[str] = []
    for layer, row in enumerate(grid.items):
        top, middle, bottom = ([" "] * grid.width for _ in range(3))
        for i, node in enumerate(row):
            left, w = grid.lefts[layer][i], grid.widths[layer][i]
            if not isinstance(node, AssetKey):
                top[left] = middle[left] = bottom[left] = "│"
                continue
            top[left : left + w] = "┌" + "─" * (w - 2) + "┐"
            middle[left : left + w] = f"│ {texts[node]:^{w - 4}} │"
            bottom[left : left + w] = "└" + "─" * (w - 2) + "┘"
            for port in grid.in_ports[layer][i]:
                top[port] = "▼"
            out_port = grid.out_ports[layer][i]
            if out_port is not None:
                bottom[out_port] = "┬"
        lines += ["".join(chars).rstrip() for chars in (top, middle, bottom)]
        if layer < len(grid.channels):
            channel = grid.channels[layer]
            lines += [channel.line(y, 0, grid.width).rstrip() for y in range(channel.height)]
    return lines


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
