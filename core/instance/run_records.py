"""The runs the instance keeps: a run's status and record, and how they sit in SQLite.

`flowdev.instance.storage` reads and writes them; the row helpers here are its
internal API, named without an underscore because that module uses them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from flowdev.records import field, record


class RunStatus(StrEnum):
    """Dagster's run statuses, lowercase."""

    QUEUED = "queued"
    STARTING = "starting"
    STARTED = "started"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELING = "canceling"
    CANCELED = "canceled"

    @property
    def is_active(self) -> bool:
        """Whether the run has not ended."""
        return self in _ACTIVE


_ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING})
ACTIVE_STATUSES = tuple(sorted(_ACTIVE))


@record
class RunRecord:
    """One run: what it materializes, where its worker is, how it ended."""

    run_id: str
    status: RunStatus
    selection: str
    asset_keys: tuple[str, ...]
    parent_run_id: str | None = None
    root_run_id: str | None = None
    pid: int | None = None
    code_fingerprint: str | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    project: Mapping[str, Any] = field(default_factory=dict)
    create_time: float = 0.0
    start_time: float | None = None
    end_time: float | None = None
    error: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now while it runs)."""
        if self.start_time is None:
            return None
        return (self.end_time or time.time()) - self.start_time

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON shape (DESIGN.md, CLI contract)."""
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "selection": self.selection,
            "asset_keys": list(self.asset_keys),
            "pid": self.pid if self.status.is_active else None,
            "parent_run_id": self.parent_run_id,
            "root_run_id": self.root_run_id,
            "code_fingerprint": self.code_fingerprint,
            "tags": dict(self.tags),
            "start_time": iso_utc(self.start_time),
            "end_time": iso_utc(self.end_time),
            "error": self.error,
        }


RUN_COLUMNS = (
    "run_id, status, selection, asset_keys, parent_run_id, root_run_id, pid, "
    "code_fingerprint, run_config, tags, project, create_time, start_time, end_time, error"
)
# The columns `Storage.update_run` may change.
RUN_UPDATABLE = frozenset(
    {"status", "pid", "code_fingerprint", "start_time", "end_time", "error", "cancel_deadline"}
)
RUN_ID_LENGTH = 32  # uuid4().hex, as the launcher makes them


def run_from_row(row: Sequence[Any]) -> RunRecord:
    """The run in a row of `RUN_COLUMNS`."""
    return RunRecord(
        run_id=row[0],
        status=RunStatus(row[1]),
        selection=row[2],
        asset_keys=tuple(json.loads(row[3])),
        parent_run_id=row[4],
        root_run_id=row[5],
        pid=row[6],
        code_fingerprint=row[7],
        run_config=json.loads(row[8] or "{}"),
        tags=json.loads(row[9] or "{}"),
        project=json.loads(row[10] or "{}"),
        create_time=row[11],
        start_time=row[12],
        end_time=row[13],
        error=row[14],
    )


def escape_like(text: str) -> str:
    """``text`` as a literal in a ``LIKE ... ESCAPE '\\'`` pattern."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def iso_utc(timestamp: float | None) -> str | None:
    """``timestamp`` as ISO 8601 UTC with a ``Z`` (the CLI's JSON form), or None."""
    if timestamp is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
