"""The line that says what a save changed, until the user runs it (enter) or dismisses it.

::

    +0 −0 ~1 assets · 3 now stale   [enter] run them · [esc] dismiss
"""  # noqa: RUF002

from __future__ import annotations

from collections.abc import Mapping

from flowdev.instance.status import AssetStatus
from flowdev.keys import AssetKey
from flowdev.project.snapshot import DefinitionsSnapshot, diff_snapshots
from textual.widgets import Static


class SaveNotice(Static):
    """What the last save added, removed and edited, and how much it made stale."""

    def announce(
        self,
        previous: DefinitionsSnapshot,
        snapshot: DefinitionsSnapshot,
        previous_statuses: Mapping[AssetKey, AssetStatus],
    ) -> frozenset[AssetKey] | None:
        """Show what changed from ``previous`` to ``snapshot``; the assets the save
        touched (the edited and added ones and everything downstream), or None if it
        changed no asset (the notice then stays as it was)."""
        diff = diff_snapshots(previous, snapshot)
        if not (diff.added or diff.removed or diff.edited):
            return None
        touched = set(diff.added) | set(diff.edited)
        # What the save made stale: the edited assets and everything downstream of them
        # that was materialized; added assets are new work too.
        affected = {
            key
            for key in snapshot.asset_graph.downstream(touched) | touched
            if not snapshot.get(key).is_external
        }
        stale_now = {
            key
            for key in affected
            if key in diff.added
            or previous_statuses.get(key) is None
            or previous_statuses[key].last_materialized is not None
        }
        counts = f"+{len(diff.added)} −{len(diff.removed)} ~{len(diff.edited)} assets"  # noqa: RUF001
        self.update(f"{counts} · {len(stale_now)} now stale   [enter] run them · [esc] dismiss")
        self.remove_class("hidden")
        return frozenset(affected)

    def dismiss(self) -> None:
        """Hide the notice."""
        self.add_class("hidden")
