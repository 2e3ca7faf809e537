"""The log pane: a title that says which run shows and how, over the run's log.

The parent sets `LogPane.run` (the run whose log shows) and hands lines to the
`RunLogView` inside; the pane's methods are the app's log keys (follow, this asset's
lines only, search), and its title follows what they change.

The log keeps at most ``FLOWDEV_LOG_MAX_LINES`` rows (default
`~flowdev.tui.widgets.log_view.DEFAULT_MAX_LINES`; 0 keeps every row); the run's
compute log file under the instance keeps every line either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flowdev.instance.run_records import RunRecord
from flowdev.tui.widgets.log_view import DEFAULT_MAX_LINES, RunLogView
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import var
from textual.widgets import Static

MAX_LINES_VARIABLE = "FLOWDEV_LOG_MAX_LINES"


def max_lines_setting(environ: Mapping[str, str]) -> tuple[int | None, str | None]:
    """How many rows the log keeps (None: every row), from ``FLOWDEV_LOG_MAX_LINES``,
    and what is wrong with its value (None if nothing is)."""
    value = environ.get(MAX_LINES_VARIABLE, "").strip()
    if not value:
        return DEFAULT_MAX_LINES, None
    try:
        lines = int(value)
    except ValueError:
        lines = -1
    if lines < 0:
        return DEFAULT_MAX_LINES, (
            f"{MAX_LINES_VARIABLE}={value!r} is not a number of lines: the log keeps the "
            f"last {DEFAULT_MAX_LINES:,} (set it to a whole number; 0 keeps every line)"
        )
    return (lines or None), None


class LogPane(Vertical):
    """A run's log with a title: the run, its status and selection, and the filters."""

    run: var[RunRecord | None] = var(None)
    """The run whose log shows (None: none yet)."""

    def __init__(self, *, id: str | None = None, environ: Mapping[str, str] = os.environ):
        """A pane whose log keeps as many rows as ``environ`` says (see the module)."""
        super().__init__(id=id)
        self._max_lines, self._setting_problem = max_lines_setting(environ)

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        yield RunLogView(id="log", max_lines=self._max_lines)

    def on_mount(self) -> None:
        for attribute in ("follow", "step_filter"):
            self.watch(self.log_view, attribute, self._update_title, init=False)
        self._update_title()
        if self._setting_problem is not None:
            self.notify(self._setting_problem, severity="warning", markup=False)

    @property
    def log_view(self) -> RunLogView:
        """The log itself."""
        return self.query_one(RunLogView)

    def watch_run(self) -> None:
        if self.is_mounted:
            self._update_title()

    def toggle_follow(self) -> None:
        """Follow the newest line, or stop following."""
        self.log_view.action_toggle_follow()

    def toggle_step(self, step: str | None) -> None:
        """Show only ``step``'s lines; every step's if they show already (or no step)."""
        view = self.log_view
        view.step_filter = None if view.step_filter == step else step

    def search(self) -> None:
        """Ask for text to search the log for (matches highlight as it is typed)."""
        from flowdev.tui.screens.search import SearchScreen

        view = self.log_view

        def searched(text: str | None) -> None:
            if text is not None:
                view.search = text
                view.focus()

        self.app.push_screen(SearchScreen(view), searched)

    def _update_title(self) -> None:
        run, view = self.run, self.log_view
        title = "log"
        if run is not None:
            title = f"log · run {run.run_id[:8]} {run.status.value} · {run.selection}"
        if view.step_filter:
            title += f" · only {view.step_filter} (a: all)"
        if not view.follow:
            title += " · paused (f follows)"
        self.query_one("#log-title", Static).update(title)
