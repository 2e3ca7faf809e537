"""The instance database at its boundary: real SQLite files, damaged ones included.

A failure of SQLite leaves `Storage` as a `StorageError` (a `FlowdevError`) naming the
file; every write goes through one `Transaction`, which commits all of its block or none.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest
from flowdev.errors import FlowdevError, StorageError
from flowdev.events import EventKind, RunEvent
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.storage import Storage
from flowdev.instance.transaction import Transaction


def _log(run_id: str, message: str) -> RunEvent:
    return RunEvent(run_id=run_id, kind=EventKind.LOG, timestamp=time.time(), message=message)


def _instance_with_history(home: Path, runs: int = 200) -> Path:
    """An instance of ``runs`` runs and their events, closed; returns its database."""
    with Storage(home) as storage:
        for number in range(runs):
            run_id = f"{number:032x}"
            storage.add_run(
                RunRecord(run_id=run_id, status=RunStatus.SUCCESS, selection="*", asset_keys=())
            )
            storage.store_events([_log(run_id, "x" * 200) for _ in range(5)])
    return home / "flowdev.db"


def test_a_file_that_is_not_a_database_is_refused_on_open_as_a_storage_error(
    tmp_path: Path,
) -> None:
    db = _instance_with_history(tmp_path)
    db.write_bytes(random.Random(3).randbytes(db.stat().st_size))
    damaged = db.read_bytes()
    with pytest.raises(StorageError) as raised:
        Storage(tmp_path)
    error = raised.value
    assert isinstance(error, FlowdevError)
    assert error.reason == "damaged" and error.file == str(db)
    assert str(db) in str(error) and "is damaged" in str(error)
    assert error.__cause__ is None  # sqlite3's error is translated, not chained
    assert db.read_bytes() == damaged  # never changed here


def test_pages_damaged_past_the_header_fail_the_query_as_a_storage_error(
    tmp_path: Path,
) -> None:
    db = _instance_with_history(tmp_path)
    page_size = 4096
    with db.open("r+b") as handle:  # keep page 1 (header and schema), ruin every other
        handle.seek(page_size)
        handle.write(random.Random(5).randbytes(db.stat().st_size - page_size))
    with pytest.raises(StorageError) as raised, Storage(tmp_path) as storage:
        storage.events_after(0)
    assert raised.value.reason == "damaged" and raised.value.file == str(db)


def test_a_transaction_commits_its_whole_block(tmp_path: Path) -> None:
    with Storage(tmp_path) as storage:
        ids = storage.store_events([_log("r", "one"), _log("r", "two")])
        assert [event.event_id for event in storage.events_after(0)] == ids
        assert not storage._conn.in_transaction


def test_a_transaction_rolls_back_its_whole_block_and_raises_the_error_unchanged(
    tmp_path: Path,
) -> None:
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(ValueError, match="halfway"), Transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        raise ValueError("halfway")
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
    # An SQLite error inside the block rolls back too, and leaves the connection usable.
    with pytest.raises(sqlite3.OperationalError, match="no such table"), Transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        conn.execute("INSERT INTO nowhere VALUES (3)")
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
    conn.close()


def test_a_failed_write_of_several_events_stores_none_of_them(tmp_path: Path) -> None:
    with Storage(tmp_path) as storage:
        storage.store_event(_log("r", "before"))

        looping: dict[str, object] = {}
        looping["itself"] = looping  # JSON cannot encode it: the second INSERT fails
        unstorable = RunEvent(run_id="r", kind=EventKind.LOG, data=looping)
        with pytest.raises(ValueError, match="Circular reference"):
            storage.store_events([_log("r", "first"), unstorable])
        assert [event.message for event in storage.events_after(0)] == ["before"]
        assert not storage._conn.in_transaction


def test_a_claim_held_by_another_connection_keeps_a_second_writer_waiting(
    tmp_path: Path,
) -> None:
    with Storage(tmp_path) as storage, storage.claim() as conn:
        conn.execute(
            "INSERT INTO runs (run_id, status, selection, asset_keys, create_time) "
            "VALUES ('a', 'queued', '*', '[]', 0)"
        )
        other = sqlite3.connect(tmp_path / "flowdev.db", timeout=0.05, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    with Storage(tmp_path) as storage:
        assert storage.get_run("a").status is RunStatus.QUEUED
