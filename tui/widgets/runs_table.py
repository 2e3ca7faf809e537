"""The runs pane: recent runs with status, selection, start, duration, and each running
worker's pid, CPU and memory.

The parent sets ``runs`` (newest first) and ``usage`` (pid -> (cpu %, rss bytes));
rows are updated in place so the cursor and scroll position survive every refresh.

`RunSelected` reports the user's moves only. Moves the table makes itself (to
``selected``, or back to its row after a refresh rebuilt the rows) are silent: reported,
two of them in flight at once would each be answered with ``selected`` and move the
cursor back, forever, clearing the log on every swing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from flowdev.instance.run_records import RunRecord
from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable

RUN_STYLE = {
    "queued": "dim",
    "starting": "cyan",
    "started": "bold cyan",
    "success": "green",
    "failure": "red",
    "canceling": "yellow",
    "canceled": "yellow",
}
_COLUMNS = ("run", "status", "selection", "started", "duration", "pid", "cpu", "mem")


class RunsTable(DataTable[Text | str]):
    """Recent runs; the highlighted row is the selected run."""

    BINDINGS = [
        Binding("c", "cancel_run", "Cancel run", tooltip="Cancel the selected run"),
        Binding("R", "reexecute_run", "Re-execute", tooltip="Re-execute from failure"),
    ]

    runs: var[Sequence[RunRecord]] = var(())
    selected: var[str | None] = var(None)
    """The run the parent shows (e.g. one it just launched): the cursor goes to it."""
    clock: Callable[[], float] = time.time
    usage: var[Mapping[int, tuple[float, int]]] = var({})

    class RunSelected(Message):
        """The highlighted run changed."""

        def __init__(self, run_id: str) -> None:
            self.run_id = run_id
            super().__init__()

    class CancelRequested(Message):
        """The user asked to cancel a run."""

        def __init__(self, run_id: str) -> None:
            self.run_id = run_id
            super().__init__()

    class ReexecuteRequested(Message):
        """The user asked to re-execute a run from its failure."""

        def __init__(self, run_id: str) -> None:
            self.run_id = run_id
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        for column in _COLUMNS:
            self.add_column(column, key=column)

    @property
    def selected_run_id(self) -> str | None:
        """The run under the cursor."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        return row_key.value

    def watch_runs(self) -> None:
        self._sync()

    def watch_usage(self) -> None:
        self._sync()

    def watch_selected(self, run_id: str | None) -> None:
        rows = [row.key.value for row in self.ordered_rows] if self.is_mounted else []
        if run_id in rows:
            with self.prevent(DataTable.RowHighlighted):
                self.move_cursor(row=rows.index(run_id))

    def _sync(self) -> None:
        if not self.is_mounted:
            return
        wanted = [run.run_id for run in self.runs]
        current = [row.key.value for row in self.ordered_rows]
        if current != wanted:
            selected = self.selected or self.selected_run_id
            with self.prevent(DataTable.RowHighlighted):
                self.clear()
                for run in self.runs:
                    self.add_row(*self._cells(run), key=run.run_id)
                if selected in wanted:
                    self.move_cursor(row=wanted.index(selected))
            if selected not in wanted and self.row_count:
                # The selected run is gone: the first row is the user's now.
                self.post_message(self.RunSelected(wanted[0]))
            return
        for run in self.runs:
            for column, cell in zip(_COLUMNS, self._cells(run), strict=True):
                self.update_cell(run.run_id, column, cell)

    def _cells(self, run: RunRecord) -> list[Text | str]:
        status = Text(run.status.value, RUN_STYLE.get(run.status.value, ""))
        started = run.start_time or run.create_time
        duration = (
            None if run.start_time is None else (run.end_time or self.clock()) - run.start_time
        )
        pid, cpu, mem = "", "", ""
        if run.pid is not None and run.status.is_active:
            pid = str(run.pid)
            if run.pid in self.usage:
                cpu_percent, rss = self.usage[run.pid]
                cpu, mem = f"{cpu_percent:.0f}%", f"{rss / 2**20:.0f} MB"
        selection = run.selection if len(run.selection) <= 30 else run.selection[:29] + "…"
        return [
            run.run_id[:8],
            status,
            selection,
            time.strftime("%H:%M:%S", time.localtime(started)),
            "" if duration is None else f"{duration:.1f}s",
            pid,
            cpu,
            mem,
        ]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.RunSelected(event.row_key.value))

    def action_cancel_run(self) -> None:
        """Ask to cancel the selected run."""
        if self.selected_run_id:
            self.post_message(self.CancelRequested(self.selected_run_id))

    def action_reexecute_run(self) -> None:
        """Ask to re-execute the selected run from its failure."""
        if self.selected_run_id:
            self.post_message(self.ReexecuteRequested(self.selected_run_id))
