"""Asked on ``q`` while runs are going: cancel them, leave them running, or stay."""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

QuitChoice = Literal["cancel", "leave", "stay"]


class QuitScreen(ModalScreen[QuitChoice]):
    """Three ways out when runs are active; escape stays."""

    BINDINGS = [
        Binding("escape", "choose('stay')", "Stay"),
        Binding("c", "choose('cancel')", "Cancel runs"),
        Binding("l", "choose('leave')", "Leave running"),
    ]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical {
        width: 64; height: auto; border: round $warning; background: $surface; padding: 1 2;
    }
    QuitScreen Horizontal { height: auto; margin-top: 1; }
    QuitScreen Button { margin-right: 1; }
    """

    def __init__(self, active_runs: int) -> None:
        super().__init__()
        self.active_runs = active_runs

    def compose(self) -> ComposeResult:
        plural = "s are" if self.active_runs != 1 else " is"
        with Vertical():
            yield Label(f"{self.active_runs} run{plural} still going. Quit anyway?")
            with Horizontal():
                yield Button("Cancel them and quit [c]", id="cancel", variant="error")
                yield Button("Leave running [l]", id="leave", variant="warning")
                yield Button("Stay [esc]", id="stay", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "stay")

    def action_choose(self, choice: str) -> None:
        """Close with ``choice``."""
        self.dismiss(choice if choice in ("cancel", "leave") else "stay")  # type: ignore[arg-type]
