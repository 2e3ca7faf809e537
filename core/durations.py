"""Durations as people read them: ``"3m ago"`` in a table, ``"3m 12s"`` in a panel.

The one formatter the CLI tables, the app's asset list and its asset panel share.
"""

from __future__ import annotations

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: float, *, units: int = 2) -> str:
    """``seconds`` in its largest ``units`` whole units: ``"3m 12s"``, ``"2d 4h"``,
    ``"45s"`` (``units=1``: ``"3m"``). Negative durations (clock skew) count as zero."""
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in _UNITS:
        if parts or left >= size or size == 1:
            count, left = divmod(left, size)
            parts.append(f"{count}{unit}")
            if len(parts) == units:
                break
    return " ".join(parts)


def ago(seconds: float) -> str:
    """How long ago, for a table cell: ``"12s ago"``, ``"5m ago"``, ``"3h ago"``."""
    return f"{duration(seconds, units=1)} ago"
