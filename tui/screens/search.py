"""The log search prompt (``/``): matches highlight as you type; enter keeps them."""

from __future__ import annotations

from flowdev.tui.widgets.log_view import RunLogView
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input


class SearchScreen(ModalScreen[str | None]):
    """A one-line prompt at the bottom; the log behind it highlights each keystroke."""

    BINDINGS = [Binding("escape", "cancel", "Close")]
    DEFAULT_CSS = """
    SearchScreen { align: center bottom; background: transparent; }
    SearchScreen Input { width: 100%; dock: bottom; }
    """

    def __init__(self, log_view: RunLogView) -> None:
        super().__init__()
        self.log_view = log_view
        self.before = log_view.search

    def compose(self) -> ComposeResult:
        yield Input(value=self.before, placeholder="search the log", id="search-input")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.log_view.search = event.value

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Put the previous search back and close."""
        self.log_view.search = self.before
        self.dismiss(None)
