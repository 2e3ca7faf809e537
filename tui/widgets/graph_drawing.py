"""What the asset graph pane draws: a snapshot laid out, placed and routed on a grid.

Built in the pane's worker thread (`draw_snapshot`), then only read on the UI thread:
which rows hold which layer's assets, where an asset is, which asset is at a cell.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flowdev.drawing.grid import Grid, build_grid
from flowdev.drawing.layout import compute_layout
from flowdev.keys import AssetKey
from flowdev.project.snapshot import DefinitionsSnapshot
from textual.geometry import Region


def short_key(key: AssetKey, limit: int) -> str:
    """``key`` as ``"a/b"``, shortened to at most ``limit`` characters.

    The end of a key names the asset, so that is what stays: leading path parts go
    first (``…/orders``), then the middle of the name (``order_…_daily``).
    """
    text = key.to_user_string()
    if len(text) <= limit:
        return text
    name = key.path[-1]
    if len(name) + 2 <= limit:
        parts = [name]
        for part in reversed(key.path[:-1]):
            if len("/".join([part, *parts])) + 2 > limit:
                break
            parts.insert(0, part)
        return "…/" + "/".join(parts)
    head = (limit - 1) // 2
    return name[:head] + "…" + name[len(name) - (limit - 1 - head) :]


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphDrawing:
    """A laid-out snapshot: what the pane draws until the next one arrives."""

    snapshot: DefinitionsSnapshot
    grid: Grid
    labels: Mapping[AssetKey, str]
    layer_rows: tuple[int, ...]  # the row of each layer's assets
    height: int
    centre: AssetKey | None  # in focus mode, the asset the drawing is centred on
    depth: int | None
    seconds: float

    def row(self, y: int) -> tuple[int, int]:
        """``(layer, offset)`` of row ``y``: offset 0 is the layer's assets, k > 0 is row
        k - 1 of the lines below it."""
        layer = bisect_right(self.layer_rows, y) - 1
        return layer, y - self.layer_rows[layer]

    def region(self, key: AssetKey) -> Region:
        """Where the asset ``key`` is drawn (one row high)."""
        layer, left, width = self.grid.place(key)
        return Region(left, self.layer_rows[layer], width, 1)

    def node_at(self, x: int, y: int) -> AssetKey | None:
        """The asset drawn at column ``x`` of row ``y``, if any."""
        if not 0 <= y < self.height:
            return None
        layer, offset = self.row(y)
        if offset:
            return None
        for index in self.grid.items_between(layer, x, x + 1):
            item = self.grid.items[layer][index]
            if isinstance(item, AssetKey):
                return item
        return None

    def first_key(self) -> AssetKey | None:
        """The top-left asset: where a cursor starts."""
        for layer in self.grid.layout.layers:
            for node in layer:
                if isinstance(node, AssetKey):
                    return node
        return None


def draw_snapshot(
    snapshot: DefinitionsSnapshot,
    centre: AssetKey | None,
    depth: int | None,
    label_width: int,
    cancelled: Callable[[], bool],
) -> GraphDrawing | None:
    """Lay out and route ``snapshot`` (in focus mode, only ``depth`` hops around
    ``centre``); None if cancelled on the way."""
    start = time.perf_counter()
    graph = snapshot.asset_graph
    keys = None
    if depth is not None and centre is not None and centre in graph:
        keys = graph.upstream([centre], depth) | graph.downstream([centre], depth)
    drawn = graph.keys if keys is None else keys
    by_group = len({graph.node(key).group_name for key in drawn}) > 1
    layout = compute_layout(graph, keys, by_group=by_group)
    if cancelled():
        return None
    labels = {key: short_key(key, label_width) for key in layout.positions}
    grid = build_grid(
        layout,
        # A node is "<mark><glyph> <key> ": the mark and the last blank are the padding.
        {key: len(label) + 2 for key, label in labels.items()},
        padding=2,
        group_labels=(
            {key: f"[{graph.node(key).group_name}]" for key in layout.positions}
            if by_group
            else None
        ),
        strict=False,
    )
    if grid is None or cancelled():  # not strict: only None when cancelled
        return None
    layer_rows = []
    row = 0
    for layer in range(len(layout.layers)):
        layer_rows.append(row)
        row += 1 + (grid.channels[layer].height if layer < len(grid.channels) else 0)
    return GraphDrawing(
        snapshot=snapshot,
        grid=grid,
        labels=labels,
        layer_rows=tuple(layer_rows),
        height=row,
        centre=centre if keys is not None else None,
        depth=depth if keys is not None else None,
        seconds=time.perf_counter() - start,
    )


def nearest_surviving(
    old: DefinitionsSnapshot | None, new: DefinitionsSnapshot, key: AssetKey
) -> AssetKey | None:
    """The asset nearest ``key`` in the old graph (parents, then children, hop by hop)
    that ``new`` still has; None if none does (the drawing then picks its first)."""
    if old is None or key not in old:
        return None
    graph = old.asset_graph
    seen = {key}
    frontier = deque([key])
    while frontier:
        current = frontier.popleft()
        for neighbour in (*sorted(graph.parents(current)), *sorted(graph.children(current))):
            if neighbour in seen:
                continue
            if neighbour in new:
                return neighbour
            seen.add(neighbour)
            frontier.append(neighbour)
    return None
