"""How each asset status looks in the app: one glyph, legible without colour.

The names are the lowercase statuses of `flowdev.instance.status` (and ``flowdev assets --json``).
Colours come from each widget's stylesheet (``<widget>--<status>`` component classes,
with ``check_failed`` written ``check-failed``), so themes and NO_COLOR apply.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from rich.style import Style

if TYPE_CHECKING:
    from textual.widget import Widget

STATUS_GLYPHS = MappingProxyType(
    {
        "missing": "○",
        "fresh": "✓",
        "stale": "~",
        "overdue": "!",
        "failed": "✗",
        "queued": "…",
        "running": "↻",
        "check_failed": "⚑",
        "external": "◇",
    }
)
"""Each status's glyph: one cell wide, and no two alike."""

UNKNOWN_GLYPH = "·"
"""The glyph of an asset whose status is not known (yet)."""


def status_glyph(status: str | None) -> str:
    """The glyph for ``status`` (`UNKNOWN_GLYPH` for None or a name it does not know)."""
    return STATUS_GLYPHS.get(status, UNKNOWN_GLYPH) if status else UNKNOWN_GLYPH


def status_class(prefix: str, status: str) -> str:
    """The component class a widget styles ``status`` with, e.g. ``asset-graph--check-failed``."""
    return f"{prefix}--{status.replace('_', '-')}"


def component_style(widget: Widget, name: str) -> Style:
    """What ``widget``'s component class ``name`` sets, so that several can stack, with
    its colours blended over the widget's background as Textual blends them (a partial
    style alone would turn ``$accent 30%`` into the full accent)."""
    partial = widget.get_component_rich_style(name, partial=True)
    blended = widget.get_component_rich_style(name)
    return partial + Style(
        color=blended.color if partial.color is not None else None,
        bgcolor=blended.bgcolor if partial.bgcolor is not None else None,
    )
