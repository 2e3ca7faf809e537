"""The main screen's keys: the app's own, which work in every pane of the main screen.

The screen shows the app's layout (`FlowdevApp.compose`); its bindings run the app's
actions (``app.`` names them), so they work whichever pane has focus, and not under a
dialog (the help, the quit question) shown over it. A pane's own keys live on the
pane's widget; the help screen and the palette read both (`flowdev.tui.bindings`).
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen


class MainScreen(Screen[None]):
    """The graph, the panel, the runs and the log, and the keys that work in all of them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "m",
            "app.materialize('cursor')",
            "Materialize",
            id="app.materialize",
            tooltip="Materialize the cursor asset, or the marked set",
        ),
        Binding(
            "M",
            "app.materialize('downstream')",
            "+downstream",
            id="app.downstream",
            tooltip="Materialize it with everything downstream",
        ),
        Binding(
            "U",
            "app.materialize('upstream')",
            "+upstream",
            id="app.upstream",
            tooltip="Materialize it with everything upstream",
        ),
        Binding(
            "S",
            "app.materialize('stale')",
            "Stale+missing",
            id="app.stale",
            tooltip="Materialize every stale and missing asset",
        ),
        Binding(
            "s",
            "app.select",
            "Select",
            id="app.select",
            tooltip="Type a selection query (Dagster's syntax) to mark or to run",
        ),
        Binding(
            "enter",
            "app.enter",
            "Panel / run changed",
            id="app.enter",
            tooltip="Run what the last save made stale (on the notice), else go to the panel",
            show=False,
        ),
        Binding(
            "v",
            "app.toggle_view",
            "Graph/list",
            id="app.toggle_view",
            tooltip="Switch between the graph and the list",
        ),
        Binding("r", "app.reload", "Reload", id="app.reload", tooltip="Reload the definitions now"),
        Binding(
            "e",
            "app.edit",
            "Edit",
            id="app.edit",
            tooltip="Open the asset's source (or the failure's line) in $EDITOR",
        ),
        Binding("l", "app.focus_logs", "Logs", id="app.logs", tooltip="Go to the log pane"),
        Binding(
            "f",
            "app.follow",
            "Follow",
            id="app.follow",
            tooltip="Log: follow the newest line, or stop following",
            show=False,
        ),
        Binding(
            "a",
            "app.filter_log",
            "Log: this asset",
            id="app.filter_log",
            tooltip="Log: show only the cursor asset's lines; again for every line",
            show=False,
        ),
        Binding(
            "slash",
            "app.search_log",
            "Search log",
            id="app.search",
            tooltip="Log: search (matches highlight as you type; n and N in the log)",
            show=False,
        ),
        Binding(
            "escape",
            "app.dismiss",
            "Dismiss",
            id="app.dismiss",
            tooltip="Dismiss the load error or the save notice",
            show=False,
        ),
        Binding("question_mark", "app.help", "Help", id="app.help", tooltip="Show every key"),
        Binding(
            "q",
            "app.quit_app",
            "Quit",
            id="app.quit",
            tooltip="Quit (asks what to do with runs still going)",
        ),
    ]
