"""The help screen (``?``): every key, where it works, and what it does."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str, str], ...] = (
    ("graph", "arrows / h j k", "move to a parent, a child, or along the layer"),
    ("graph", "space", "mark or unmark the asset"),
    ("graph", "z  + -", "focus mode: only N hops around the cursor; change N"),
    ("list", "<  >  I", "sort by the column to the left or right; invert the order"),
    ("list", "click a header", "sort by that column (again to invert)"),
    ("app", "m", "materialize the cursor asset, or the marked set"),
    ("app", "M", "materialize it with everything downstream"),
    ("app", "U", "materialize it with everything upstream"),
    ("app", "S", "materialize every stale and missing asset"),
    ("app", "s", "type a selection query (Dagster's syntax) to mark or to run"),
    ("app", "enter", "run what the last save made stale (on the notice)"),
    ("app", "v", "switch between the graph and the list"),
    ("app", "r", "reload the definitions now"),
    ("app", "e", "open the asset's source (or the failure's line) in $EDITOR"),
    ("app", "l", "go to the log pane"),
    ("app", "tab", "next pane"),
    ("runs", "c", "cancel the selected run"),
    ("runs", "R", "re-execute the selected run from its failure"),
    ("log", "f", "follow the newest line on or off"),
    ("log", "a", "show only the cursor asset's lines; again for all"),
    ("log", "/  n N", "search the log; next and previous match"),
    ("log", "L", "show only warnings and errors, then errors, then all"),
    ("app", "ctrl+p", "command palette: jump to any asset, run any action"),
    ("app", "escape", "dismiss the load error or the notice"),
    ("app", "q", "quit (asks what to do with runs still going)"),
)


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

    def compose(self) -> ComposeResult:
        table = Table(title="flowdev keys", expand=True, show_edge=False)
        table.add_column("where", style="dim", no_wrap=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        for where, key, does in KEYS:
            table.add_row(where, key, does)
        with VerticalScroll():
            yield Static(table)
