"""The selection prompt (``s``): a query in Dagster's selection syntax, checked as typed.

Enter marks what it selects; ctrl+r runs it. A malformed query shows the message with
the caret under the column; an unknown key shows close matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flowdev.errors import FlowdevError
from flowdev.keys import AssetKey
from flowdev.selection.graph import AssetGraph
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


@dataclass(frozen=True, slots=True)
class SelectionChoice:
    """The query, what it selected, and whether to mark or run it."""

    query: str
    keys: frozenset[AssetKey]
    action: Literal["mark", "run"]


class SelectionScreen(ModalScreen[SelectionChoice | None]):
    """Type a selection; see how many assets it picks, or what is wrong with it."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("ctrl+r", "run", "Run it", priority=True),
    ]
    DEFAULT_CSS = """
    SelectionScreen { align: center top; }
    SelectionScreen > Vertical {
        width: 90; max-width: 100%; height: auto; margin-top: 3;
        border: round $accent; background: $surface; padding: 0 1;
    }
    SelectionScreen #selection-feedback { color: $text-muted; }
    SelectionScreen #selection-feedback.error { color: $error; }
    """

    def __init__(self, graph: AssetGraph, initial: str = "") -> None:
        super().__init__()
        self.graph = graph
        self.initial = initial
        self._keys: frozenset[AssetKey] | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("select assets — enter marks them, ctrl+r runs them")
            yield Input(
                value=self.initial,
                placeholder="e.g. group:ingest+  or  key:raw_*  or  +key:daily_summary",
                id="selection-input",
            )
            yield Static("", id="selection-feedback")

    def on_mount(self) -> None:
        self._check(self.initial)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, query: str) -> None:
        from flowdev.selection.syntax import select

        feedback = self.query_one("#selection-feedback", Static)
        if not query.strip():
            self._keys = None
            feedback.update("")
            feedback.remove_class("error")
            return
        try:
            self._keys = frozenset(select(self.graph, query))
        except FlowdevError as error:
            self._keys = None
            feedback.update(Content(str(error)))  # plain text: a query may hold '['
            feedback.add_class("error")
            return
        feedback.remove_class("error")
        feedback.update(f"{len(self._keys)} assets")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if self._keys is not None:
            self.dismiss(SelectionChoice(event.value, self._keys, "mark"))

    def action_run(self) -> None:
        """Run what the query selects."""
        if self._keys is not None:
            query = self.query_one(Input).value
            self.dismiss(SelectionChoice(query, self._keys, "run"))
