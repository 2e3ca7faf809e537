"""The help screen (``?``): every key, where it works, and what it does.

Written from the bindings (`flowdev.tui.bindings.bound_keys`), never by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowdev.tui.bindings import BoundKey
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Every key of the app in one table."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, keys: Sequence[BoundKey]) -> None:
        """A table of ``keys`` (see `bound_keys`), in their order."""
        super().__init__()
        self.keys = tuple(keys)

    def compose(self) -> ComposeResult:
        table = Table(title="flowdev keys", expand=True, show_edge=False)
        table.add_column("where", style="dim", no_wrap=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        for key in self.keys:
            table.add_row(key.where, key.keys, key.description)
        with VerticalScroll():
            yield Static(table)
