"""A run's worker process: ``python -m flowdev.runs.worker HOME RUN_ID``.

The worker loads the project's definitions itself (the code as of launch), plans the
run's assets, executes the plan in this process and writes every event to storage as it
happens. The steps' stdout and stderr (``print``, ``logging``, and the output of
subprocesses an asset starts) go straight to the run's compute log: file descriptors 1
and 2 themselves point at it, so nothing sits in between, and every event records the
log's length when it happened, which places each line among the events exactly.

SIGTERM cancels: the running step is interrupted and recorded as canceled, the rest are
not started, and the run ends CANCELED. A cancel recorded in storage does the same even
when the run's code took SIGTERM away: the worker asks storage before every step and
retry, and its watchdog (`flowdev.runs.watchdog`) notices within a tick, stops the run at its
next event, and kills the run's processes once the cancel's deadline has passed. After a
cancel no process the run started outlives it. Whatever else ends the worker (SIGKILL,
a segfault, OOM) is detected by the launcher, which marks the run failed and kills what
is left of the run's processes.

A worker that cannot record how its run ended (the disk filled up, the database broke)
leaves the reason in a file it made full size when it started (`_ExitReason`), and the
launcher's crash detector records that reason once storage takes writes again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from flowdev.errors import StorageError
from flowdev.events import EventKind, RunEvent
from flowdev.instance.run_records import ACTIVE_STATUSES, RunRecord, RunStatus
from flowdev.instance.storage import Storage
from flowdev.runs.processes import RUN_ID_ENV, end_run_processes
from flowdev.runs.watchdog import Watchdog


class RunCanceled(BaseException):
    """Raised in the worker's main thread by SIGTERM.

    A BaseException, so the executor's handling of step errors (``except Exception``)
    does not mistake a cancel for a failure and retry it.
    """


class _ComputeLogs:
    """Points file descriptors 1 and 2 at the run's compute log, once for the whole run."""

    def __init__(self, storage: Storage, run_id: str) -> None:
        path = storage.compute_log_path(run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        _flush_std_streams()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        # Whole lines reach the file as they are printed, so they show live.
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(line_buffering=True)

    def offset(self) -> int:
        """How many bytes the log holds: where the next event sits among them."""
        _flush_std_streams()
        return os.fstat(1).st_size


_CREATE_REASON = os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


class _ExitReason:
    """Where the worker leaves why its run ended, when storage cannot take it.

    Made at start as `SIZE` real bytes (spaces, not a sparse hole), so that writing the
    reason later only overwrites bytes the file already has: it needs no new space on a
    disk that has filled up meanwhile. Removed when the run's end is recorded as usual.
    """

    SIZE = 4096

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        try:
            fd = os.open(path, _CREATE_REASON, 0o644)
        except OSError:
            return  # no room even now: the run goes on, and a crash is reported as one
        try:
            os.write(fd, b" " * self.SIZE)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            return
        self._fd = fd

    def write(self, reason: str) -> None:
        """Leave ``reason`` (cut to `SIZE` bytes) for the crash detector."""
        if self._fd is not None:
            data = reason.encode("utf-8", "replace")[: self.SIZE]
            os.lseek(self._fd, 0, os.SEEK_SET)
            os.write(self._fd, data.ljust(self.SIZE))

    def discard(self) -> None:
        """The run's end is recorded: nothing to leave."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.path.unlink(missing_ok=True)


def _flush_std_streams() -> None:
    # Every event flushes, so no contextlib.suppress: its context manager costs more than
    # the flush of an empty stream.
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105
            stream.flush()
        except (OSError, ValueError):  # closed or broken by a step: the log keeps its bytes
            pass


class _EventWriter:
    """Completes each event with what storage and statuses need, then stores it."""

    def __init__(self, storage: Storage, run: RunRecord, logs: _ComputeLogs) -> None:
        self.storage = storage
        self.run = run
        self.logs = logs
        # Steps started and not ended, in start order.
        self.running: dict[str, None] = {}
        # The log files of step processes (relative to the run's log directory), and
        # what to do when one first appears (the watchdog stamps it).
        self.streams: set[str] = set()
        self.on_stream: Callable[[str], None] = lambda stream: None
        # Filled once the plan is known: each step's asset keys, each asset's parents.
        self.step_asset_keys: dict[str, list[str]] = {}
        self.parents: dict[str, list[str]] = {}
        self.data_versions: dict[str, str] = {
            key: state.data_version
            for key, state in storage.asset_states().items()
            if state.data_version is not None
        }
        self._storing = False
        self.cancel_requested = False
        # Set with cancel_requested: wakes a retry's wait.
        self.canceled = threading.Event()
        # Held while an event is stored; the watchdog takes it for good before it kills.
        self._lock = threading.Lock()

    def __call__(self, event: RunEvent) -> None:
        """Complete and store one event."""
        self.many((event,))

    def many(self, events: Sequence[RunEvent]) -> None:
        """Complete and store ``events`` in one transaction (what the multiprocess
        executor relays from its step processes in one go)."""
        try:
            self.store([self._complete(event) for event in events])
        finally:
            for event in events:
                if event.kind in _STEP_END_KINDS:
                    self.running.pop(event.step_key or "", None)

    def _complete(self, event: RunEvent) -> RunEvent:
        kind = event.kind
        data = dict(event.data)
        if kind is EventKind.STEP_START and event.step_key is not None:
            stream = data.get("log_stream")
            if stream is not None and stream not in self.streams:
                self.streams.add(stream)
                self.on_stream(stream)
            self.running[event.step_key] = None
        elif kind in (EventKind.STEP_FAILURE, EventKind.STEP_SKIPPED, EventKind.STEP_CANCELED):
            data.setdefault("asset_keys", self.step_asset_keys.get(event.step_key or "", []))
        elif kind is EventKind.ASSET_MATERIALIZATION and event.asset_key is not None:
            key = event.asset_key.to_user_string()
            data["input_versions"] = {
                parent: self.data_versions[parent]
                for parent in self.parents.get(key, ())
                if parent in self.data_versions
            }
            version = data.get("data_version") or os.urandom(8).hex()
            data["data_version"] = version
            self.data_versions[key] = version
        if "log_stream" not in data:  # a step process's event knows its own file's length
            data["log_offset"] = self.logs.offset()
        # The fields spelled out: a generic replace costs several times more, per event.
        return RunEvent(
            run_id=event.run_id,
            kind=kind,
            timestamp=event.timestamp,
            step_key=event.step_key,
            asset_key=event.asset_key,
            level=event.level,
            message=event.message,
            data=data,
        )

    def store(self, events: Sequence[RunEvent]) -> None:
        # A cancel that arrives mid-write waits for the write to finish, so the database
        # never sees half a transaction from a signal handler's exception.
        with self._lock:
            self._storing = True
            try:
                self.storage.store_events(events)
            finally:
                self._storing = False
        if self.cancel_requested:
            raise RunCanceled

    def stop_requested(self) -> bool:
        """Whether the run is being canceled: by SIGTERM, or as storage says (a cancel
        whose SIGTERM the run's code ignored). The executor asks before every step."""
        deadline = None if self.cancel_requested else self.storage.cancel_deadline(self.run.run_id)
        if deadline is not None:
            self.request_cancel()
        return self.cancel_requested

    def request_cancel(self) -> None:
        """Stop the run at its next event or step (from any thread)."""
        self.cancel_requested = True
        self.canceled.set()

    def kill_at_deadline(self, storage: Storage) -> None:
        """The watchdog's escalation: the cancel's deadline passed and the run goes on.

        Ends the run CANCELED (no event of the main thread lands after that), starts
        the queued runs the worker would have started, and kills the run's processes,
        this one last.
        """
        from flowdev.runs.launcher import end_lost_run, start_queued_runs

        # A main thread stuck inside a write (a locked database) is not waited for long.
        self._lock.acquire(timeout=5.0)
        try:
            run = storage.get_run(self.run.run_id)
            for step in self.running if run.status.is_active else ():
                storage.store_event(
                    RunEvent(
                        run_id=run.run_id,
                        kind=EventKind.STEP_CANCELED,
                        level="WARNING",
                        message=f"{step} canceled",
                        step_key=step,
                        data={
                            "asset_keys": self.step_asset_keys.get(step, []),
                            "log_offset": os.fstat(1).st_size,
                        },
                    )
                )
            end_lost_run(
                storage, run, "worker did not stop by the cancel's deadline and was killed"
            )
            start_queued_runs(storage)
        finally:
            # Killed even if recording failed: the crash detector then ends the run.
            end_run_processes(self.run.run_id, _own_group(), exclude=(os.getpid(),))
            os.kill(os.getpid(), signal.SIGKILL)

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self.cancel_requested:
            return
        self.request_cancel()
        if not self._storing:
            raise RunCanceled

    def emit(self, kind: EventKind, message: str, *, level: str = "INFO", **fields: Any) -> None:
        """Store a run-level event (no cancel check: used while ending the run)."""
        self.cancel_requested = False
        data = {**fields.pop("data", {}), "log_offset": self.logs.offset()}
        with self._lock:
            self.storage.store_event(
                RunEvent(
                    run_id=self.run.run_id,
                    kind=kind,
                    level=level,
                    message=message,
                    data=data,
                    **fields,
                )
            )


_STEP_END_KINDS = frozenset(
    {
        EventKind.STEP_SUCCESS,
        EventKind.STEP_FAILURE,
        EventKind.STEP_SKIPPED,
        EventKind.STEP_CANCELED,
    }
)


def _own_group() -> int | None:
    # The worker leads its process group when the launcher started it (its own session).
    return os.getpid() if os.getpgrp() == os.getpid() else None


def _restore_sigterm_in_child() -> None:
    # A process the run's code forks (multiprocessing) is not the worker: SIGTERM to the
    # run's process group simply ends it.
    with contextlib.suppress(ValueError):  # forked from a thread that is not the main one
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_worker(home: str | os.PathLike[str], run_id: str) -> int:
    """Execute run ``run_id`` of the instance at ``home``; returns the exit code."""
    storage = Storage(home)
    run = storage.get_run(run_id)
    os.environ[RUN_ID_ENV] = run_id  # every process the run starts carries it
    if not storage.update_run(
        run_id,
        expect=(RunStatus.QUEUED, RunStatus.STARTING),
        status=RunStatus.STARTED,
        pid=os.getpid(),
        start_time=time.time(),
    ):
        # Canceled before the worker got going: nothing ran, and nobody else ends it.
        if storage.update_run(
            run_id, expect=(RunStatus.CANCELING,), status=RunStatus.CANCELED, end_time=time.time()
        ):
            storage.store_event(
                RunEvent(
                    run_id=run_id,
                    kind=EventKind.RUN_CANCELED,
                    level="WARNING",
                    message="run canceled before it started",
                )
            )
        return 0
    logs = _ComputeLogs(storage, run_id)
    exit_reason = _ExitReason(storage.exit_reason_path(run_id))
    writer = _EventWriter(storage, run, logs)
    signal.signal(signal.SIGTERM, writer.on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launching terminal's Ctrl-C
    os.register_at_fork(after_in_child=_restore_sigterm_in_child)
    watchdog = Watchdog(
        storage.home,
        run_id,
        storage.compute_log_path(run_id),
        on_cancel=writer.request_cancel,
        on_deadline=writer.kill_at_deadline,
    )
    log_dir = storage.compute_log_dir(run_id)
    writer.on_stream = lambda stream: watchdog.follow(log_dir / stream)
    watchdog.start()
    status, error = RunStatus.FAILURE, None
    try:
        writer.emit(EventKind.RUN_START, f"run {run_id[:8]} started (pid {os.getpid()})")
        status, error = _execute(storage, run, writer)
    except RunCanceled:
        status, error = RunStatus.CANCELED, None
        for step in list(writer.running):
            writer.emit(
                EventKind.STEP_CANCELED,
                f"{step} canceled",
                level="WARNING",
                step_key=step,
                data={"asset_keys": writer.step_asset_keys.get(step, [])},
            )
    except BaseException as crash:  # the worker's own bug or a load failure: never silent
        status = RunStatus.FAILURE
        error = f"{type(crash).__name__}: {crash}"
        _print_traceback()
    try:
        deadline = storage.cancel_deadline(run_id)
        status = _end_run(writer, status, error)
    except StorageError as failure:
        exit_reason.write(_unrecorded_end(status, error, failure))
        watchdog.stop()
        storage.close()
        return 1
    watchdog.stop()
    exit_reason.discard()
    if status is RunStatus.CANCELED:
        _end_leftover_processes(run_id, deadline)
    storage.close()
    from flowdev.runs.launcher import start_queued_runs

    with Storage(home) as queue_storage:
        start_queued_runs(queue_storage)
    return 0 if status is RunStatus.SUCCESS else 1


def _execute(
    storage: Storage, run: RunRecord, writer: _EventWriter
) -> tuple[RunStatus, str | None]:
    from flowdev.defs.code_version import cache_dir_of, use_cache_dir
    from flowdev.defs.executors import choose_executor
    from flowdev.errors import FlowdevError
    from flowdev.execution.environment import check_resources, remember_definitions
    from flowdev.execution.executor import RunControl, RunSpec, executor_of
    from flowdev.execution.plan import ExecutionPlan
    from flowdev.keys import AssetKey
    from flowdev.project.project import Project, load_definitions
    from flowdev.project.snapshot import fingerprint_of
    from flowdev.runs.executors import executor_named

    project = Project(
        root=Path(run.project["root"]),
        module=run.project.get("module"),
        file=Path(run.project["file"]) if run.project.get("file") else None,
    )
    cache_dir = cache_dir_of(storage.home)
    use_cache_dir(cache_dir)
    try:
        defs = load_definitions(project)
        graph = defs.asset_graph
        keys = [AssetKey.from_user_string(key) for key in run.asset_keys]
        unknown = [key.to_user_string() for key in keys if key not in graph]
        if unknown:
            return RunStatus.FAILURE, (
                f"the definitions no longer have {', '.join(unknown)}; reload and launch again"
            )
        plan = ExecutionPlan.build(defs, keys)
        fingerprint = fingerprint_of(defs)
        storage.update_run(run.run_id, code_fingerprint=fingerprint)
        spec = RunSpec(
            run_id=run.run_id,
            project=dict(run.project),
            code_fingerprint=fingerprint,
            run_config=run.run_config,
            tags=dict(run.tags),
            storage_dir=str(storage.storage_dir),
            log_dir=str(storage.compute_log_dir(run.run_id)),
            cache_dir=str(cache_dir),
        )
        executor = executor_of(choose_executor(defs.executor, run.run_config, named=executor_named))
        executor.check(plan, defs, spec)
        check_resources(spec, defs)
    except FlowdevError as problem:
        return RunStatus.FAILURE, str(problem)
    remember_definitions(spec, defs)  # step processes forked from here load nothing
    writer.parents = {
        key.to_user_string(): [parent.to_user_string() for parent in graph.parents(key)]
        for key in plan.asset_keys
    }
    writer.step_asset_keys = {
        step.key: [key.to_user_string() for key in step.asset_keys] for step in plan.steps
    }
    steps = f"{len(plan.steps)} step{'s' if len(plan.steps) != 1 else ''}"
    writer.emit(EventKind.LOG, f"executing {steps} with {executor.describe()}")
    control = RunControl(
        should_stop=writer.stop_requested,
        sleep=writer.canceled.wait,  # a retry's wait ends with a cancel
    )
    outcome = executor.execute(plan, spec, defs, writer, control)
    if writer.stop_requested():
        raise RunCanceled
    if outcome.success:
        return RunStatus.SUCCESS, None
    failed = ", ".join(outcome.errors) or "a step"
    return RunStatus.FAILURE, f"{failed} failed"


def _print_traceback() -> None:
    """The current exception's traceback, into the compute log if it can take it."""
    try:
        traceback.print_exc()
        sys.stderr.flush()
    except OSError:
        pass  # a full disk: the run's error says what happened, the log cannot


def _unrecorded_end(status: RunStatus, error: str | None, failure: StorageError) -> str:
    """Why the run ended, for the crash detector, when recording the end itself failed."""
    if error is not None and str(failure) in error:
        return error  # storage is what ended the run, and the error says so already
    ended = f"the run ended {status.value}" + (f" ({error})" if error else "")
    return f"{ended}, and recording that failed: {failure}"


def _end_run(writer: _EventWriter, status: RunStatus, error: str | None) -> RunStatus:
    """Record how the run ended; returns that (a canceled run never ends SUCCESS)."""
    run_id = writer.run.run_id
    if status is RunStatus.SUCCESS and writer.stop_requested():
        status = RunStatus.CANCELED  # canceled after its last step began
    kind = {
        RunStatus.SUCCESS: EventKind.RUN_SUCCESS,
        RunStatus.CANCELED: EventKind.RUN_CANCELED,
    }.get(status, EventKind.RUN_FAILURE)
    message = {
        RunStatus.SUCCESS: "run succeeded",
        RunStatus.CANCELED: "run canceled",
    }.get(status, f"run failed: {error}" if error else "run failed")
    level = "INFO" if status is RunStatus.SUCCESS else "ERROR"
    if status is RunStatus.CANCELED:
        level = "WARNING"
    writer.emit(kind, message, level=level, data={"error": error} if error else {})
    if writer.storage.update_run(
        run_id,
        expect=(RunStatus.STARTED,) if status is RunStatus.SUCCESS else ACTIVE_STATUSES,
        status=status,
        end_time=time.time(),
        error=error,
    ):
        return status
    if status is RunStatus.SUCCESS:  # the cancel came in the instant before
        writer.storage.update_run(
            run_id, expect=ACTIVE_STATUSES, status=RunStatus.CANCELED, end_time=time.time()
        )
        return RunStatus.CANCELED
    return status


def _end_leftover_processes(run_id: str, deadline: float | None) -> None:
    """After a cancel, the processes the run's code started go too: the SIGTERM sent to
    the run's process group ends most; those still there at the deadline are killed."""
    from flowdev.runs.launcher import DEFAULT_CANCEL_GRACE_SECONDS

    if deadline is None or deadline == float("inf"):
        deadline = time.time() + DEFAULT_CANCEL_GRACE_SECONDS
    end_run_processes(run_id, _own_group(), deadline=deadline, exclude=(os.getpid(),))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m flowdev.runs.worker HOME RUN_ID``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m flowdev.runs.worker HOME RUN_ID", file=sys.stderr)
        return 2
    return run_worker(args[0], args[1])


if __name__ == "__main__":
    sys.exit(main())
