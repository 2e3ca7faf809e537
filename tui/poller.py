"""What the app learns from the instance, a few times a second, off the UI thread.

`InstancePoller.poll` runs in the app's thread worker with its own SQLite connection:
it detects vanished workers, reads events newer than the last it saw, recomputes
statuses only when something changed (or once a second, for ages and overdue
deadlines), and tails the selected run's log by offset. Its result is plain data that
the UI thread hands to the widgets.

A storage failure is raised as the `StorageError` it is, and the next poll opens the
instance again, so a database moved aside or repaired is picked up without a restart.
An instance removed or replaced under the app (``rm -rf .flowdev``) is noticed by the
database file's identity and opened afresh, instead of reading a deleted file forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from flowdev.errors import ExecutionError, StorageError
from flowdev.instance.event_log import EventRecord
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.runlog import LogLine, RunLogTail
from flowdev.instance.status import AssetStatus, asset_statuses
from flowdev.instance.storage import Storage
from flowdev.keys import AssetKey
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.runs.launcher import reconcile_runs

_RECONCILE_SECONDS = 1.0
_STATUS_SECONDS = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    """What changed since the last poll (None: unchanged)."""

    statuses: dict[AssetKey, AssetStatus] | None = None
    runs: list[RunRecord] = field(default_factory=list)
    usage: dict[int, tuple[float, int]] = field(default_factory=dict)
    log_run_id: str | None = None
    log_reset: bool = False
    log_lines: list[LogLine] = field(default_factory=list)
    finished_runs: list[RunRecord] = field(default_factory=list)
    failures: list[EventRecord] = field(default_factory=list)
    problem: str | None = None
    """Why queued runs cannot start (e.g. a bad setting), while that lasts."""


class InstancePoller:
    """Incremental reads of one instance; use from a single thread."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._storage: Storage | None = None
        self._identity: tuple[int, int] | None = None
        self._last_event_id = 0
        self._last_reconcile = 0.0
        self._last_status = 0.0
        self._snapshot: DefinitionsSnapshot | None = None
        self._tail: RunLogTail | None = None
        self._active: dict[str, RunStatus] = {}
        self._processes: dict[int, object] = {}
        self._problem: str | None = None

    @property
    def storage(self) -> Storage:
        """The poller's own connection (opened in the polling thread)."""
        if self._storage is None:
            storage = Storage(self.home)
            try:
                self._last_event_id = storage.last_event_id()
            except StorageError:
                storage.close()
                raise
            self._storage = storage
            self._identity = storage.identity()
            # A new instance: every status, run and log line is read from it afresh.
            self._snapshot = None
            self._tail = None
            self._active = {}
        return self._storage

    def close(self) -> None:
        """Close the connection."""
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    def poll(self, snapshot: DefinitionsSnapshot | None, log_run_id: str | None) -> PollResult:
        """One round: what changed since the last call.

        Raises:
            StorageError: the instance cannot be read; the next call opens it again.
        """
        if self._storage is not None and self._storage.identity() != self._identity:
            self.close()  # removed or replaced: the file this connection reads is not it
        try:
            return self._poll(snapshot, log_run_id)
        except StorageError:
            self.close()
            raise

    def _poll(self, snapshot: DefinitionsSnapshot | None, log_run_id: str | None) -> PollResult:
        storage = self.storage
        now = time.monotonic()
        if now - self._last_reconcile > _RECONCILE_SECONDS:
            self._last_reconcile = now
            try:
                reconcile_runs(storage)
                self._problem = None
            except ExecutionError as error:
                # The rest of the round still shows the runs; the next tries again.
                self._problem = str(error)
        events = storage.events_after(self._last_event_id)
        if events:
            self._last_event_id = events[-1].event_id
        statuses = None
        changed_snapshot = snapshot is not self._snapshot
        if snapshot is not None and (
            events or changed_snapshot or now - self._last_status > _STATUS_SECONDS
        ):
            statuses = asset_statuses(snapshot, storage)
            self._snapshot = snapshot
            self._last_status = now
        # Fifty rows by an index: cheap enough to read every round, so durations tick.
        runs = storage.list_runs(50)
        finished = [run for run in runs if run.run_id in self._active and not run.status.is_active]
        self._active = {run.run_id: run.status for run in runs if run.status.is_active}
        log_reset = False
        lines: list[LogLine] = []
        if log_run_id is not None:
            if self._tail is None or self._tail.run_id != log_run_id:
                self._tail = RunLogTail(storage, log_run_id)
                log_reset = True
            lines = self._tail.poll()
        failures = [e for e in events if e.kind.value == "STEP_FAILURE"]
        return PollResult(
            statuses=statuses,
            runs=runs,
            usage=self._usage(runs),
            log_run_id=log_run_id,
            log_reset=log_reset,
            log_lines=lines,
            finished_runs=finished,
            failures=failures,
            problem=self._problem,
        )

    def _usage(self, runs: list[RunRecord]) -> dict[int, tuple[float, int]]:
        """CPU percent and resident memory of each running worker."""
        import psutil

        usage: dict[int, tuple[float, int]] = {}
        alive = set()
        for run in runs:
            if run.pid is None or not run.status.is_active:
                continue
            alive.add(run.pid)
            process = self._processes.get(run.pid)
            try:
                if process is None:
                    process = self._processes[run.pid] = psutil.Process(run.pid)
                    process.cpu_percent(None)  # the first reading only starts the clock
                assert isinstance(process, psutil.Process)
                usage[run.pid] = (process.cpu_percent(None), process.memory_info().rss)
            except psutil.Error:
                self._processes.pop(run.pid, None)
        for pid in set(self._processes) - alive:
            del self._processes[pid]
        return usage
