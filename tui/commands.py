"""The command palette (ctrl+p): jump to any asset by a fuzzy key, or run any action."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

if TYPE_CHECKING:
    from flowdev.tui.app import FlowdevApp

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Materialize the cursor asset (or the marked set)", "materialize('cursor')", "m"),
    ("Materialize with everything downstream", "materialize('downstream')", "M"),
    ("Materialize with everything upstream", "materialize('upstream')", "U"),
    ("Materialize every stale and missing asset", "materialize('stale')", "S"),
    ("Select assets with a query", "select", "s"),
    ("Reload the definitions", "reload", "r"),
    ("Open the asset's source in $EDITOR", "edit", "e"),
    ("Switch between graph and list", "toggle_view", "v"),
    ("Search the log", "search_log", "/"),
    ("Show the keys", "help", "?"),
    ("Quit", "quit_app", "q"),
)


class FlowdevCommands(Provider):
    """Assets by key, and every app action."""

    @property
    def flowdev_app(self) -> FlowdevApp:
        return cast("FlowdevApp", self.app)

    async def discover(self) -> Hits:
        for title, action, key in ACTIONS:
            # Content, not a markup string: keys such as "/" and "?" are not tags.
            yield DiscoveryHit(Content(f"{title}  ({key})"), partial(self._run, action))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, key in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=key)
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

    async def _run(self, action: str) -> None:
        await self.flowdev_app.run_action(action)
