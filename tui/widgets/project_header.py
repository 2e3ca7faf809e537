"""The top line: the project, how many assets, the last load, and a count per status.

::

    taxi · 13 assets · reloaded 4 s ago (0.31 s) · 1 running · 2 stale · 10 fresh

The parent sets the attributes; the age of the last load ticks on every second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from flowdev.durations import ago
from flowdev.instance.status import AssetStatus, summarize
from flowdev.keys import AssetKey
from flowdev.project.loader import LoadError
from flowdev.project.snapshot import DefinitionsSnapshot
from textual.reactive import var
from textual.widgets import Static

# Counted in this order: what needs attention first, then the rest.
_ATTENTION = ("running", "queued", "failed", "check_failed", "stale", "overdue")
_CALM = ("missing", "fresh")
_NO_STATUSES: Mapping[AssetKey, AssetStatus] = MappingProxyType({})


class ProjectHeader(Static):
    """One line about the project: what loaded, when, and how its assets stand."""

    project_name: var[str] = var("")
    root: var[Path | None] = var(None)
    """The project's root, which load errors' locations are relative to."""
    snapshot: var[DefinitionsSnapshot | None] = var(None)
    load_error: var[LoadError | None] = var(None)
    loaded_at: var[float | None] = var(None)
    """When the definitions last loaded (epoch seconds; None: not yet)."""
    load_ms: var[float | None] = var(None)
    statuses: var[Mapping[AssetKey, AssetStatus]] = var(_NO_STATUSES)

    def __init__(self, *, id: str | None = None, clock: Callable[[], float] = time.time):
        """A header whose ages are measured from ``clock`` (epoch seconds)."""
        super().__init__(id=id)
        self.clock = clock

    def on_mount(self) -> None:
        self.set_interval(1.0, self._show)
        self._show()

    def _watch_any(self) -> None:
        if self.is_mounted:
            self._show()

    # Any of them changes the line.
    watch_project_name = watch_snapshot = watch_load_error = _watch_any
    watch_loaded_at = watch_load_ms = watch_statuses = _watch_any

    def _show(self) -> None:
        parts = [f"[b]{self.project_name}[/b]"]
        if self.snapshot is not None:
            count = sum(1 for a in self.snapshot.assets if not a.is_external)
            parts.append(f"{count} assets")
        if self.load_error is not None:
            where = self.load_error.location(self.root) or ""
            parts.append(f"[red]load failed: {where} {self.load_error.exception_type}[/red]")
            if self.snapshot is not None:
                parts.append("[dim](showing the last good definitions)[/dim]")
        elif self.loaded_at is not None:
            since = ago(self.clock() - self.loaded_at)
            parts.append(f"reloaded {since} ({(self.load_ms or 0) / 1000:.2f} s)")
        else:
            parts.append("loading…")
        counts = summarize(self.statuses)
        for name in (*_ATTENTION, *_CALM):
            if counts.get(name):
                parts.append(f"{counts[name]} {name.replace('_', ' ')}")
        self.update(" · ".join(parts))
