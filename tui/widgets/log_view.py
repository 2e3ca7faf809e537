"""The log pane: a run's events and compute output, interleaved, coloured by level.

Built on the Line API like Textual's own `Log`: rows are kept as parsed text, only the
visible ones are rendered (one `Strip` each, cached), and appending a batch of lines
touches nothing already on screen. Follow mode keeps the newest line in view; scrolling
up pauses it and scrolling back to the bottom resumes it. A filter (by step and by
minimum level) and an incremental search with highlighted matches narrow what shows.

User output is shown as a terminal would show it: ANSI colour codes become styles
(`rich.text.Text.from_ansi`), a line redrawn with ``\r`` (a progress bar) shows its
last state, and widths are measured in cells (a CJK character takes two). At most
`RunLogView.max_lines` rows are kept (the oldest go first); the run's compute log
file keeps everything. Colours come from component classes (``run-log--<part>``), so
themes and ``NO_COLOR`` apply to them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import ClassVar

from flowdev.instance.runlog import LogLine
from flowdev.tui.widgets.line_view import LineView
from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Span, Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive, var
from textual.strip import Strip

LEVELS = ("DEBUG", "INFO", "OUTPUT", "WARNING", "ERROR")
_LEVEL_RANK = {"DEBUG": 0, "INFO": 1, "OUTPUT": 1, "WARNING": 2, "ERROR": 3, "CRITICAL": 3}
# Each level's component class (``run-log--<part>``); a level not named is unstyled.
_LEVEL_PART = {"DEBUG": "debug", "WARNING": "warning", "ERROR": "error", "CRITICAL": "critical"}
_SPECIAL = re.compile("[\x1b\r\t]")  # what only the ANSI parser gets right
_GUTTER_WIDTH = 9 + 19 + 2  # "HH:MM:SS ", the step in 18 cells and a space, the mark

DEFAULT_MAX_LINES = 100_000
"""How many rows the log keeps unless told otherwise."""


@dataclass(frozen=True, slots=True)
class _Row:
    """One screen row: a line of a `LogLine` (tracebacks span several rows)."""

    line: LogLine
    text: str
    first: bool
    spans: tuple[Span, ...] = ()  # the styles its ANSI codes gave it


def parse_output(text: str) -> list[tuple[str, tuple[Span, ...]]]:
    """``text`` as the rows a terminal would show, each as its characters and styles:
    one per line, ANSI codes turned into styles, each line at the last state a ``\r``
    redrew it to, tabs expanded."""
    rows: list[tuple[str, tuple[Span, ...]]] = []
    for line in text.split("\n"):
        if not _SPECIAL.search(line):
            rows.append((line, ()))  # most lines: nothing to parse
            continue
        # A line ended by "\r" (a CRLF, or a bar's last redraw) still shows what it said.
        parsed = Text.from_ansi(line.rstrip("\r"), end="")
        parsed.expand_tabs()
        rows.append((parsed.plain, tuple(parsed.spans)))
    return rows


class RunLogView(LineView):
    """A run's log, rendered a visible row at a time.

    Attributes set by the parent: ``step_filter`` (a step key or None for all),
    ``min_level`` (one of `LEVELS`), ``search`` (text to highlight; empty for none),
    ``max_lines`` (the most rows kept; None keeps every row).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "n",
            "next_match",
            "Next match",
            id="log.next_match",
            tooltip="Scroll to the next line that matches the search",
            show=False,
        ),
        Binding(
            "N",
            "previous_match",
            "Previous match",
            id="log.previous_match",
            tooltip="Scroll to the previous line that matches the search",
            show=False,
        ),
        Binding(
            "L",
            "cycle_level",
            "Level",
            id="log.level",
            tooltip="Show only warnings and errors, then errors, then every line",
        ),
        Binding(
            "end",
            "scroll_end",
            "Bottom",
            id="log.bottom",
            tooltip="Scroll to the newest line (and follow it)",
            show=False,
        ),
        Binding(
            "home",
            "scroll_home",
            "Top",
            id="log.top",
            tooltip="Scroll to the oldest line kept",
            show=False,
        ),
    ]

    DEFAULT_CSS = """
    RunLogView {
        background: $surface;
        overflow-y: scroll;
        overflow-x: auto;
        & > .run-log--gutter { text-style: dim; }
        & > .run-log--debug { text-style: dim; }
        & > .run-log--warning { color: $text-warning; }
        & > .run-log--error { color: $text-error; }
        & > .run-log--critical { color: $text-error; text-style: bold; }
        & > .run-log--materialized { color: $text-success; }
        & > .run-log--match { text-style: reverse bold; }
        /* Without colour, warnings and errors still stand out. */
        &:nocolor > .run-log--warning { text-style: bold; }
        &:nocolor > .run-log--error { text-style: bold underline; }
        &:nocolor > .run-log--critical { text-style: bold underline; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "run-log--gutter",
        "run-log--debug",
        "run-log--warning",
        "run-log--error",
        "run-log--critical",
        "run-log--materialized",
        "run-log--match",
    }
    """
    | Class | Description |
    | :- | :- |
    | `run-log--gutter` | The time and the step at the start of each line. |
    | `run-log--debug` | A DEBUG line. |
    | `run-log--warning` | A WARNING line. |
    | `run-log--error` | An ERROR line. |
    | `run-log--critical` | A CRITICAL line. |
    | `run-log--materialized` | The event of an asset materialized. |
    | `run-log--match` | Text that matches the search. |
    """

    COMPONENT_PREFIX = "run-log"

    follow: reactive[bool] = reactive(True)
    step_filter: var[str | None] = var(None)
    min_level: var[str] = var("DEBUG")
    search: var[str] = var("")
    max_lines: var[int | None] = var(DEFAULT_MAX_LINES)

    def __init__(
        self,
        *,
        max_lines: int | None = DEFAULT_MAX_LINES,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        """A log that keeps at most ``max_lines`` rows (None: every row)."""
        super().__init__(name=name, id=id)
        self.set_reactive(RunLogView.max_lines, max_lines)
        self._rows: list[_Row] = []
        self._shown: list[int] | None = None  # indices into _rows; None: every row
        self._width = 0
        self._matches: list[int] = []
        self._match_cursor = -1

    # -- content -------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many rows show (after the filter)."""
        return len(self._rows) if self._shown is None else len(self._shown)

    @property
    def kept_count(self) -> int:
        """How many rows are kept (shown or filtered out), at most `max_lines`."""
        return len(self._rows)

    def clear(self) -> None:
        """Forget every line (a different run was selected)."""
        self._rows.clear()
        self._shown = None if self._unfiltered else []
        self._width = 0
        self._strips.clear()
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
            for number, (text, spans) in enumerate(parse_output(line.text)):
                self._rows.append(_Row(line, text, number == 0, spans))
        new_rows = range(start, len(self._rows))
        if self._shown is not None:
            self._shown.extend(i for i in new_rows if self._passes(self._rows[i]))
        if self.search:
            self._matches.extend(i for i in self._visible(new_rows) if self._hit(i))
        widest = max(cell_len(self._rows[i].text) for i in new_rows)
        self._width = max(self._width, _GUTTER_WIDTH + widest)
        dropped = self._prune()
        self.virtual_size = Size(self._width, self.row_count)
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            if dropped:  # what was on screen moved up by the rows dropped: stay with it
                self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
            self.refresh()

    def _prune(self) -> int:
        """Drop the oldest rows past `max_lines`; how many rows left the screen's list."""
        excess = 0 if self.max_lines is None else len(self._rows) - max(1, self.max_lines)
        if excess <= 0:
            return 0
        del self._rows[:excess]
        self._strips.clear()  # cached by row index, and every index moved
        self._matches = [i - excess for i in self._matches if i >= excess]
        self._match_cursor = -1
        if self._shown is None:
            return excess
        before = len(self._shown)
        self._shown = [i - excess for i in self._shown if i >= excess]
        return before - len(self._shown)

    def watch_max_lines(self) -> None:
        if self._prune():
            self.virtual_size = Size(self._width, self.row_count)
            self.refresh()

    # -- rendering -----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        if index >= self.row_count:
            return Strip.blank(width, self.rich_style)
        row_index = index if self._shown is None else self._shown[index]
        cache_key = (row_index, self.search, self._pseudo_state)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._render_row(self._rows[row_index])
            self._strips[cache_key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _render_row(self, row: _Row) -> Strip:
        line = row.line
        gutter = (
            time.strftime("%H:%M:%S ", time.localtime(line.timestamp)) if row.first else " " * 9
        )
        step = (line.step_key or "run")[:18].ljust(18) + " " if row.first else " " * 19
        mark = "│ " if line.is_output else _event_mark(line)
        part = _LEVEL_PART.get(line.level)
        if line.event is not None and line.event.kind.value == "ASSET_MATERIALIZATION":
            part = "materialized"
        style = self._style(part)
        body = Text(row.text, spans=list(row.spans), end="")
        if self.search:
            body.highlight_words([self.search], self._style(part, "match"), case_sensitive=False)
        segments = [Segment(gutter + step, self._style("gutter")), Segment(mark, style)]
        # The level's style under the ANSI codes' own, as a terminal would show them.
        segments += Segment.apply_style(body.render(self.app.console, end=""), style)
        return Strip(segments, _GUTTER_WIDTH + cell_len(row.text))

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

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Scrolling up pauses follow mode; reaching the bottom again resumes it.
        if new_value < old_value and new_value < self.max_scroll_y:
            self.follow = False
        elif new_value >= self.max_scroll_y and self.row_count:
            self.follow = True

    def on_resize(self) -> None:
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
