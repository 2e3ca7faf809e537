"""The event log: stored events, and the per-asset state each event updates.

Every write of an event updates the tables the status queries read (``asset_state``,
``check_results``, ``materializations``) in the same transaction (`insert_event`), so
statuses never need to scan the log. `flowdev.instance.storage` reads and writes them;
the row helpers here are its internal API.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from flowdev.events import EventKind, RunEvent
from flowdev.instance.run_records import iso_utc
from flowdev.records import record


@record
class EventRecord:
    """A stored event; ``event_id`` is its rowid, increasing across all runs."""

    event_id: int
    run_id: str
    kind: EventKind
    timestamp: float
    step_key: str | None
    asset_key: str | None
    level: str
    message: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "event_id": self.event_id,
            "run_id": self.run_id,
            "kind": self.kind.value,
            "timestamp": iso_utc(self.timestamp),
            "step_key": self.step_key,
            "asset_key": self.asset_key,
            "level": self.level,
            "message": self.message,
            "data": dict(self.data),
        }


class AssetState(NamedTuple):
    """What storage knows of one asset: its latest materialization and attempt.

    A named tuple rather than a dataclass: statuses read 10,000 of these per refresh,
    and building a tuple from a row costs a tenth of a dataclass's keyword ``__init__``.
    The latest materialization's metadata is read apart (`Storage.materializations`).
    """

    asset_key: str
    last_materialized: float | None = None
    materialization_id: int | None = None
    run_id: str | None = None
    code_version: str | None = None
    data_version: str | None = None
    input_versions: Mapping[str, str] = {}
    duration: float | None = None
    last_failure_time: float | None = None
    last_failure_run_id: str | None = None
    last_failure_message: str | None = None
    in_progress_run_id: str | None = None


@record
class MaterializationRecord:
    """One materialization in an asset's history."""

    event_id: int
    asset_key: str
    run_id: str
    timestamp: float
    code_version: str | None
    data_version: str | None
    duration: float | None
    metadata: Mapping[str, Any]


@record
class CheckResultRecord:
    """The latest evaluation of one asset check."""

    asset_key: str
    check_name: str
    passed: bool
    severity: str
    timestamp: float
    run_id: str
    description: str | None


EVENT_COLUMNS = "id, run_id, kind, timestamp, step_key, asset_key, level, message, data"
STATE_QUERY = (
    "SELECT asset_key, last_materialized, materialization_id, run_id, code_version, "
    "data_version, input_versions, duration, last_failure_time, last_failure_run_id, "
    "last_failure_message, in_progress_run_id FROM asset_state"
)


def event_from_row(row: Sequence[Any]) -> EventRecord:
    """The event in a row of `EVENT_COLUMNS`."""
    return EventRecord(
        event_id=row[0],
        run_id=row[1],
        kind=EventKind(row[2]),
        timestamp=row[3],
        step_key=row[4],
        asset_key=row[5],
        level=row[6],
        message=row[7],
        data=json.loads(row[8]),
    )


# json.dumps(..., default=str) would build an encoder per call; one is enough.
_encode_json = json.JSONEncoder(default=str).encode


def insert_event(conn: sqlite3.Connection, event: RunEvent) -> int:
    """Append ``event`` and update the asset state it changes; returns its id.

    Call it inside a write transaction (`flowdev.instance.transaction.Transaction`).
    """
    # The columns of RunEvent.to_json(), without copying the event's data to build it
    # (unless it is some other Mapping, which the encoder would not take for an object).
    data = event.data if isinstance(event.data, dict) else dict(event.data)
    asset_key = None if event.asset_key is None else event.asset_key.to_user_string()
    cursor = conn.execute(
        "INSERT INTO events (run_id, kind, timestamp, step_key, asset_key, level, message, "
        "data) VALUES (?,?,?,?,?,?,?,?)",
        (
            event.run_id,
            event.kind.value,
            event.timestamp,
            event.step_key,
            asset_key,
            event.level,
            event.message,
            _encode_json(data),
        ),
    )
    event_id = cursor.lastrowid
    assert event_id is not None
    kind = event.kind
    if kind is EventKind.ASSET_MATERIALIZATION and asset_key:
        _record_materialization(conn, event_id, event, asset_key, data)
    elif kind is EventKind.STEP_START:
        _set_in_progress(conn, data.get("asset_keys", ()), event.run_id)
    elif kind in (EventKind.STEP_FAILURE, EventKind.RUN_FAILURE):
        _record_failure(conn, data.get("asset_keys", ()), event)
    elif kind in (EventKind.STEP_SKIPPED, EventKind.STEP_CANCELED):
        _clear_in_progress(conn, data.get("asset_keys", ()), event.run_id)
    elif kind is EventKind.ASSET_CHECK_EVALUATION and asset_key:
        conn.execute(
            "INSERT OR REPLACE INTO check_results (asset_key, check_name, passed, severity, "
            "timestamp, run_id, description) VALUES (?,?,?,?,?,?,?)",
            (
                asset_key,
                data.get("check_name"),
                1 if data.get("passed") else 0,
                data.get("severity", "ERROR"),
                event.timestamp,
                event.run_id,
                data.get("description"),
            ),
        )
    return event_id


def _record_materialization(
    conn: sqlite3.Connection,
    event_id: int,
    event: RunEvent,
    asset_key: str,
    data: Mapping[str, Any],
) -> None:
    metadata = _encode_json(data.get("metadata") or {})
    data_version = data.get("data_version") or f"m{event_id}"
    conn.execute(
        "INSERT INTO materializations (event_id, asset_key, run_id, timestamp, code_version, "
        "data_version, duration, metadata) VALUES (?,?,?,?,?,?,?,?)",
        (
            event_id,
            asset_key,
            event.run_id,
            event.timestamp,
            data.get("code_version"),
            data_version,
            data.get("duration"),
            metadata,
        ),
    )
    conn.execute(
        "INSERT INTO asset_state (asset_key, last_materialized, materialization_id, run_id, "
        "code_version, data_version, input_versions, duration, metadata, in_progress_run_id) "
        "VALUES (?,?,?,?,?,?,?,?,?,NULL) ON CONFLICT(asset_key) DO UPDATE SET "
        "last_materialized = excluded.last_materialized, "
        "materialization_id = excluded.materialization_id, run_id = excluded.run_id, "
        "code_version = excluded.code_version, data_version = excluded.data_version, "
        "input_versions = excluded.input_versions, duration = excluded.duration, "
        "metadata = excluded.metadata, in_progress_run_id = NULL",
        (
            asset_key,
            event.timestamp,
            event_id,
            event.run_id,
            data.get("code_version"),
            data_version,
            json.dumps(data.get("input_versions") or {}),
            data.get("duration"),
            metadata,
        ),
    )


def _set_in_progress(conn: sqlite3.Connection, asset_keys: Iterable[str], run_id: str) -> None:
    conn.executemany(
        "INSERT INTO asset_state (asset_key, in_progress_run_id) VALUES (?, ?) "
        "ON CONFLICT(asset_key) DO UPDATE SET in_progress_run_id = excluded.in_progress_run_id",
        [(key, run_id) for key in asset_keys],
    )


def _clear_in_progress(conn: sqlite3.Connection, asset_keys: Iterable[str], run_id: str) -> None:
    conn.executemany(
        "UPDATE asset_state SET in_progress_run_id = NULL "
        "WHERE asset_key = ? AND in_progress_run_id = ?",
        [(key, run_id) for key in asset_keys],
    )


def _record_failure(conn: sqlite3.Connection, asset_keys: Iterable[str], event: RunEvent) -> None:
    conn.executemany(
        "INSERT INTO asset_state (asset_key, last_failure_time, last_failure_run_id, "
        "last_failure_message) VALUES (?,?,?,?) ON CONFLICT(asset_key) DO UPDATE SET "
        "last_failure_time = excluded.last_failure_time, "
        "last_failure_run_id = excluded.last_failure_run_id, "
        "last_failure_message = excluded.last_failure_message, in_progress_run_id = NULL",
        [(key, event.timestamp, event.run_id, event.message) for key in asset_keys],
    )
