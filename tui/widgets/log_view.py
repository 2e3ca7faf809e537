"""The log pane: a run's events and compute output, interleaved, coloured by level.

Built on the Line API like Textual's own `Log`: rows are kept as plain data, only the
visible ones are rendered (one `Strip` each, cached), and appending a batch of lines
touches nothing already on screen. Follow mode keeps the newest line in view; scrolling
up pauses it and scrolling back to the bottom resumes it. A filter (by step and by
minimum level) and an incremental search with highlighted matches narrow what shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flowdev.instance.runlog import LogLine
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive, var
from textual.scroll_view import ScrollView
from textual.strip import Strip

LEVELS = ("DEBUG", "INFO", "OUTPUT", "WARNING", "ERROR")
_LEVEL_RANK = {"DEBUG": 0, "INFO": 1, "OUTPUT": 1, "WARNING": 2, "ERROR": 3, "CRITICAL": 3}
_LEVEL_STYLE = {
    "DEBUG": Style(dim=True),
    "INFO": Style(),
    "OUTPUT": Style(),
    "WARNING": Style(color="yellow"),
    "ERROR": Style(color="red"),
    "CRITICAL": Style(color="red", bold=True),
}
_MATCH_STYLE = Style(reverse=True, bold=True)
_GUTTER_STYLE = Style(dim=True)


@dataclass(frozen=True, slots=True)
class _Row:
    """One screen row: a line of a `LogLine` (tracebacks span several rows)."""

    line: LogLine
    text: str
    first: bool


class RunLogView(ScrollView, can_focus=True):
    """A run's log, rendered a visible row at a time.

    Attributes set by the parent: ``step_filter`` (a step key or None for all),
    ``min_level`` (one of `LEVELS`), ``search`` (text to highlight; empty for none).
    """

    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", tooltip="Keep the newest line in view"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("L", "cycle_level", "Level", tooltip="Show only lines at or above a level"),
        Binding("end", "scroll_end", "Bottom", show=False),
        Binding("home", "scroll_home", "Top", show=False),
    ]

    DEFAULT_CSS = """
    RunLogView {
        background: $surface;
        overflow-y: scroll;
        overflow-x: auto;
    }
    """

    follow: reactive[bool] = reactive(True)
    step_filter: var[str | None] = var(None)
    min_level: var[str] = var("DEBUG")
    search: var[str] = var("")

    class FollowChanged(Message):
        """Follow mode was switched on or off (by a key or by scrolling)."""

        def __init__(self, follow: bool) -> None:
            self.follow = follow
            super().__init__()

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._rows: list[_Row] = []
        self._shown: list[int] | None = None  # indices into _rows; None: every row
        self._width = 0
        self._cache: LRUCache[tuple[int, str], Strip] = LRUCache(2048)
        self._matches: list[int] = []
        self._match_cursor = -1

    # -- content -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many rows show (after the filter)."""
        return len(self._rows) if self._shown is None else len(self._shown)

    def clear(self) -> None:
        """Forget every line (a different run was selected)."""
        self._rows.clear()
        self._shown = None if self._unfiltered else []
        self._width = 0
        self._cache.clear()
        self._matches.clear()
        self.virtual_size = Size(0, 0)
        self.follow = True
        self.refresh()

    def append(self, lines: list[LogLine]) -> None:
        """Add a batch of lines; only the rows they add are new work."""
        if not lines:
            return
        start = len(self._rows)
        for line in lines:
            for number, text in enumerate(line.text.split("\n")):
                self._rows.append(_Row(line, text.expandtabs(), number == 0))
        new_rows = range(start, len(self._rows))
        if self._shown is not None:
            self._shown.extend(i for i in new_rows if self._passes(self._rows[i]))
        if self.search:
            self._matches.extend(i for i in self._visible(new_rows) if self._hit(i))
        self._width = max(self._width, *(self._row_width(self._rows[i]) for i in new_rows))
        self.virtual_size = Size(self._width, self.row_count)
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.refresh()

    # -- rendering -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        if index >= self.row_count:
            return Strip.blank(width, self.rich_style)
        row_index = index if self._shown is None else self._shown[index]
        strip = self._cache.get((row_index, self.search))
        if strip is None:
            strip = self._render_row(self._rows[row_index])
            self._cache[(row_index, self.search)] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _render_row(self, row: _Row) -> Strip:
        line = row.line
        gutter = (
            time.strftime("%H:%M:%S ", time.localtime(line.timestamp)) if row.first else " " * 9
        )
        step = (line.step_key or "run")[:18].ljust(18) + " " if row.first else " " * 19
        mark = "│ " if line.is_output else _event_mark(line)
        style = _LEVEL_STYLE.get(line.level, Style())
        if line.event is not None and line.event.kind.value == "ASSET_MATERIALIZATION":
            style = Style(color="green")
        segments = [Segment(gutter + step, _GUTTER_STYLE), Segment(mark, style)]
        segments += _highlighted(row.text, style, self.search)
        return Strip(segments)

    def _row_width(self, row: _Row) -> int:
        return 9 + 19 + 2 + len(row.text)

    # -- filter and search ---------------------------------------------------------------

    @property
    def _unfiltered(self) -> bool:
        return self.step_filter is None and self.min_level == "DEBUG"

    def _passes(self, row: _Row) -> bool:
        line = row.line
        if self.step_filter is not None and line.step_key != self.step_filter:
            return False
        return _LEVEL_RANK.get(line.level, 1) >= _LEVEL_RANK[self.min_level]

    def _visible(self, rows: range) -> list[int]:
        if self._shown is None:
            return list(rows)
        first = rows.start
        return [i for i in self._shown if i >= first]

    def _hit(self, row_index: int) -> bool:
        return self.search.lower() in self._rows[row_index].text.lower()

    def _refilter(self) -> None:
        at_end = self.follow
        if self._unfiltered:
            self._shown = None
        else:
            self._shown = [i for i, row in enumerate(self._rows) if self._passes(row)]
        self._recompute_matches()
        self.virtual_size = Size(self._width, self.row_count)
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def _recompute_matches(self) -> None:
        self._matches = (
            [i for i in self._visible(range(len(self._rows))) if self._hit(i)]
            if self.search
            else []
        )
        self._match_cursor = -1

    def watch_step_filter(self) -> None:
        self._refilter()

    def watch_min_level(self) -> None:
        self._refilter()

    def watch_search(self) -> None:
        self._recompute_matches()
        self.refresh()
        if self._matches:
            self.action_next_match()

    @property
    def match_count(self) -> int:
        """How many rows match the search."""
        return len(self._matches)

    def action_next_match(self) -> None:
        """Scroll to the next row that matches the search."""
        self._jump(+1)

    def action_previous_match(self) -> None:
        """Scroll to the previous row that matches the search."""
        self._jump(-1)

    def _jump(self, step: int) -> None:
        if not self._matches:
            return
        self._match_cursor = (self._match_cursor + step) % len(self._matches)
        row_index = self._matches[self._match_cursor]
        y = row_index if self._shown is None else self._shown.index(row_index)
        self.follow = False
        self.scroll_to(y=max(0, y - self.size.height // 2), animate=False)

    def action_cycle_level(self) -> None:
        """Show only WARNING and above, then ERROR, then everything again."""
        order = ["DEBUG", "WARNING", "ERROR"]
        current = order.index(self.min_level) if self.min_level in order else 0
        self.min_level = order[(current + 1) % len(order)]

    # -- follow --------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        """Follow the newest line, or stop following."""
        self.follow = not self.follow
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_follow(self, follow: bool) -> None:
        self.post_message(self.FollowChanged(follow))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Scrolling up pauses follow mode; reaching the bottom again resumes it.
        if new_value < old_value and new_value < self.max_scroll_y:
            self.follow = False
        elif new_value >= self.max_scroll_y and self.row_count:
            self.follow = True

    def on_resize(self) -> None:
        self._cache.clear()
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)


def _event_mark(line: LogLine) -> str:
    event = line.event
    assert event is not None
    kind = event.kind.value
    return {
        "ASSET_MATERIALIZATION": "✓ ",
        "STEP_FAILURE": "✗ ",
        "RUN_FAILURE": "✗ ",
        "STEP_SKIPPED": "↷ ",
        "STEP_UP_FOR_RETRY": "↻ ",
        "STEP_CANCELED": "⊘ ",
        "RUN_CANCELED": "⊘ ",
        "RUN_SUCCESS": "● ",
        "ASSET_CHECK_EVALUATION": "✓ " if event.data.get("passed") else "✗ ",
    }.get(kind, "· ")


def _highlighted(text: str, style: Style, search: str) -> list[Segment]:
    if not search:
        return [Segment(text, style)]
    segments = []
    lowered, needle = text.lower(), search.lower()
    start = 0
    while (found := lowered.find(needle, start)) != -1:
        if found > start:
            segments.append(Segment(text[start:found], style))
        segments.append(Segment(text[found : found + len(needle)], style + _MATCH_STYLE))
        start = found + len(needle)
    if start < len(text):
        segments.append(Segment(text[start:], style))
    return segments
