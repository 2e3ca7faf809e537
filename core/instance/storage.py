"""The instance: runs, the event log and per-asset state in SQLite; compute logs as files.

Layout of an instance directory (``<project>/.flowdev`` or ``FLOWDEV_HOME``)::

    flowdev.db          SQLite in WAL mode: runs, events, materializations, asset_state,
                        check_results (schema: flowdev.instance.schema)
    storage/            IO manager outputs (see flowdev.resources.io)
    logs/<run_id>/      compute.log: the run's stdout and stderr, every step in turn;
                        exit_reason: why the worker ended, if it could not record that

`Storage` is the one door to it. The records it reads and writes live in
`flowdev.instance.run_records` and `flowdev.instance.event_log`. Readers poll
``events_after(rowid)``: an indexed range scan, cheap at several times a second. Hot
paths use the standard library's sqlite3.

Every failure of SQLite or of the file system under the instance (a damaged or emptied
file, a read-only directory, a full disk) leaves `Storage` as a `StorageError` that
names the file and says what to do; a damaged file is never changed or removed here.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from flowdev.errors import StorageError, storage_failure_reason
from flowdev.events import RunEvent
from flowdev.instance.event_log import (
    EVENT_COLUMNS,
    STATE_QUERY,
    AssetState,
    CheckResultRecord,
    EventRecord,
    MaterializationRecord,
    event_from_row,
    insert_event,
)
from flowdev.instance.run_records import (
    ACTIVE_STATUSES,
    RUN_COLUMNS,
    RUN_ID_LENGTH,
    RUN_UPDATABLE,
    RunRecord,
    RunStatus,
    escape_like,
    run_from_row,
)
from flowdev.instance.schema import connect
from flowdev.instance.transaction import Transaction
from flowdev.paths import safe_path_part

DB_NAME = "flowdev.db"
COMPUTE_LOG = "compute.log"
# Beside compute.log: why the worker ended, when it could not record that itself.
EXIT_REASON = "exit_reason"
# What a failing database or file system raises; `Storage.failure` words each.
_FAILURES = (sqlite3.Error, OSError)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _translated(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """``method`` of `Storage`, raising `StorageError` for SQLite and OS failures.

    A damaged file can fail on open, on the first query, or in the middle of reading
    rows, so each method that reads or writes is guarded whole.
    """

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except _FAILURES as error:
            storage = args[0]
            assert isinstance(storage, Storage)
            raise storage.failure(error) from None

    return guarded


class Storage:
    """One instance directory: open it, then read and write runs and events.

    A `Storage` holds one SQLite connection; use one per thread and per process (a
    connection must never cross a fork).
    """

    def __init__(self, home: str | os.PathLike[str]) -> None:
        """Open (or create) the instance at ``home``.

        Raises:
            StorageError: the instance cannot be opened (see `StorageError.of`).
        """
        self.home = Path(home)
        self.db_path = self.home / DB_NAME
        self.logs_dir = self.home / "logs"
        self.storage_dir = self.home / "storage"
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self._conn = connect(self.db_path)
        except _FAILURES as error:
            raise self.failure(error) from None

    def failure(self, error: sqlite3.Error | OSError) -> StorageError:
        """``error``, met while using this instance, as the `StorageError` to raise."""
        detail = None
        if storage_failure_reason(error) == "denied":
            detail = _access_problem(self.home, self.db_path)
        return StorageError.of(error, str(self.db_path), home=str(self.home), detail=detail)

    def identity(self) -> tuple[int, int] | None:
        """The database file's (device, inode), or None once it is gone.

        A reader that kept its connection can compare it with the one it opened: the
        instance directory may have been removed (``rm -rf .flowdev``) or replaced.
        """
        try:
            found = os.stat(self.db_path)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------

    @_translated
    def add_run(self, run: RunRecord) -> RunRecord:
        """Record a new run."""
        with Transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO runs (run_id, status, selection, asset_keys, parent_run_id, "
                "root_run_id, pid, code_fingerprint, run_config, tags, project, create_time, "
                "start_time, end_time, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run.run_id,
                    run.status.value,
                    run.selection,
                    json.dumps(list(run.asset_keys)),
                    run.parent_run_id,
                    run.root_run_id,
                    run.pid,
                    run.code_fingerprint,
                    json.dumps(dict(run.run_config)),
                    json.dumps(dict(run.tags)),
                    json.dumps(dict(run.project)),
                    run.create_time or time.time(),
                    run.start_time,
                    run.end_time,
                    run.error,
                ),
            )
        return self.get_run(run.run_id)

    @_translated
    def get_run(self, run_id: str) -> RunRecord:
        """The run ``run_id``; a unique prefix of the id is enough.

        Raises:
            StorageError: no run (or several) matches.
        """
        if len(run_id) > RUN_ID_LENGTH:
            # No id is that long, and SQLite refuses a LIKE pattern past 50,000 bytes.
            shown = run_id if len(run_id) <= 40 else run_id[:37] + "..."
            raise StorageError(
                f"no run {shown!r}: a run id is {RUN_ID_LENGTH} characters and this one is"
                f" {len(run_id):,}; `flowdev runs` lists them"
            )
        rows = self._conn.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\' LIMIT 3",
            (run_id, escape_like(run_id) + "%"),
        ).fetchall()
        exact = [row for row in rows if row[0] == run_id]
        if exact:
            return run_from_row(exact[0])
        if len(rows) == 1:
            return run_from_row(rows[0])
        if not rows:
            raise StorageError(f"no run {run_id!r} in {self.db_path}; `flowdev runs` lists them")
        raise StorageError(f"{run_id!r} matches several runs; give more of the id")

    @_translated
    def list_runs(
        self, limit: int | None = 50, *, statuses: Iterable[RunStatus] | None = None
    ) -> list[RunRecord]:
        """Runs, newest first."""
        query = f"SELECT {RUN_COLUMNS} FROM runs"
        params: list[Any] = []
        if statuses is not None:
            wanted = [status.value for status in statuses]
            query += f" WHERE status IN ({','.join('?' * len(wanted))})"
            params += wanted
        query += " ORDER BY create_time DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [run_from_row(row) for row in self._conn.execute(query, params)]

    def active_runs(self) -> list[RunRecord]:
        """Runs that have not ended, oldest first."""
        return list(reversed(self.list_runs(None, statuses=ACTIVE_STATUSES)))

    @_translated
    def update_run(
        self,
        run_id: str,
        *,
        expect: Iterable[RunStatus] | None = None,
        **changes: Any,
    ) -> bool:
        """Change fields of a run; with ``expect``, only if its status is one of them.

        Returns whether the run was changed (a compare-and-set: two processes racing to
        end the same run cannot both win).
        """
        if not changes:
            return False
        columns = []
        params: list[Any] = []
        for name, value in changes.items():
            if name not in RUN_UPDATABLE:
                raise StorageError(f"runs.{name} cannot be updated")
            columns.append(f"{name} = ?")
            params.append(value.value if isinstance(value, RunStatus) else value)
        query = f"UPDATE runs SET {', '.join(columns)} WHERE run_id = ?"
        params.append(run_id)
        if expect is not None:
            wanted = [status.value for status in expect]
            query += f" AND status IN ({','.join('?' * len(wanted))})"
            params += wanted
        with Transaction(self._conn) as conn:
            changed = conn.execute(query, params).rowcount
            if changed and changes.get("status") in (
                RunStatus.SUCCESS,
                RunStatus.FAILURE,
                RunStatus.CANCELED,
            ):
                # A run that ended leaves nothing "in progress" behind, whatever killed it.
                conn.execute(
                    "UPDATE asset_state SET in_progress_run_id = NULL WHERE in_progress_run_id = ?",
                    (run_id,),
                )
        return bool(changed)

    def cancel_deadline(self, run_id: str) -> float | None:
        """When run ``run_id``, being canceled, must have stopped; None while it is not
        being canceled (``inf`` when its canceller set no deadline and escalates itself).

        One indexed read: a worker asks before every step.
        """
        row = self._conn.execute(
            "SELECT status, cancel_deadline FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None or row[0] != RunStatus.CANCELING.value:
            return None
        return math.inf if row[1] is None else float(row[1])

    @contextmanager
    def claim(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for read-modify-write sequences (the run queue)."""
        try:
            with Transaction(self._conn) as conn:
                yield conn
        except _FAILURES as error:
            raise self.failure(error) from None

    # -- events --------------------------------------------------------------------------

    def store_event(self, event: RunEvent) -> int:
        """Append one event (and update asset state from it); returns its id."""
        return self.store_events((event,))[-1]

    @_translated
    def store_events(self, events: Sequence[RunEvent]) -> list[int]:
        """Append events in one transaction; returns their ids."""
        with Transaction(self._conn) as conn:
            return [insert_event(conn, event) for event in events]

    @_translated
    def events_after(
        self, after_id: int = 0, *, run_id: str | None = None, limit: int | None = None
    ) -> list[EventRecord]:
        """Events with an id above ``after_id``, oldest first (optionally of one run)."""
        query = f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ?"
        params: list[Any] = [after_id]
        if run_id is not None:
            query += " AND run_id = ?"
            params.append(run_id)
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [event_from_row(row) for row in self._conn.execute(query, params)]

    @_translated
    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none)."""
        row = self._conn.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    # -- assets --------------------------------------------------------------------------

    @_translated
    def asset_states(self) -> dict[str, AssetState]:
        """Every asset's state by ``"a/b"`` key (assets never attempted are absent)."""
        rows = self._conn.execute(STATE_QUERY).fetchall()
        # One JSON document for all rows: a single parse instead of 10,000 small ones.
        inputs = json.loads("[" + ",".join(row[6] or "{}" for row in rows) + "]")
        make = AssetState._make
        return {
            row[0]: make((*row[:6], versions, *row[7:]))
            for row, versions in zip(rows, inputs, strict=True)
        }

    @_translated
    def in_progress_keys(self, run_id: str) -> list[str]:
        """The assets run ``run_id`` has started and not finished."""
        rows = self._conn.execute(
            "SELECT asset_key FROM asset_state WHERE in_progress_run_id = ?", (run_id,)
        )
        return [row[0] for row in rows]

    @_translated
    def check_results(self) -> dict[tuple[str, str], CheckResultRecord]:
        """The latest evaluation of each check, by (asset key, check name)."""
        rows = self._conn.execute(
            "SELECT asset_key, check_name, passed, severity, timestamp, run_id, description "
            "FROM check_results"
        )
        return {
            (row[0], row[1]): CheckResultRecord(
                asset_key=row[0],
                check_name=row[1],
                passed=bool(row[2]),
                severity=row[3],
                timestamp=row[4],
                run_id=row[5],
                description=row[6],
            )
            for row in rows
        }

    @_translated
    def materializations(self, asset_key: str, limit: int = 20) -> list[MaterializationRecord]:
        """The asset's latest materializations, newest first."""
        rows = self._conn.execute(
            "SELECT event_id, asset_key, run_id, timestamp, code_version, data_version, "
            "duration, metadata FROM materializations WHERE asset_key = ? "
            "ORDER BY event_id DESC LIMIT ?",
            (asset_key, limit),
        )
        return [
            MaterializationRecord(
                event_id=row[0],
                asset_key=row[1],
                run_id=row[2],
                timestamp=row[3],
                code_version=row[4],
                data_version=row[5],
                duration=row[6],
                metadata=json.loads(row[7]),
            )
            for row in rows
        ]

    # -- compute logs --------------------------------------------------------------------

    def compute_log_dir(self, run_id: str) -> Path:
        """Where the run's compute logs are written."""
        return self.logs_dir / safe_path_part(run_id)

    def compute_log_path(self, run_id: str) -> Path:
        """The run's compute log: every step's stdout and stderr, in the order written.

        One file per run, not per step: creating a file costs ~0.2 ms here, which
        alone would be a fifth of the per-asset budget. Each event records the file's
        length when it happened (``log_offset``), which delimits each step's output.
        """
        return Path(os.path.join(self.logs_dir, safe_path_part(run_id), COMPUTE_LOG))

    def exit_reason_path(self, run_id: str) -> Path:
        """Where the run's worker leaves why it ended, when it could not record that.

        The worker makes the file, full size, when it starts, so writing the reason
        needs no new space on a disk that has filled up since (see `flowdev.runs.worker`).
        """
        return self.compute_log_dir(run_id) / EXIT_REASON

    def read_exit_reason(self, run_id: str) -> str | None:
        """The reason the run's worker left, or None if it left none."""
        try:
            text = self.exit_reason_path(run_id).read_bytes()
        except OSError:
            return None
        return text.decode("utf-8", "replace").strip() or None


def _access_problem(home: Path, db_path: Path) -> str | None:
    """Why this process cannot use the instance, in words, when the system tells."""
    statvfs = getattr(os, "statvfs", None)
    if statvfs is not None:
        try:
            read_only = statvfs(home).f_flag & os.ST_RDONLY
        except OSError:
            read_only = False
        if read_only:
            return f"{home} is on a read-only file system"
    if db_path.exists() and not os.access(db_path, os.R_OK | os.W_OK):
        return f"this user may not read and write {db_path}"
    if home.exists() and not os.access(home, os.W_OK | os.X_OK):
        return f"this user may not create files in {home}"
    return None
