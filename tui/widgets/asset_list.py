"""The asset list: every asset as a row of a sortable table, the graph's other view.

::

     Key             Group      Status     Materialized ▲  Freshness   Reason
     daily_summary   report     ~ stale    3h ago          within 1d   code changed
     zones           transform  ✓ fresh    42s ago

Columns: key, group, status (glyph and name), when it was last materialized (a
relative age that keeps ticking), its freshness policy, and why it is stale (see
`flowdev.tui.widgets.asset_rows`, which turns assets into these words).

Data flow, as in `AssetGraphView`: the parent sets `AssetListView.snapshot`,
`~AssetListView.statuses`, `~AssetListView.details` and, to follow the graph,
`~AssetListView.cursor`; the list posts `AssetListView.CursorMoved` (the same shape
as the graph's). Sorting is the list's own: click a header (again to reverse) or
press ``<``/``>`` to sort by the column on the left/right and ``I`` to invert.

Why it stays fast at 10,000 assets: it is a `ScrollView` on the Line API. The rows
are plain named tuples of what the snapshot says (`asset_rows.Row`); a row's status,
age and reason are looked up in the parent's mappings only when it is drawn, so new
statuses copy nothing. `render_line` draws only the rows on screen, each one `Strip`
kept in an LRU cache by the text it shows. A new snapshot builds, sorts and measures
the rows (string lengths) and draws one screenful; a cursor move redraws the two rows
involved. Ages are measured from the time `refresh_ages` last moved on to (every
second), which redraws only the visible rows whose age text changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import ClassVar

from flowdev.keys import AssetKey
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.tui.widgets import line_view
from flowdev.tui.widgets.asset_rows import (
    COLUMN_KEYS,
    COLUMNS,
    AssetDetails,
    Row,
    age_text,
    age_width,
    build_rows,
    column_widths,
    oldest_materialization,
    pad,
    row_cells,
    sort_rows,
)
from flowdev.tui.widgets.line_view import LineView
from flowdev.tui.widgets.status import STATUS_GLYPHS, status_class
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.reactive import reactive
from textual.strip import Strip

__all__ = ["AssetDetails", "AssetListView"]

_NO_STATUSES: Mapping[AssetKey, str] = MappingProxyType({})
_NO_DETAILS: Mapping[AssetKey, AssetDetails] = MappingProxyType({})
_PADDING = 1  # cells each side of each cell, as a DataTable pads them
_HEADER_HEIGHT = 1
_AGE = COLUMN_KEYS.index("age")


class AssetListView(LineView):
    """Every asset as a row: key, group, status, age, freshness policy, reason.

    Set by the parent (any time, before or after mounting):

    - `snapshot`: the definitions to list (None: no rows).
    - `statuses`: each asset's lowercase status name, as for `AssetGraphView`.
    - `details`: each asset's `AssetDetails` (last materialization, stale reasons).
    - `cursor`: the asset under the cursor (to follow the graph).

    Posted: `CursorMoved` whenever `cursor` changes (a key, a click, or the parent
    setting it: follow the focused view's messages only, as for `AssetGraphView`).
    Sorting: `sort_column` and `sort_reverse`, changed by clicking a header or by
    ``<``, ``>`` and ``I``.

    Keys: up/down move a row, page up/down a screenful, home/end (or ctrl+home/end) to
    the first/last row; left/right scroll sideways.
    """

    DEFAULT_CSS = """
    AssetListView {
        height: 1fr;
        background: $surface;
        & > .asset-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .asset-list--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .asset-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .asset-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        &:nocolor > .asset-list--cursor {
            text-style: reverse;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "asset-list--header",
        "asset-list--cursor",
        "asset-list--even-row",
        "asset-list--unknown",
        *(status_class("asset-list", status) for status in STATUS_GLYPHS),
    }
    """
    | Class | Description |
    | :- | :- |
    | `asset-list--header` | The header row. |
    | `asset-list--cursor` | The row under the cursor. |
    | `asset-list--even-row` | Every other row (the first, third, ...): the stripes. |
    | `asset-list--<status>` | A status cell (``check_failed``: ``check-failed``). |
    | `asset-list--unknown` | The status cell of an asset whose status is not known. |
    """

    COMPONENT_PREFIX = "asset-list"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "up",
            "cursor_by(-1)",
            "Up",
            id="asset_list.up",
            tooltip="Move the cursor to the row above",
            show=False,
        ),
        Binding(
            "down",
            "cursor_by(1)",
            "Down",
            id="asset_list.down",
            tooltip="Move the cursor to the row below",
            show=False,
        ),
        Binding(
            "pageup",
            "page(-1)",
            "Page up",
            id="asset_list.page_up",
            tooltip="Move the cursor a screenful up",
            show=False,
        ),
        Binding(
            "pagedown",
            "page(1)",
            "Page down",
            id="asset_list.page_down",
            tooltip="Move the cursor a screenful down",
            show=False,
        ),
        Binding(
            "home,ctrl+home",
            "cursor_to(0)",
            "First",
            id="asset_list.first",
            tooltip="Move the cursor to the first row",
            show=False,
        ),
        Binding(
            "end,ctrl+end",
            "cursor_to(-1)",
            "Last",
            id="asset_list.last",
            tooltip="Move the cursor to the last row",
            show=False,
        ),
        Binding(
            "less_than_sign",
            "sort_by(-1)",
            "Sort left",
            key_display="<",
            id="asset_list.sort_left",
            tooltip="Sort by the column on the left of the current sort column",
        ),
        Binding(
            "greater_than_sign",
            "sort_by(1)",
            "Sort right",
            key_display=">",
            id="asset_list.sort_right",
            tooltip="Sort by the column on the right of the current sort column",
        ),
        Binding(
            "I",
            "invert_sort",
            "Invert",
            id="asset_list.invert",
            tooltip="Reverse the sort order",
        ),
    ]

    snapshot: reactive[DefinitionsSnapshot | None] = reactive(None, init=False)
    """The definitions listed."""
    statuses: reactive[Mapping[AssetKey, str]] = reactive(_NO_STATUSES, init=False)
    """Each asset's lowercase status name."""
    details: reactive[Mapping[AssetKey, AssetDetails]] = reactive(_NO_DETAILS, init=False)
    """Each asset's last materialization and stale reasons."""
    # No repaint: a move redraws only the two rows involved (see `watch_cursor`).
    cursor: reactive[AssetKey | None] = reactive(None, init=False, repaint=False)
    """The asset under the cursor."""
    sort_column: reactive[str] = reactive("key", init=False)
    """The key of the column the rows are sorted by (see `COLUMNS`)."""
    sort_reverse: reactive[bool] = reactive(False, init=False)
    """Whether the sort is reversed."""

    class CursorMoved(line_view.CursorMoved):
        """The cursor moved to another asset (``key``), or off every asset (None); a
        burst of moves reaches the parent as its last one."""

    def __init__(
        self,
        snapshot: DefinitionsSnapshot | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """A list of ``snapshot``'s assets.

        Args:
            snapshot: The definitions to list at first.
            clock: The time ages are measured from (epoch seconds).
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.set_reactive(AssetListView.snapshot, snapshot)
        self.clock = clock
        """The time ages are measured from, in epoch seconds."""
        self._mounted = False
        self._rows: list[Row] = []  # in the order shown
        self._positions: dict[AssetKey, int] = {}  # where each asset's row is shown
        self._widths: tuple[int, ...] = column_widths([], {}, {}, 0.0)
        self._now = 0.0  # the time the ages on screen were measured at
        self._oldest: float | None = None  # the oldest materialization (sizes the ages)
        self._header: Strip | None = None

    # -- what is listed ------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many rows the list has."""
        return len(self._rows)

    @property
    def cursor_row(self) -> int:
        """The row the cursor is on, from the top (-1 if it is on none)."""
        return self._position(self.cursor)

    def key_at(self, row: int) -> AssetKey:
        """The asset shown in ``row`` (from the top, as sorted)."""
        return self._rows[row].key

    def cells_at(self, row: int) -> tuple[str, ...]:
        """What ``row`` shows in each of `COLUMNS`, as the screen shows it."""
        key = self._rows[row].key
        return row_cells(self._rows[row], self.statuses.get(key), self.details.get(key), self._now)

    def _position(self, key: AssetKey | None) -> int:
        return -1 if key is None else self._positions.get(key, -1)

    # -- rows ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._mounted = True
        self._fill()
        self.set_interval(1, self.refresh_ages)

    def _fill(self) -> None:
        """All rows again, for a new snapshot."""
        snapshot = self.snapshot
        self._now = self.clock()
        self._show([] if snapshot is None else build_rows(snapshot))
        cursor = self.cursor
        if cursor is not None and cursor in self._positions:
            self._scroll_to_cursor()
        elif self._rows:
            self.cursor = self._rows[0].key

    def _show(self, rows: list[Row]) -> None:
        """Put ``rows`` on screen, sorted, measuring the columns again."""
        self._rows = sort_rows(
            rows, self.sort_column, self.sort_reverse, self.statuses, self.details
        )
        self._positions = {row.key: position for position, row in enumerate(self._rows)}
        self._measure()

    def _measure(self) -> None:
        self._oldest = oldest_materialization(self.details.values())
        widths = column_widths(self._rows, self.statuses, self.details, self._now)
        if widths != self._widths:
            self._widths = widths
            self._header = None
            self._strips.clear()
        self.virtual_size = Size(
            sum(widths) + 2 * _PADDING * len(widths), _HEADER_HEIGHT + len(self._rows)
        )
        self.refresh()

    def _statuses_changed(self, sorts: tuple[str, ...]) -> None:
        """New statuses or details: sorted again if the sort is by ``sorts``, measured
        again, drawn again (a drawn row is cached with the status and details it shows)."""
        if not self._mounted:
            return
        self._now = self.clock()
        if self.sort_column in sorts:
            self._show(self._rows)
            self._scroll_to_cursor()
        else:
            self._measure()

    def refresh_ages(self) -> None:
        """Move the ages on to now, redrawing the visible rows whose age text changed
        (done every second)."""
        before, now = self._now, self.clock()
        self._now = now
        if age_width(self._oldest, now) != self._widths[_AGE]:
            self._measure()
            return
        details = self.details
        top = int(self.scroll_y)
        shown = self.scrollable_content_region.height - _HEADER_HEIGHT
        for position in range(top, min(top + shown, len(self._rows))):
            found = details.get(self._rows[position].key)
            if found is not None and age_text(found, before) != age_text(found, now):
                self.refresh_line(_HEADER_HEIGHT + position)

    # -- sorting -------------------------------------------------------------------------

    def _sort(self) -> None:
        self._header = None
        self._show(self._rows)
        self._scroll_to_cursor()

    def action_sort_by(self, step: int) -> None:
        """Sort by the column ``step`` places right (or left) of the current one."""
        column = COLUMN_KEYS[(COLUMN_KEYS.index(self.sort_column) + step) % len(COLUMNS)]
        self._sort_by(column)

    def _sort_by(self, column: str) -> None:
        """Sort by another column, ascending (as a header click does): one sort."""
        self.set_reactive(AssetListView.sort_reverse, False)
        self.sort_column = column

    def action_invert_sort(self) -> None:
        """Reverse the sort order."""
        self.sort_reverse = not self.sort_reverse

    def _header_clicked(self, column: str) -> None:
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self._sort_by(column)

    def watch_sort_column(self) -> None:
        self._sort()

    def watch_sort_reverse(self) -> None:
        self._sort()

    # -- the parent's attributes ---------------------------------------------------------

    def watch_snapshot(self) -> None:
        if self._mounted:
            self._fill()

    def watch_statuses(self) -> None:
        self._statuses_changed(("status",))

    def watch_details(self) -> None:
        self._statuses_changed(("age", "reason"))

    def watch_cursor(self, old: AssetKey | None, new: AssetKey | None) -> None:
        for key in (old, new):
            position = self._position(key)
            if position >= 0:
                self.refresh_line(_HEADER_HEIGHT + position)
        self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self, new))

    def _scroll_to_cursor(self) -> None:
        position = self._position(self.cursor)
        if position < 0 or not self._mounted:
            return
        # The header covers the top line of the scrolled space: keep a line above the row.
        self.scroll_to_region(
            Region(int(self.scroll_x), _HEADER_HEIGHT + position, 1, 1),
            spacing=Spacing(top=_HEADER_HEIGHT),
            animate=False,
            force=True,
            immediate=True,
        )

    # -- moving --------------------------------------------------------------------------

    def action_cursor_by(self, rows: int) -> None:
        """Move the cursor ``rows`` rows down (up if negative), stopping at either end."""
        if self._rows:
            self.action_cursor_to(max(0, min(len(self._rows) - 1, self.cursor_row + rows)))

    def action_cursor_to(self, row: int) -> None:
        """Move the cursor to ``row`` (negative: from the bottom, as a list index)."""
        if self._rows:
            self.cursor = self._rows[row].key

    def action_page(self, direction: int) -> None:
        """Scroll a screenful down (or up) and move the cursor with it."""
        page = max(1, self.scrollable_content_region.height - _HEADER_HEIGHT)
        self.scroll_to(
            y=self.scroll_y + direction * page, animate=False, force=True, immediate=True
        )
        self.action_cursor_by(direction * page)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        scroll_x, scroll_y = self.scroll_offset
        if offset.y < _HEADER_HEIGHT:
            column = self._column_at(scroll_x + offset.x)
            if column is not None:
                self._header_clicked(column)
            return
        position = scroll_y + offset.y - _HEADER_HEIGHT
        if position < len(self._rows):
            self.cursor = self._rows[position].key

    def _column_at(self, x: int) -> str | None:
        right = 0
        for column, width in zip(COLUMN_KEYS, self._widths, strict=True):
            right += width + 2 * _PADDING
            if x < right:
                return column
        return None

    # -- drawing -------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._header = None

    def on_resize(self) -> None:
        self.call_after_refresh(self._scroll_to_cursor)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y < _HEADER_HEIGHT:
            if self._header is None:
                self._header = self._render_header()
            return self._header.crop_extend(scroll_x, scroll_x + width, self._style("header"))
        position = scroll_y + y - _HEADER_HEIGHT
        if position >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        key = self._rows[position].key
        status = self.statuses.get(key)
        cells = row_cells(self._rows[position], status, self.details.get(key), self._now)
        line = (
            "even-row" if position % 2 == 0 else None,
            "cursor" if key is self.cursor else None,
        )
        cache_key = (cells, status, line, self._pseudo_state, scroll_x, width)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._render_row(cells, status, *line).crop_extend(
                scroll_x, scroll_x + width, self._style(*line)
            )
            self._strips[cache_key] = strip
        return strip

    def _render_header(self) -> Strip:
        cells = []
        for (column, label), width in zip(COLUMNS, self._widths, strict=True):
            if column == self.sort_column:
                label += " ▼" if self.sort_reverse else " ▲"
            cells.append(self._cell(label, width))
        return Strip([Segment("".join(cells), self._style("header"))])

    def _render_row(
        self, cells: tuple[str, ...], status: str | None, stripe: str | None, cursor: str | None
    ) -> Strip:
        """A whole row: the status cell in its status's colour (under the cursor's)."""
        name, group, status_cell, age, policy, reason = cells
        key_w, group_w, status_w, age_w, policy_w, reason_w = self._widths
        part = status.replace("_", "-") if status in STATUS_GLYPHS and status else "unknown"
        plain = self._style(stripe, cursor)
        return Strip(
            [
                Segment(self._cell(name, key_w) + self._cell(group, group_w), plain),
                Segment(self._cell(status_cell, status_w), self._style(stripe, part, cursor)),
                Segment(
                    self._cell(age, age_w)
                    + self._cell(policy, policy_w)
                    + self._cell(reason, reason_w),
                    plain,
                ),
            ]
        )

    @staticmethod
    def _cell(text: str, width: int) -> str:
        return " " * _PADDING + pad(text, width) + " " * _PADDING
