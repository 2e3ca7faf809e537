"""What the app's Line-API views share: a strip cache, component styles, `CursorMoved`.

`AssetGraphView`, `AssetListView` and `RunLogView` are `ScrollView`s that draw one row
at a time in `render_line` (as Textual's own `Log` does). Each keeps the strips it drew
in an LRU cache, and builds its styles from its component classes (``<prefix>--<part>``
in its stylesheet), so themes and ``NO_COLOR`` apply; a style change empties both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from flowdev.tui.widgets.status import component_style
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

if TYPE_CHECKING:
    from flowdev.keys import AssetKey


class LineView(ScrollView, can_focus=True):
    """A focusable `ScrollView` that caches the strips it draws and styles them by
    component class.

    A subclass sets `COMPONENT_PREFIX` (``asset-graph`` styles ``asset-graph--edge``),
    keys `_strips` by everything a row's look depends on (include `_pseudo_state`: focus
    changes the cursor's colour), and calls `_restyle` when what rows show changes.
    """

    COMPONENT_PREFIX: ClassVar[str] = ""
    """The prefix of the component classes `_style` looks up."""

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._styles: dict[tuple[object, ...], Style] = {}
        self._pseudo_state: object = None

    def render_lines(self, crop: Region) -> list[Strip]:
        # Read once per frame, not per row: a row's style depends on focus and hover.
        self._pseudo_state = self.get_pseudo_class_state()
        return super().render_lines(crop)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _on_resize(self, event: events.Resize) -> None:
        # Room for a few screenfuls, so scrolling back and forth draws nothing again.
        self._strips.grow(max(1024, 4 * event.size.height))

    def _restyle(self) -> None:
        """Draw every row again (what they show changed, not where they are)."""
        self._strips.clear()
        self.refresh()

    def _style(self, *parts: str | None) -> Style:
        """The widget's style plus the named component styles (None skipped), cached."""
        cache_key = (self._pseudo_state, *parts)
        style = self._styles.get(cache_key)
        if style is None:
            style = self.rich_style
            for part in parts:
                if part is not None:
                    style += component_style(self, f"{self.COMPONENT_PREFIX}--{part}")
            self._styles[cache_key] = style
        return style


class CursorMoved(Message):
    """A view's cursor moved to another asset (``key``), or off every asset (None).

    The base of `AssetGraphView.CursorMoved` and `AssetListView.CursorMoved`. A burst
    (a key held down) is merged into its last move before the parent sees it: only
    where the cursor ended up matters, and the parent loads that asset's history.
    """

    def __init__(self, view: LineView, key: AssetKey | None) -> None:
        self.view = view
        self.key = key
        super().__init__()

    @property
    def control(self) -> LineView:
        """The view that posted it."""
        return self.view

    def can_replace(self, message: Message) -> bool:
        """A later move of the same view supersedes this one (see `Message.can_replace`)."""
        return (
            isinstance(message, CursorMoved)
            and type(message) is type(self)
            and message.view is self.view
        )
