"""The instance: runs, the event log and per-asset state in SQLite; compute logs as files.

Layout of an instance directory (``<project>/.flowdev`` or ``FLOWDEV_HOME``)::

    flowdev.db          SQLite in WAL mode: runs, events, materializations, asset_state,
                        check_results
    storage/            IO manager outputs (see flowdev.resources.io)
    logs/<run_id>/      compute.log: the run's stdout and stderr, every step in turn;
                        exit_reason: why the worker ended, if it could not record that

Every write of an event updates the tables the status queries read (``asset_state``,
``check_results``) in the same transaction, so statuses never need to scan the log.
Readers poll ``events_after(rowid)``: an indexed range scan, cheap at several times a
second. Hot paths use the standard library's sqlite3; sqlite-utils (66 ms to import)
only builds and migrates the schema, which a worker never has to do.

Every failure of SQLite or of the file system under the instance (a damaged or emptied
file, a read-only directory, a full disk) leaves `Storage` as a `StorageError` that
names the file and says what to do; a damaged file is never changed or removed here. A
new database is built under a temporary name and linked into place, so ``flowdev.db``
is never empty on flowdev's account: an empty one lost its history.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, ParamSpec, TypeVar

from flowdev.errors import StorageError, storage_failure_reason
from flowdev.events import EventKind, RunEvent

SCHEMA_VERSION = 2
DB_NAME = "flowdev.db"
COMPUTE_LOG = "compute.log"
# Beside compute.log: why the worker ended, when it could not record that itself.
EXIT_REASON = "exit_reason"


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


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResultRecord:
    """The latest evaluation of one asset check."""

    asset_key: str
    check_name: str
    passed: bool
    severity: str
    timestamp: float
    run_id: str
    description: str | None


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
        except (sqlite3.Error, OSError) as error:
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
            self._conn = _connect(self.db_path)
        except (sqlite3.Error, OSError) as error:
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

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue on
        # the busy timeout instead of failing halfway through a transaction.
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException as error:
            raise self._abandon(error) from None

    def _abandon(self, error: BaseException) -> BaseException:
        """Roll back the open transaction after ``error``; returns what to raise instead."""
        if self._conn.in_transaction:
            # A failed ROLLBACK means SQLite rolled back already (it does after some I/O
            # errors) or the file cannot be used at all: ``error`` says why, this less.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
        if isinstance(error, (sqlite3.Error, OSError)):
            return self.failure(error)
        return error

    # -- runs ----------------------------------------------------------------------------

    @_translated
    def add_run(self, run: RunRecord) -> RunRecord:
        """Record a new run."""
        with self._write() as conn:
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
        if len(run_id) > _RUN_ID_LENGTH:
            # No id is that long, and SQLite refuses a LIKE pattern past 50,000 bytes.
            shown = run_id if len(run_id) <= 40 else run_id[:37] + "..."
            raise StorageError(
                f"no run {shown!r}: a run id is {_RUN_ID_LENGTH} characters and this one is"
                f" {len(run_id):,}; `flowdev runs` lists them"
            )
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs "
            "WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\' LIMIT 3",
            (run_id, _escape_like(run_id) + "%"),
        ).fetchall()
        exact = [row for row in rows if row[0] == run_id]
        if exact:
            return _run_from_row(exact[0])
        if len(rows) == 1:
            return _run_from_row(rows[0])
        if not rows:
            raise StorageError(f"no run {run_id!r} in {self.db_path}; `flowdev runs` lists them")
        raise StorageError(f"{run_id!r} matches several runs; give more of the id")

    @_translated
    def list_runs(
        self, limit: int | None = 50, *, statuses: Iterable[RunStatus] | None = None
    ) -> list[RunRecord]:
        """Runs, newest first."""
        query = f"SELECT {_RUN_COLUMNS} FROM runs"
        params: list[Any] = []
        if statuses is not None:
            wanted = [status.value for status in statuses]
            query += f" WHERE status IN ({','.join('?' * len(wanted))})"
            params += wanted
        query += " ORDER BY create_time DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [_run_from_row(row) for row in self._conn.execute(query, params)]

    def active_runs(self) -> list[RunRecord]:
        """Runs that have not ended, oldest first."""
        return list(reversed(self.list_runs(None, statuses=_ACTIVE)))

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
            if name not in _RUN_UPDATABLE:
                raise StorageError(f"runs.{name} cannot be updated")
            columns.append(f"{name} = ?")
            params.append(value.value if isinstance(value, RunStatus) else value)
        query = f"UPDATE runs SET {', '.join(columns)} WHERE run_id = ?"
        params.append(run_id)
        if expect is not None:
            wanted = [status.value for status in expect]
            query += f" AND status IN ({','.join('?' * len(wanted))})"
            params += wanted
        with self._write() as conn:
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
        with self._write() as conn:
            yield conn

    # -- events --------------------------------------------------------------------------

    def store_event(self, event: RunEvent) -> int:
        """Append one event (and update asset state from it); returns its id."""
        return self.store_events((event,))[-1]

    def store_events(self, events: Sequence[RunEvent]) -> list[int]:
        """Append events in one transaction; returns their ids."""
        # _write's transaction, spelled out: a worker stores every event through here, and
        # the generator-based context manager would cost more than the INSERT.
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            ids = [_insert_event(conn, event) for event in events]
            conn.execute("COMMIT")
        except BaseException as error:
            raise self._abandon(error) from None
        return ids

    @_translated
    def events_after(
        self, after_id: int = 0, *, run_id: str | None = None, limit: int | None = None
    ) -> list[EventRecord]:
        """Events with an id above ``after_id``, oldest first (optionally of one run)."""
        query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE id > ?"
        params: list[Any] = [after_id]
        if run_id is not None:
            query += " AND run_id = ?"
            params.append(run_id)
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [_event_from_row(row) for row in self._conn.execute(query, params)]

    @_translated
    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none)."""
        row = self._conn.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    # -- assets --------------------------------------------------------------------------

    @_translated
    def asset_states(self) -> dict[str, AssetState]:
        """Every asset's state by ``"a/b"`` key (assets never attempted are absent)."""
        rows = self._conn.execute(_STATE_QUERY).fetchall()
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
        from flowdev.paths import safe_path_part

        return self.logs_dir / safe_path_part(run_id)

    def compute_log_path(self, run_id: str) -> Path:
        """The run's compute log: every step's stdout and stderr, in the order written.

        One file per run, not per step: creating a file costs ~0.2 ms here, which
        alone would be a fifth of the per-asset budget. Each event records the file's
        length when it happened (``log_offset``), which delimits each step's output.
        """
        from flowdev.paths import safe_path_part

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


# -- opening -----------------------------------------------------------------------------


def _connect(db_path: Path) -> sqlite3.Connection:
    try:
        size = os.stat(db_path).st_size
    except FileNotFoundError:
        _create_database(db_path)
    else:
        if size == 0:
            raise StorageError.empty(str(db_path))
    conn = sqlite3.connect(db_path, timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        _migrate(conn, db_path)
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _create_database(db_path: Path) -> None:
    """Build a new database beside ``db_path`` and link it into place, schema and all.

    Linking fails if the name exists, so of two processes creating the instance at once
    one wins and the other opens its database. Until then no file has the real name, so
    an empty ``flowdev.db`` is never one being made.
    """
    temp_path = db_path.with_name(f".{db_path.name}.new-{os.getpid()}-{os.urandom(4).hex()}")
    conn = sqlite3.connect(temp_path, timeout=30.0, isolation_level=None)
    try:
        _migrate(conn, temp_path)
    finally:
        conn.close()  # the last connection: SQLite folds the WAL in and removes it
    try:
        os.link(temp_path, db_path)
    except FileExistsError:
        pass  # another process made it first: the one under the real name is used
    except OSError:
        # A file system without hard links: a rename, which another process's database
        # made meanwhile could lose to; only an instance seconds old can be affected.
        if not db_path.exists():
            os.replace(temp_path, db_path)
    finally:
        temp_path.unlink(missing_ok=True)


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


# -- schema ------------------------------------------------------------------------------


def _migrate(conn: sqlite3.Connection, db_path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{db_path} was written by a newer flowdev (schema {version}; this flowdev "
            f"reads up to {SCHEMA_VERSION}). Upgrade flowdev, or point FLOWDEV_HOME at "
            "another directory; the database was left untouched."
        )
    conn.execute("PRAGMA journal_mode = WAL")
    with _locked(conn):
        # Another process may have migrated while this one waited for the lock.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for target, migration in enumerate(_MIGRATIONS[version:], start=version + 1):
            migration(conn)
            conn.execute(f"PRAGMA user_version = {target}")


@contextmanager
def _locked(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _create_schema_v1(conn: sqlite3.Connection) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    db.table("runs").create(
        {
            "run_id": str,
            "status": str,
            "selection": str,
            "asset_keys": str,
            "parent_run_id": str,
            "root_run_id": str,
            "pid": int,
            "code_fingerprint": str,
            "run_config": str,
            "tags": str,
            "project": str,
            "create_time": float,
            "start_time": float,
            "end_time": float,
            "error": str,
        },
        pk="run_id",
        not_null={"status", "selection", "asset_keys", "create_time"},
    )
    db.table("runs").create_index(["status"])
    db.table("runs").create_index(["create_time"])
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
        "kind TEXT NOT NULL, timestamp FLOAT NOT NULL, step_key TEXT, asset_key TEXT, "
        "level TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL)"
    )
    db.table("events").create_index(["run_id", "id"])
    db.table("materializations").create(
        {
            "event_id": int,
            "asset_key": str,
            "run_id": str,
            "timestamp": float,
            "code_version": str,
            "data_version": str,
            "duration": float,
            "metadata": str,
        },
        pk="event_id",
        not_null={"asset_key", "run_id", "timestamp", "metadata"},
    )
    db.table("materializations").create_index(["asset_key", "event_id"])
    db.table("asset_state").create(
        {
            "asset_key": str,
            "last_materialized": float,
            "materialization_id": int,
            "run_id": str,
            "code_version": str,
            "data_version": str,
            "input_versions": str,
            "duration": float,
            "metadata": str,
            "last_failure_time": float,
            "last_failure_run_id": str,
            "last_failure_message": str,
            "in_progress_run_id": str,
        },
        pk="asset_key",
    )
    db.table("check_results").create(
        {
            "asset_key": str,
            "check_name": str,
            "passed": int,
            "severity": str,
            "timestamp": float,
            "run_id": str,
            "description": str,
        },
        pk=("asset_key", "check_name"),
    )


def _add_cancel_deadline_v2(conn: sqlite3.Connection) -> None:
    # When a canceled run's worker must be gone: kept with the cancel, so whoever outlives
    # the canceller (the worker's own watchdog) can escalate on time.
    conn.execute("ALTER TABLE runs ADD COLUMN cancel_deadline FLOAT")


_MIGRATIONS = [_create_schema_v1, _add_cancel_deadline_v2]
assert len(_MIGRATIONS) == SCHEMA_VERSION


# -- rows --------------------------------------------------------------------------------

_RUN_COLUMNS = (
    "run_id, status, selection, asset_keys, parent_run_id, root_run_id, pid, "
    "code_fingerprint, run_config, tags, project, create_time, start_time, end_time, error"
)
_RUN_UPDATABLE = frozenset(
    {"status", "pid", "code_fingerprint", "start_time", "end_time", "error", "cancel_deadline"}
)
_EVENT_COLUMNS = "id, run_id, kind, timestamp, step_key, asset_key, level, message, data"
_STATE_QUERY = (
    "SELECT asset_key, last_materialized, materialization_id, run_id, code_version, "
    "data_version, input_versions, duration, last_failure_time, last_failure_run_id, "
    "last_failure_message, in_progress_run_id FROM asset_state"
)


def _run_from_row(row: Sequence[Any]) -> RunRecord:
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


def _event_from_row(row: Sequence[Any]) -> EventRecord:
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


def _insert_event(conn: sqlite3.Connection, event: RunEvent) -> int:
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


_RUN_ID_LENGTH = 32  # uuid4().hex, as the launcher makes them


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def iso_utc(timestamp: float | None) -> str | None:
    """``timestamp`` as ISO 8601 UTC with a ``Z`` (the CLI's JSON form), or None."""
    if timestamp is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
