"""The command palette (ctrl+p): jump to any asset by a fuzzy key, or run any action.

The actions are the app's and its panes' bindings (`flowdev.tui.bindings`): every key
is also a command, under the words its tooltip says, and runs on the widget that owns it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from flowdev.tui.bindings import BoundKey, bound_keys
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

if TYPE_CHECKING:
    from flowdev.tui.app import FlowdevApp


class FlowdevCommands(Provider):
    """Assets by key, and every action bound to a key."""

    @property
    def flowdev_app(self) -> FlowdevApp:
        return cast("FlowdevApp", self.app)

    def _commands(self) -> list[BoundKey]:
        # Textual's own keys (focus, quit, the palette) are its system commands already.
        return [key for key in bound_keys(self.screen) if not key.textual]

    async def discover(self) -> Hits:
        for key in self._commands():
            # Content, not a markup string: keys such as "/" and "?" are not tags.
            title = Content(f"{key.description}  ({key.keys})")
            yield DiscoveryHit(title, partial(self._run, key), help=key.where)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for key in self._commands():
            score = matcher.match(key.description)
            if score > 0:
                help_text = f"{key.keys} · {key.where}"
                yield Hit(
                    score, matcher.highlight(key.description), partial(self._run, key), help_text
                )
        snapshot = self.flowdev_app.snapshot
        if snapshot is None:
            return
        for asset in snapshot.assets:
            name = asset.key.to_user_string()
            score = matcher.match(name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(name),
                    partial(self.flowdev_app.jump_to, asset.key),
                    help=f"asset · {asset.group}",
                )

    async def _run(self, key: BoundKey) -> None:
        await self.app.run_action(key.binding.action, key.owner)
