"""The two views of the assets, one on screen at a time: the graph and the list.

The parent sets `AssetViews.snapshot` and `~AssetViews.statuses` (and the graph's own
attributes through `AssetViews.graph`); the pane keeps the list's cursor on the
graph's asset and the graph's on the list's, so switching (`toggle`) shows the same
asset. The graph's `AssetGraphView.CursorMoved` goes on up: the graph's cursor is the
app's, whichever view leads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

from flowdev.instance.status import AssetStatus
from flowdev.keys import AssetKey
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.tui.widgets.asset_graph import AssetGraphView
from flowdev.tui.widgets.asset_list import AssetListView
from textual import on
from textual.app import ComposeResult
from textual.widgets import ContentSwitcher

_NO_STATUSES: Mapping[AssetKey, AssetStatus] = MappingProxyType({})


class AssetViews(ContentSwitcher):
    """The asset graph (``#graph``) or the sortable asset list (``#list``)."""

    def __init__(self, *, id: str | None = None, clock: Callable[[], float] = time.time):
        """The graph first; the list measures ages from ``clock`` (epoch seconds)."""
        super().__init__(initial="graph", id=id)
        self._clock = clock
        self.snapshot: DefinitionsSnapshot | None = None
        self.statuses: Mapping[AssetKey, AssetStatus] = _NO_STATUSES

    def compose(self) -> ComposeResult:
        yield AssetGraphView(id="graph")
        yield AssetListView(id="list", clock=self._clock)

    @property
    def graph(self) -> AssetGraphView:
        """The graph, whose cursor is the app's."""
        return self.query_one(AssetGraphView)

    @property
    def list_shown(self) -> bool:
        """Whether the list is the view on screen."""
        return self.current == "list"

    def show(
        self, snapshot: DefinitionsSnapshot | None, statuses: Mapping[AssetKey, AssetStatus]
    ) -> None:
        """Draw ``snapshot`` with ``statuses`` (the list only while it shows)."""
        self.snapshot, self.statuses = snapshot, statuses
        graph = self.graph
        if graph.snapshot is not snapshot:
            graph.snapshot = snapshot
        graph.statuses = {key: status.status.value for key, status in statuses.items()}
        self._sync_list()

    def toggle(self) -> None:
        """Show the other view, and focus it."""
        self.current = "list" if self.current == "graph" else "graph"
        self._sync_list()
        self.query_one(f"#{self.current}").focus()

    def _sync_list(self) -> None:
        """Hand the list its data, only while it shows.

        A hidden list would sort and measure every row on each status refresh for
        nothing; it is filled when the user switches to it.
        """
        if not self.list_shown:
            return
        listing = self.query_one(AssetListView)
        # The cursor first: a list filled without one puts it on its first row and says
        # so, which would drag the graph's cursor there and back.
        listing.cursor = self.graph.cursor
        if listing.snapshot is not self.snapshot:
            listing.snapshot = self.snapshot
        listing.statuses = {key: status.status.value for key, status in self.statuses.items()}
        listing.details = self.statuses

    @on(AssetGraphView.CursorMoved)
    def _graph_cursor_moved(self, event: AssetGraphView.CursorMoved) -> None:
        if self.list_shown:
            self.query_one(AssetListView).cursor = event.key

    @on(AssetListView.CursorMoved)
    def _list_cursor_moved(self, event: AssetListView.CursorMoved) -> None:
        event.stop()
        # Only the list on screen leads: a hidden list echoing the graph's own moves back
        # (its messages arrive later) would drag the cursor to where it was.
        if not self.is_attached or not self.list_shown:
            return
        if event.key is not None and event.key != self.graph.cursor:
            self.graph.cursor = event.key
