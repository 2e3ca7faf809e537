"""The asset list: every asset as a row of a sortable table, the graph's other view.

Columns: key, group, status (glyph and name), when it was last materialized (a
relative age that keeps ticking), its freshness policy, and why it is stale.

Data flow, as in `AssetGraphView`: the parent sets `AssetListView.snapshot`,
`~AssetListView.statuses`, `~AssetListView.details` and, to follow the graph,
`~AssetListView.cursor`; the list posts `AssetListView.CursorMoved` (the same shape
as the graph's). Sorting is the list's own: click a header (again to reverse) or
press ``<``/``>`` to sort by the column on the left/right and ``I`` to invert.

It is a `DataTable`, which draws only the rows on screen. A status or detail change
updates only the cells that changed; ages are re-rendered only when their text changes
(a heap of when each one next ticks), not every row every second.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from flowdev.keys import AssetKey
from flowdev.policies import FreshnessPolicy
from flowdev.snapshot import AssetSnapshot, DefinitionsSnapshot
from flowdev.tui.widgets.status import STATUS_GLYPHS, component_style, status_class, status_glyph
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

_PREFIX = "asset-list"
_NO_STATUSES: Mapping[AssetKey, str] = MappingProxyType({})


class AssetDetails(Protocol):
    """What the list shows of an asset beyond its definition (from `flowdev.status`)."""

    @property
    def last_materialized(self) -> float | None:
        """When it was last materialized (epoch seconds), or None if never."""

    @property
    def stale_reasons(self) -> tuple[str, ...]:
        """Why it is stale (empty when it is not)."""


_NO_DETAILS: Mapping[AssetKey, AssetDetails] = MappingProxyType({})

# Most urgent first: what a sort by status puts on top.
_STATUS_ORDER = {
    status: rank
    for rank, status in enumerate(
        (
            "failed",
            "check_failed",
            "running",
            "queued",
            "overdue",
            "stale",
            "missing",
            "fresh",
            "external",
        )
    )
}

COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "Key"),
    ("group", "Group"),
    ("status", "Status"),
    ("age", "Materialized"),
    ("policy", "Freshness"),
    ("reason", "Reason"),
)
"""The list's columns: (column key, header)."""


def relative_age(seconds: float) -> str:
    """A compact age for a table cell: ``"12s ago"``, ``"5m ago"``, ``"3h ago"``, ``"2d ago"``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _next_tick(seconds: float) -> float:
    """How many seconds from now `relative_age` next changes its text."""
    seconds = max(0.0, seconds)
    size = next((size for size in (86400, 3600, 60) if seconds >= size), 1)
    return size - seconds % size


def describe_policy(policy: Mapping[str, Any] | None) -> str:
    """A snapshot's freshness policy (its JSON form) in words, e.g. ``"within 1d"``."""
    if policy is None:
        return ""
    warn = policy.get("warn_window_seconds")
    return FreshnessPolicy(
        fail_window=timedelta(seconds=policy["fail_window_seconds"]),
        warn_window=None if warn is None else timedelta(seconds=warn),
        cron_schedule=policy.get("cron_schedule"),
        cron_schedule_timezone=policy.get("cron_schedule_timezone"),
    ).describe()


class AssetListView(DataTable[Text]):
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
    """

    DEFAULT_CSS = """
    AssetListView {
        height: 1fr;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *DataTable.COMPONENT_CLASSES,
        "asset-list--unknown",
        *(status_class(_PREFIX, status) for status in STATUS_GLYPHS),
    }
    """`DataTable`'s, and ``asset-list--<status>`` for each status's colour."""

    BINDINGS: ClassVar[list[BindingType]] = [
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
    cursor: reactive[AssetKey | None] = reactive(None, init=False)
    """The asset under the cursor."""
    sort_column: reactive[str] = reactive("key", init=False)
    """The key of the column the rows are sorted by (see `COLUMNS`)."""
    sort_reverse: reactive[bool] = reactive(False, init=False)
    """Whether the sort is reversed."""

    class CursorMoved(Message):
        """The cursor moved to another asset (``key``), or off every asset (None)."""

        def __init__(self, view: AssetListView, key: AssetKey | None) -> None:
            self.view = view
            self.key = key
            super().__init__()

        @property
        def control(self) -> AssetListView:
            """The view that posted it."""
            return self.view

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
        super().__init__(
            cursor_type="row",
            zebra_stripes=True,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        self.set_reactive(AssetListView.snapshot, snapshot)
        self._keys: dict[str, AssetKey] = {}  # row key -> asset key
        self._ages: dict[AssetKey, str] = {}
        self._ticks: list[tuple[float, str]] = []  # (when its age next changes, row key)
        self.clock = clock
        """The time ages are measured from, in epoch seconds."""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self._label_columns()
        self._fill()
        self.set_interval(1, self.refresh_ages)
        self.app.theme_changed_signal.subscribe(
            self, lambda theme: self.call_after_refresh(self._recolour)
        )

    # -- rows ----------------------------------------------------------------------------

    def _fill(self) -> None:
        """All rows again, for a new snapshot."""
        self.clear()
        self._keys.clear()
        self._ages.clear()
        self._ticks.clear()
        snapshot = self.snapshot
        if snapshot is None:
            return
        now = self.clock()
        rows = []
        for asset in snapshot.assets:
            row_key = asset.key.to_user_string()
            self._keys[row_key] = asset.key
            rows.append((row_key, self._cells(asset, now)))
        for row_key, cells in rows:
            self.add_row(*cells, key=row_key)
        self._sort()

    def _cells(self, asset: AssetSnapshot, now: float) -> list[Text]:
        key = asset.key
        details = self.details.get(key)
        # Text, not str: a DataTable reads a str as markup ("[x] changed" would vanish).
        return [
            Text(key.to_user_string()),
            Text(asset.group),
            self._status_cell(self.statuses.get(key)),
            Text(self._age_cell(key, details, now)),
            Text(describe_policy(asset.freshness_policy)),
            Text("; ".join(details.stale_reasons) if details is not None else ""),
        ]

    def _status_cell(self, status: str | None) -> Text:
        name = status.replace("_", " ") if status else "unknown"
        part = (
            status.replace("_", "-")
            if status is not None and status in STATUS_GLYPHS
            else "unknown"
        )
        style = component_style(self, f"{_PREFIX}--{part}")
        return Text(f"{status_glyph(status)} {name}", style=style)

    def _age_cell(self, key: AssetKey, details: AssetDetails | None, now: float) -> str:
        when = details.last_materialized if details is not None else None
        if when is None:
            self._ages.pop(key, None)
            return ""
        age = relative_age(now - when)
        self._ages[key] = age
        heapq.heappush(self._ticks, (now + _next_tick(now - when), key.to_user_string()))
        return age

    def refresh_ages(self) -> None:
        """Re-render the ages whose text changed since the last call (done every second)."""
        now = self.clock()
        changed = False
        while self._ticks and self._ticks[0][0] <= now:
            _, row_key = heapq.heappop(self._ticks)
            key = self._keys.get(row_key)
            if key is None or key not in self._ages:
                continue  # gone since, or never materialized any more
            age = Text(self._age_cell(key, self.details.get(key), now))
            if age and age != self.get_cell(row_key, "age"):
                self.update_cell(row_key, "age", age, update_width=True)
                changed = True
        if changed and self.sort_column == "age":
            self._sort()

    def _update(self, keys: set[AssetKey]) -> None:
        """Re-render the rows of ``keys``, then sort again if their order may change."""
        snapshot = self.snapshot
        if snapshot is None or not self.columns:
            return
        now = self.clock()
        for key in keys:
            if key not in snapshot:
                continue
            row_key = key.to_user_string()
            cells = self._cells(snapshot.get(key), now)
            for (column, _), cell in zip(COLUMNS, cells, strict=True):
                if column in ("status", "age", "reason") and cell != self.get_cell(row_key, column):
                    self.update_cell(row_key, column, cell, update_width=True)
        if keys and self.sort_column in ("status", "age", "reason"):
            self._sort()

    # -- sorting -------------------------------------------------------------------------

    def _sort_key(self, column: str) -> Callable[[Text], Any]:
        """The sort key of a row, given its key cell."""
        snapshot = self.snapshot
        assert snapshot is not None
        keys, statuses, details = self._keys, self.statuses, self.details

        def by(key_cell: Text) -> Any:
            key = keys[key_cell.plain]
            asset = snapshot.get(key)
            if column == "group":
                return asset.group, key.path
            if column == "status":
                return _STATUS_ORDER.get(statuses.get(key, ""), len(_STATUS_ORDER)), key.path
            found = details.get(key)
            if column == "age":  # newest first, never materialized last
                when = found.last_materialized if found is not None else None
                return when is None, -(when or 0.0), key.path
            if column == "policy":
                return (
                    describe_policy(asset.freshness_policy) == "",
                    asset.freshness_policy is None,
                    key.path,
                )
            if column == "reason":
                reasons = found.stale_reasons if found is not None else ()
                return not reasons, reasons, key.path
            return key.path

        return by

    def _sort(self) -> None:
        if self.snapshot is None or not self.row_count:
            return
        cursor = self.cursor
        self.sort("key", key=self._sort_key(self.sort_column), reverse=self.sort_reverse)
        if cursor is not None and cursor.to_user_string() in self._keys:
            self.move_cursor(row=self.get_row_index(cursor.to_user_string()), animate=False)

    def _label_columns(self) -> None:
        """Mark the sort column's header with ▲ or ▼."""
        for key, label in COLUMNS:
            column = self.columns.get(ColumnKey(key))
            if column is None:
                continue
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_column else ""
            column.label = Text(label + arrow)
            column.content_width = max(column.content_width, column.label.cell_len)
        self.refresh()

    def action_sort_by(self, step: int) -> None:
        """Sort by the column ``step`` places right (or left) of the current one."""
        names = [key for key, _ in COLUMNS]
        self.sort_reverse = False  # a new column starts ascending, as a header click does
        self.sort_column = names[(names.index(self.sort_column) + step) % len(names)]

    def action_invert_sort(self) -> None:
        """Reverse the sort order."""
        self.sort_reverse = not self.sort_reverse

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = str(event.column_key.value)
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column = column  # the watcher sorts; a new column starts ascending
            self.sort_reverse = False

    def watch_sort_column(self) -> None:
        self._label_columns()
        self._sort()

    def watch_sort_reverse(self) -> None:
        self._label_columns()
        self._sort()

    # -- the parent's attributes ---------------------------------------------------------

    def watch_snapshot(self) -> None:
        if self.columns:
            self._fill()
        cursor = self.cursor
        if cursor is not None and cursor.to_user_string() in self._keys:
            self._move_to(cursor)
        elif self.row_count:
            self.cursor = self._keys[
                str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
            ]

    def watch_statuses(self, old: Mapping[AssetKey, str], new: Mapping[AssetKey, str]) -> None:
        self._update({key for key in old.keys() | new.keys() if old.get(key) != new.get(key)})

    def watch_details(
        self, old: Mapping[AssetKey, AssetDetails], new: Mapping[AssetKey, AssetDetails]
    ) -> None:
        self._update({key for key in old.keys() | new.keys() if old.get(key) != new.get(key)})

    def watch_cursor(self, key: AssetKey | None) -> None:
        if key is not None:
            self._move_to(key)
        self.post_message(self.CursorMoved(self, key))

    def _move_to(self, key: AssetKey) -> None:
        row_key = key.to_user_string()
        if row_key in self._keys and self.row_count:
            row = self.get_row_index(row_key)
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.cursor_row != self.cursor_row:
            return  # the cursor moved again since (a sort, a new snapshot, the parent)
        key = self._keys.get(str(event.row_key.value))
        if key is not None:
            self.cursor = key

    def _recolour(self, _theme: object = None) -> None:
        """Status colours come from the theme: render them again in a new one."""
        for row_key, key in self._keys.items():
            self.update_cell(row_key, "status", self._status_cell(self.statuses.get(key)))
