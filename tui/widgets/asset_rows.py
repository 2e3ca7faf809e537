"""The asset list's rows as text: what each column shows, how wide it is, how rows sort.

Plain functions over a snapshot and its statuses, with no Textual in them, so that
`AssetListView` only draws and `tests/test_tui_list.py` can check the words without an
app. A `Row` keeps what an asset's row takes from the snapshot; its status, age and
reason come from the parent's mappings when a row is drawn, so a status refresh copies
nothing, and the age (which keeps ticking) is measured from the time it is drawn at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from flowdev.defs.policies import FreshnessPolicy
from flowdev.durations import ago
from flowdev.keys import AssetKey
from flowdev.project.snapshot import AssetSnapshot, DefinitionsSnapshot
from flowdev.tui.widgets.status import status_glyph
from rich.cells import cell_len


class AssetDetails(Protocol):
    """What the list shows of an asset beyond its definition (from `flowdev.instance.status`)."""

    @property
    def last_materialized(self) -> float | None:
        """When it was last materialized (epoch seconds), or None if never."""

    @property
    def stale_reasons(self) -> tuple[str, ...]:
        """Why it is stale (empty when it is not)."""


COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "Key"),
    ("group", "Group"),
    ("status", "Status"),
    ("age", "Materialized"),
    ("policy", "Freshness"),
    ("reason", "Reason"),
)
"""The list's columns: (column key, header)."""

COLUMN_KEYS: tuple[str, ...] = tuple(key for key, _ in COLUMNS)
"""The columns' keys, left to right."""

_AGE_LABEL = dict(COLUMNS)["age"]

ARROW_ROOM = 2
"""Cells every header keeps for the sort arrow (``" ▲"``), so no column jumps when the
sort moves to it."""

# Most urgent first: what a sort by status puts on top.
STATUS_ORDER: Mapping[str, int] = {
    status: rank
    for rank, status in enumerate(
        (
            "failed",
            "check_failed",
            "running",
            "queued",
            "overdue",
            "stale",
            "missing",
            "fresh",
            "external",
        )
    )
}

# The widest age shorter than a day ("59s ago", "59m ago", "23h ago"); past a day the
# text only grows with the age, so the oldest materialization bounds the column.
_WIDEST_SUB_DAY_AGE = 7


def describe_policy(policy: Mapping[str, Any] | None) -> str:
    """A snapshot's freshness policy (its JSON form) in words, e.g. ``"within 1d"``."""
    if policy is None:
        return ""
    warn = policy.get("warn_window_seconds")
    return FreshnessPolicy(
        fail_window=timedelta(seconds=policy["fail_window_seconds"]),
        warn_window=None if warn is None else timedelta(seconds=warn),
        cron_schedule=policy.get("cron_schedule"),
        cron_schedule_timezone=policy.get("cron_schedule_timezone"),
    ).describe()


def status_text(status: str | None) -> str:
    """The status cell: its glyph and name, e.g. ``"⚑ check failed"``, ``"· unknown"``."""
    name = status.replace("_", " ") if status else "unknown"
    return f"{status_glyph(status)} {name}"


def text_width(text: str) -> int:
    """How many terminal cells ``text`` takes."""
    return len(text) if text.isascii() else cell_len(text)


class Row(NamedTuple):
    """What an asset's row takes from the snapshot. A named tuple: 10,000 are built at
    once, and a drawn row is cached by its value."""

    key: AssetKey
    name: str
    group: str
    policy: str


def build_rows(snapshot: DefinitionsSnapshot) -> list[Row]:
    """A row for each of ``snapshot``'s assets, in the snapshot's order."""
    policies: dict[tuple[Any, ...], str] = {}  # most assets share a few policies
    return [
        Row(asset.key, asset.key.to_user_string(), asset.group, _policy_text(asset, policies))
        for asset in snapshot.assets
    ]


def _policy_text(asset: AssetSnapshot, seen: dict[tuple[Any, ...], str]) -> str:
    policy = asset.freshness_policy
    if policy is None:
        return ""
    fields = tuple(policy.items())
    text = seen.get(fields)
    if text is None:
        text = seen[fields] = describe_policy(policy)
    return text


def age_text(details: AssetDetails | None, now: float) -> str:
    """The age cell at ``now``: empty if the asset was never materialized."""
    when = None if details is None else details.last_materialized
    return "" if when is None else ago(now - when)


def reason_text(details: AssetDetails | None) -> str:
    """The reason cell: every reason the asset is stale, on one line."""
    if details is None or not details.stale_reasons:
        return ""
    return "; ".join(details.stale_reasons).replace("\n", " ")


def row_cells(
    row: Row, status: str | None, details: AssetDetails | None, now: float
) -> tuple[str, ...]:
    """What each of `COLUMNS` shows for ``row``, its age measured from ``now``."""
    return (
        row.name,
        row.group,
        status_text(status),
        age_text(details, now),
        row.policy,
        reason_text(details),
    )


def sort_rows(
    rows: Iterable[Row],
    column: str,
    reverse: bool = False,
    statuses: Mapping[AssetKey, str] = MappingProxyType({}),
    details: Mapping[AssetKey, AssetDetails] = MappingProxyType({}),
) -> list[Row]:
    """``rows`` sorted by ``column`` (one of `COLUMN_KEYS`), ties by key.

    Status sorts the most urgent first, age the newest first (never materialized last),
    policy and reason put the rows that have one first; ``reverse`` turns the whole
    order around.
    """
    if column == "group":
        return sorted(rows, key=lambda row: (row.group, row.key.path), reverse=reverse)
    if column == "status":
        last = len(STATUS_ORDER)
        return sorted(
            rows,
            key=lambda row: (STATUS_ORDER.get(statuses.get(row.key, ""), last), row.key.path),
            reverse=reverse,
        )
    if column == "age":

        def by_age(row: Row) -> tuple[Any, ...]:
            found = details.get(row.key)
            when = None if found is None else found.last_materialized
            return when is None, -(when or 0.0), row.key.path

        return sorted(rows, key=by_age, reverse=reverse)
    if column == "policy":
        return sorted(rows, key=lambda row: (row.policy == "", row.key.path), reverse=reverse)
    if column == "reason":

        def by_reason(row: Row) -> tuple[Any, ...]:
            found = details.get(row.key)
            reasons = () if found is None else tuple(found.stale_reasons)
            return not reasons, reasons, row.key.path

        return sorted(rows, key=by_reason, reverse=reverse)
    return sorted(rows, key=lambda row: row.key.path, reverse=reverse)


def oldest_materialization(details: Iterable[AssetDetails]) -> float | None:
    """The earliest last materialization among ``details`` (None: none materialized)."""
    return min(
        (found.last_materialized for found in details if found.last_materialized is not None),
        default=None,
    )


def age_width(oldest: float | None, now: float) -> int:
    """The age column's width in cells, padding aside, given `oldest_materialization`.

    Ages are not measured row by row (they change every second): the column is as wide
    as the oldest materialization's age, or the widest age under a day, or its header.
    """
    widest = 0 if oldest is None else max(_WIDEST_SUB_DAY_AGE, len(ago(now - oldest)))
    return max(widest, len(_AGE_LABEL) + ARROW_ROOM)


def column_widths(
    rows: list[Row],
    statuses: Mapping[AssetKey, str],
    details: Mapping[AssetKey, AssetDetails],
    now: float,
) -> tuple[int, ...]:
    """Each of `COLUMNS`' width in cells, padding aside: its widest cell, or its header
    and `ARROW_ROOM` (ages: see `age_width`).

    Statuses and details are measured as given (they may name assets without a row:
    the list is at most a little wider).
    """
    shown = set(statuses.values())
    if any(row.key not in statuses for row in rows):
        shown.add("")  # "· unknown"
    found = details.values()
    content = (
        max(map(text_width, (row.name for row in rows)), default=0),
        max(map(text_width, {row.group for row in rows}), default=0),
        max((text_width(status_text(status or None)) for status in shown), default=0),
        age_width(oldest_materialization(found), now),
        max(map(text_width, {row.policy for row in rows}), default=0),
        max((text_width(reason_text(f)) for f in found if f.stale_reasons), default=0),
    )
    return tuple(
        max(width, text_width(label) + ARROW_ROOM)
        for width, (_, label) in zip(content, COLUMNS, strict=True)
    )


def pad(text: str, width: int) -> str:
    """``text`` filled with spaces to ``width`` cells (it is never wider)."""
    return text + " " * (width - text_width(text))
