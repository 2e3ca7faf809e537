"""The instance database: opening it, building it, and migrating its schema.

A new database is built under a temporary name and linked into place, so ``flowdev.db``
is never empty on flowdev's account: an empty one lost its history. sqlite-utils (66 ms
to import) only builds and migrates the schema, which a worker never has to do.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from flowdev.errors import StorageError
from flowdev.instance.transaction import Transaction

SCHEMA_VERSION = 2


def connect(db_path: Path) -> sqlite3.Connection:
    """A connection to the database at ``db_path``, built or migrated to `SCHEMA_VERSION`.

    Raises:
        StorageError: the file is empty, or was written by a newer flowdev.
        sqlite3.Error, OSError: the file or its directory cannot be used.
    """
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
    with Transaction(conn):
        # Another process may have migrated while this one waited for the lock.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for target, migration in enumerate(_MIGRATIONS[version:], start=version + 1):
            migration(conn)
            conn.execute(f"PRAGMA user_version = {target}")


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
