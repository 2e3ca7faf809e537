"""The asset graph pane: the DAG drawn in layers, and a cursor that walks its edges.

::

     [ingest] ◇ fare_rates   ✓ raw_weather        ✓ raw_zones
                  │               │           ╭───────┴────────╮
                  │               │     ✓ raw_trips   [transform] ~ zones

Roots are on top; each asset is one line, ``<mark><glyph> <key>``, coloured by its
status, and a ``[group]`` label starts each group's run of assets in a layer. Lines
only flow down, so a line ending above an asset is one of its inputs.

Data flow (attributes down, messages up): the parent sets `AssetGraphView.snapshot`,
`~AssetGraphView.statuses`, `~AssetGraphView.marked`, `~AssetGraphView.highlighted`,
`~AssetGraphView.focus_depth` and, to follow another view, `~AssetGraphView.cursor`;
the view posts `AssetGraphView.CursorMoved`, `AssetGraphView.MarkToggled` and
`AssetGraphView.LayoutReady`.

Why it stays fast at 10,000 assets: a new snapshot (or focus) is laid out in a thread
worker (`compute_layout`, then `build_grid` places and routes it), and the result comes
back as a message, so no frame waits for it. The pane is a `ScrollView` on the Line
API: `render_line` draws one row, only across the visible columns
(`Grid.items_between`, `Channel.line`), and keeps the strip in an LRU cache. A status,
mark or highlight change clears that cache and never lays out again; a cursor move
redraws the two rows involved, or the screen when the view scrolls to follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from flowdev.drawing.grid import GroupLabel
from flowdev.drawing.layout import Direction
from flowdev.keys import AssetKey
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.tui.widgets import line_view
from flowdev.tui.widgets.graph_drawing import (
    GraphDrawing,
    draw_snapshot,
    nearest_surviving,
)
from flowdev.tui.widgets.line_view import LineView
from flowdev.tui.widgets.status import STATUS_GLYPHS, status_class, status_glyph
from rich.segment import Segment
from rich.style import Style
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.worker import get_current_worker

_MARK = "*"
_NO_STATUSES: Mapping[AssetKey, str] = MappingProxyType({})


class AssetGraphView(LineView):
    """The asset graph, drawn in layers, with a cursor that follows its edges.

    Set by the parent (all optional, any time, before or after mounting):

    - `snapshot`: the definitions to draw (None: an empty pane). A new snapshot is laid
      out in a thread worker; the cursor stays on the same asset, or moves to the
      nearest one that still exists.
    - `statuses`: each asset's lowercase status name (``missing``, ``fresh``,
      ``stale``, ``overdue``, ``failed``, ``queued``, ``running``, ``check_failed``,
      ``external``); shown as a glyph and a colour. Never lays out again.
    - `marked`: the marked assets, drawn with a ``*`` and in bold. Space posts
      `MarkToggled`; the parent owns the set and sets it back.
    - `highlighted`: assets to point out (e.g. what just became stale), underlined.
    - `focus_depth`: None draws everything; N draws only the cursor asset and N hops
      up and down from it (the selection ``N+key:x+N``), following the cursor.
    - `cursor`: the asset under the cursor (the parent may set it to follow another
      view).

    Posted: `CursorMoved` whenever `cursor` changes (a key, a click, a new snapshot or
    focus, or the parent setting it: a parent keeping two views in step should follow
    the messages of the focused one only, or the echoes chase each other),
    `MarkToggled` (space), `LayoutReady` (a new drawing is on screen).

    Keys: arrows or ``h``/``j``/``k`` move to the nearest parent (up), child (down) or
    neighbour in the layer (left/right; ``l`` is left to the app for its logs); space
    marks; ``z`` toggles focus mode, ``+``/``-`` change its depth.
    """

    DEFAULT_CSS = """
    AssetGraphView {
        & > .asset-graph--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .asset-graph--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        &:nocolor > .asset-graph--cursor {
            text-style: reverse;
        }
        & > .asset-graph--marked {
            text-style: bold;
        }
        & > .asset-graph--highlighted {
            text-style: underline;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "asset-graph--cursor",
        "asset-graph--marked",
        "asset-graph--highlighted",
        "asset-graph--edge",
        "asset-graph--group",
        "asset-graph--unknown",
        *(status_class("asset-graph", status) for status in STATUS_GLYPHS),
    }
    """
    | Class | Description |
    | :- | :- |
    | `asset-graph--cursor` | The asset under the cursor. |
    | `asset-graph--marked` | A marked asset. |
    | `asset-graph--highlighted` | A highlighted asset. |
    | `asset-graph--edge` | The lines between assets. |
    | `asset-graph--group` | A group's label. |
    | `asset-graph--<status>` | An asset with that status (``check_failed``: ``check-failed``). |
    | `asset-graph--unknown` | An asset whose status is not known. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "up,k",
            "move('up')",
            "Parent",
            id="asset_graph.up",
            tooltip="Move the cursor to the nearest parent (upstream)",
            show=False,
        ),
        Binding(
            "down,j",
            "move('down')",
            "Child",
            id="asset_graph.down",
            tooltip="Move the cursor to the nearest child (downstream)",
            show=False,
        ),
        Binding(
            "left,h",
            "move('left')",
            "Left",
            id="asset_graph.left",
            tooltip="Move the cursor to the previous asset in its layer",
            show=False,
        ),
        Binding(
            "right",
            "move('right')",
            "Right",
            id="asset_graph.right",
            tooltip="Move the cursor to the next asset in its layer",
            show=False,
        ),
        Binding(
            "space",
            "toggle_mark",
            "Mark",
            id="asset_graph.mark",
            tooltip="Mark or unmark the asset under the cursor",
        ),
        Binding(
            "z",
            "toggle_focus",
            "Focus",
            id="asset_graph.focus",
            tooltip="Draw only the cursor asset and the assets a few hops up and down",
        ),
        Binding(
            "plus,equals_sign",
            "focus_depth(1)",
            "Deeper",
            key_display="+",
            id="asset_graph.focus_deeper",
            tooltip="Focus mode: one hop more up and down",
        ),
        Binding(
            "minus",
            "focus_depth(-1)",
            "Shallower",
            key_display="-",
            id="asset_graph.focus_shallower",
            tooltip="Focus mode: one hop less up and down",
        ),
    ]

    COMPONENT_PREFIX = "asset-graph"

    DEFAULT_FOCUS_DEPTH: ClassVar[int] = 2
    """The depth focus mode starts at when toggled on."""

    LABEL_WIDTH: ClassVar[int] = 28
    """The most characters of a key a node shows (see `short_key`)."""

    snapshot: reactive[DefinitionsSnapshot | None] = reactive(None, init=False)
    """The definitions drawn."""
    statuses: reactive[Mapping[AssetKey, str]] = reactive(_NO_STATUSES, init=False)
    """Each asset's lowercase status name."""
    marked: reactive[frozenset[AssetKey]] = reactive(frozenset(), init=False)
    """The marked assets."""
    highlighted: reactive[frozenset[AssetKey]] = reactive(frozenset(), init=False)
    """Assets to point out, e.g. what became stale after a save."""
    focus_depth: reactive[int | None] = reactive(None, init=False)
    """None: draw every asset; N: only the cursor asset and N hops up and down."""
    cursor: reactive[AssetKey | None] = reactive(None, init=False)
    """The asset under the cursor."""

    class CursorMoved(line_view.CursorMoved):
        """The cursor moved to another asset (``key``), or off every asset (None); a
        burst of moves reaches the parent as its last one."""

    class MarkToggled(Message):
        """Space on ``key``: the parent marks or unmarks it and sets `marked`."""

        def __init__(self, view: AssetGraphView, key: AssetKey) -> None:
            self.view = view
            self.key = key
            super().__init__()

        @property
        def control(self) -> AssetGraphView:
            """The view that posted it."""
            return self.view

    class LayoutReady(Message):
        """A new drawing is on screen: ``asset_count`` assets, laid out in ``seconds``."""

        def __init__(self, view: AssetGraphView, asset_count: int, seconds: float) -> None:
            self.view = view
            self.asset_count = asset_count
            self.seconds = seconds
            super().__init__()

        @property
        def control(self) -> AssetGraphView:
            """The view that posted it."""
            return self.view

    class _Drawn(Message, bubble=False):
        """A layout worker's result, for the view itself."""

        def __init__(self, drawing: GraphDrawing, generation: int) -> None:
            self.drawing = drawing
            self.generation = generation
            super().__init__()

    def __init__(
        self,
        snapshot: DefinitionsSnapshot | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.set_reactive(AssetGraphView.snapshot, snapshot)
        self._mounted = False
        self._drawing: GraphDrawing | None = None
        self._generation = 0
        self._requested: tuple[DefinitionsSnapshot | None, AssetKey | None, int | None] | None
        self._requested = None
        self._last_depth = self.DEFAULT_FOCUS_DEPTH
        self._cursor_row = -1

    # -- what is drawn -------------------------------------------------------------------

    @property
    def drawn_keys(self) -> frozenset[AssetKey]:
        """The assets in the drawing on screen (all of them, or the focus set)."""
        if self._drawing is None:
            return frozenset()
        return frozenset(self._drawing.grid.layout.positions)

    def region_of(self, key: AssetKey) -> Region | None:
        """Where ``key`` is drawn, in the view's virtual (scrollable) space."""
        drawing = self._drawing
        if drawing is None or key not in drawing.grid.layout.positions:
            return None
        return drawing.region(key)

    # -- layout --------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._mounted = True
        self._request_layout()

    def _request_layout(self) -> None:
        """Lay out again if what would be drawn changed (snapshot, focus, centre)."""
        if not self._mounted:
            return  # on_mount asks again
        snapshot = self.snapshot
        depth = self.focus_depth
        centre = self.cursor if depth is not None else None
        if snapshot is not None and centre is not None and centre not in snapshot:
            centre = None
        request = (snapshot, centre, depth)
        if self._requested is not None:
            last_snapshot, last_centre, last_depth = self._requested
            if last_snapshot is snapshot and (last_centre, last_depth) == (centre, depth):
                return
        self._requested = request
        self._generation += 1
        if snapshot is None:
            self.workers.cancel_group(self, "asset-graph-layout")
            self._show(None)
            return
        self._lay_out(snapshot, centre, depth, self._generation)

    @work(thread=True, exclusive=True, group="asset-graph-layout")
    def _lay_out(
        self,
        snapshot: DefinitionsSnapshot,
        centre: AssetKey | None,
        depth: int | None,
        generation: int,
    ) -> None:
        worker = get_current_worker()
        drawing = draw_snapshot(
            snapshot, centre, depth, self.LABEL_WIDTH, lambda: worker.is_cancelled
        )
        if drawing is not None and not worker.is_cancelled:
            self.post_message(self._Drawn(drawing, generation))

    @on(_Drawn)
    def _on_drawn(self, message: _Drawn) -> None:
        if message.generation == self._generation:
            self._show(message.drawing)

    def _show(self, drawing: GraphDrawing | None) -> None:
        """Put ``drawing`` on screen, keeping the cursor where it was on the screen."""
        old, cursor = self._drawing, self.cursor
        anchor = None
        if old is not None and cursor is not None and cursor in old.grid.layout.positions:
            region = old.region(cursor)
            anchor = (region.x - self.scroll_x, region.y - self.scroll_y)
        self._drawing = drawing
        self._strips.clear()
        self._cursor_row = -1
        if drawing is None:
            self.virtual_size = Size(0, 0)
            self.refresh()
            return
        self.virtual_size = Size(drawing.grid.width, drawing.height)
        if cursor is None or cursor not in drawing.grid.layout.positions:
            cursor = drawing.first_key()
        if cursor is not None and anchor is not None:
            region = drawing.region(cursor)
            self.scroll_to(
                region.x - anchor[0], region.y - anchor[1], animate=False, immediate=True
            )
        if cursor == self.cursor:
            self._cursor_moved()
        else:
            self.cursor = cursor
        self.refresh()
        self.post_message(self.LayoutReady(self, len(drawing.grid.layout), drawing.seconds))

    # -- watchers ------------------------------------------------------------------------

    def watch_snapshot(
        self, old: DefinitionsSnapshot | None, new: DefinitionsSnapshot | None
    ) -> None:
        cursor = self.cursor
        if new is not None and cursor is not None and cursor not in new:
            self.cursor = nearest_surviving(old, new, cursor)
        self._request_layout()

    def watch_statuses(self) -> None:
        self._restyle()

    def watch_marked(self) -> None:
        self._restyle()

    def watch_highlighted(self) -> None:
        self._restyle()

    def watch_focus_depth(self, depth: int | None) -> None:
        if depth is not None:
            self._last_depth = depth
        self._request_layout()
        self.refresh_bindings()

    def watch_cursor(self) -> None:
        self._cursor_moved()
        self.post_message(self.CursorMoved(self, self.cursor))
        if self.focus_depth is not None:
            self._request_layout()

    def _cursor_moved(self) -> None:
        """Repaint the rows the cursor left and reached, and scroll to it."""
        if self._cursor_row >= 0:
            self.refresh_line(self._cursor_row)
        self._cursor_row = -1
        region = self.region_of(self.cursor) if self.cursor is not None else None
        if region is None:
            return
        self._cursor_row = region.y
        self.refresh_line(region.y)
        if not self.size.area:
            # Not laid out yet: a scroll now would be to fit a zero-width view (cutting
            # off the left of the drawing); `on_resize` scrolls once the size is known.
            return
        self.scroll_to_region(
            region, spacing=Spacing(1, 2, 1, 2), animate=False, force=True, immediate=True
        )

    def on_resize(self) -> None:
        if self.cursor is not None and self._drawing is not None:
            self.call_after_refresh(self._cursor_moved)

    # -- actions -------------------------------------------------------------------------

    def action_move(self, direction: Direction) -> None:
        """Move the cursor along the drawing (see `Layout.neighbour`)."""
        drawing = self._drawing
        if drawing is None:
            return
        positions = drawing.grid.layout.positions
        if self.cursor is None or self.cursor not in positions:
            self.cursor = drawing.first_key()
            return
        target = drawing.grid.layout.neighbour(self.cursor, direction)
        if target is not None:
            self.cursor = target

    def action_toggle_mark(self) -> None:
        """Ask the parent to mark or unmark the cursor asset."""
        if self.cursor is not None:
            self.post_message(self.MarkToggled(self, self.cursor))

    def action_toggle_focus(self) -> None:
        """Focus mode on (at the last depth used) or off."""
        self.focus_depth = None if self.focus_depth is not None else self._last_depth

    def action_focus_depth(self, change: int) -> None:
        """One hop more (or less) up and down in focus mode; never under one."""
        if self.focus_depth is not None:
            self.focus_depth = max(1, self.focus_depth + change)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_depth" and self.focus_depth is None:
            return None  # shown, but disabled, outside focus mode
        return True

    async def _on_click(self, event: events.Click) -> None:
        drawing = self._drawing
        offset = event.get_content_offset(self)
        if drawing is None or offset is None:
            return
        scroll_x, scroll_y = self.scroll_offset
        key = drawing.node_at(offset.x + scroll_x, offset.y + scroll_y)
        if key is not None:
            self.cursor = key

    # -- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        row = scroll_y + y
        drawing = self._drawing
        if drawing is None or row >= drawing.height:
            return Strip.blank(width, self.rich_style)
        cursor = self.cursor if row == self._cursor_row else None
        cache_key = (row, scroll_x, width, cursor, self._pseudo_state)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._render_row(drawing, row, scroll_x, scroll_x + width, cursor)
            self._strips[cache_key] = strip
        return strip

    def _render_row(
        self, drawing: GraphDrawing, row: int, start: int, end: int, cursor: AssetKey | None
    ) -> Strip:
        """Row ``row``, columns ``start`` to ``end``: only what overlaps them is drawn."""
        layer, offset = drawing.row(row)
        grid = drawing.grid
        if offset:
            line = grid.channels[layer].line(offset - 1, start, end)
            return Strip([Segment(line, self._style("edge"))], end - start)
        blank = self._style()
        segments = []
        at = start
        items, lefts, widths = grid.items[layer], grid.lefts[layer], grid.widths[layer]
        for index in grid.items_between(layer, start, end):
            item, left, width = items[index], lefts[index], widths[index]
            if left > at:
                segments.append(Segment(" " * (left - at), blank))
            if isinstance(item, AssetKey):
                text, style = self._node(item, drawing.labels[item], width, item == cursor)
            elif isinstance(item, GroupLabel):
                text, style = item.text, self._style("group")
            else:  # a dummy: a long edge passing through this layer
                text, style = "│", self._style("edge")
            piece = text[max(0, start - left) : end - left]
            segments.append(Segment(piece, style))
            at = min(left + width, end)
        if at < end:
            segments.append(Segment(" " * (end - at), blank))
        return Strip(segments, end - start)

    def _node(self, key: AssetKey, label: str, width: int, is_cursor: bool) -> tuple[str, Style]:
        status = self.statuses.get(key)
        marked = key in self.marked
        content = f"{status_glyph(status)} {label}"
        before = (width - len(content)) // 2  # at least 1: the mark's cell
        text = (" " * (before - 1) + (_MARK if marked else " ") + content).ljust(width)
        style = self._style(
            status.replace("_", "-")
            if status is not None and status in STATUS_GLYPHS
            else "unknown",
            "marked" if marked else None,
            "highlighted" if key in self.highlighted else None,
            "cursor" if is_cursor else None,
        )
        return text, style
