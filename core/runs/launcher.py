"""Starting, queueing, canceling and watching runs: one run, one worker process.

`launch_run` records a QUEUED run and starts it at once when fewer than
``max_concurrent_runs`` are going (4 unless ``FLOWDEV_MAX_CONCURRENT_RUNS`` says
otherwise); a worker that ends starts the next queued run itself. `reconcile_runs` is
the crash detector: any flowdev process that watches runs calls it every second or so,
and every command calls it at start, so a worker that vanished (SIGKILL, segfault, OOM)
never leaves its run "started" forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdev.errors import ExecutionError
from flowdev.events import EventKind, RunEvent
from flowdev.instance.run_records import ACTIVE_STATUSES, RunRecord, RunStatus
from flowdev.instance.storage import Storage
from flowdev.process_group import signal_group
from flowdev.project.project import Project
from flowdev.runs.processes import RUN_ID_ENV, end_run_processes

if TYPE_CHECKING:
    from flowdev.project.snapshot import DefinitionsSnapshot

DEFAULT_MAX_CONCURRENT_RUNS = 4
DEFAULT_CANCEL_GRACE_SECONDS = 10.0
# A run claimed for starting whose worker never recorded itself (the launcher died
# between the two) is failed after this long.
_STARTING_TIMEOUT_SECONDS = 60.0

# Workers this process started, by pid: waited on by a thread each, so they never
# linger as zombies and their exit status (the signal that killed them) is known.
_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def max_concurrent_runs() -> int:
    """The limit on runs going at once."""
    value = os.environ.get("FLOWDEV_MAX_CONCURRENT_RUNS")
    if value is None:
        return DEFAULT_MAX_CONCURRENT_RUNS
    try:
        limit = int(value)
    except ValueError:
        raise ExecutionError(
            f"FLOWDEV_MAX_CONCURRENT_RUNS={value!r} is not a number; set a count like 4"
        ) from None
    return max(1, limit)


def launch_run(
    storage: Storage,
    project: Project,
    asset_keys: Iterable[str],
    *,
    selection: str = "*",
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
    root_run_id: str | None = None,
    code_fingerprint: str | None = None,
    definitions: DefinitionsSnapshot | None = None,
) -> RunRecord:
    """Queue a run of ``asset_keys`` (``"a/b"`` strings) and start it if a slot is free.

    Returns at once; the run goes on in its own worker process. With ``definitions``
    (the snapshot the keys were chosen from), the run config is checked against it
    first, so a config that cannot work never becomes a run.

    Raises:
        ConfigError: the run config does not fit ``definitions``; nothing was launched.
        ExecutionError: ``FLOWDEV_MAX_CONCURRENT_RUNS`` is not a number; nothing was
            launched.
    """
    asset_keys = tuple(asset_keys)
    max_concurrent_runs()  # a bad limit is refused before a run is recorded that cannot start
    if definitions is not None:
        definitions.validate_run_config(run_config or {}, asset_keys)
    run = storage.add_run(
        RunRecord(
            run_id=uuid.uuid4().hex,
            status=RunStatus.QUEUED,
            selection=selection,
            asset_keys=tuple(asset_keys),
            parent_run_id=parent_run_id,
            root_run_id=root_run_id or parent_run_id,
            code_fingerprint=code_fingerprint,
            run_config=dict(run_config or {}),
            tags=dict(tags or {}),
            project={
                "root": str(project.root),
                "module": project.module,
                "file": str(project.file) if project.file else None,
            },
            create_time=time.time(),
        )
    )
    start_queued_runs(storage)
    return storage.get_run(run.run_id)


def start_queued_runs(storage: Storage) -> list[str]:
    """Start the oldest queued runs while fewer than the limit are going."""
    limit = max_concurrent_runs()
    with storage.claim() as conn:
        going = conn.execute(
            "SELECT COUNT(*) FROM runs WHERE status IN (?, ?, ?)",
            (RunStatus.STARTING.value, RunStatus.STARTED.value, RunStatus.CANCELING.value),
        ).fetchone()[0]
        free = limit - going
        if free <= 0:
            return []
        run_ids = [
            row[0]
            for row in conn.execute(
                "SELECT run_id FROM runs WHERE status = ? ORDER BY create_time, rowid LIMIT ?",
                (RunStatus.QUEUED.value, free),
            )
        ]
        conn.executemany(
            "UPDATE runs SET status = ?, start_time = ? WHERE run_id = ?",
            [(RunStatus.STARTING.value, time.time(), run_id) for run_id in run_ids],
        )
    for run_id in run_ids:
        _spawn_worker(storage, run_id)
    return run_ids


def _project_root(storage: Storage, run_id: str) -> str | None:
    # User code often opens files relative to the project, as under `flowdev dev`.
    root = storage.get_run(run_id).project.get("root")
    return root if root and Path(root).is_dir() else None


def _spawn_worker(storage: Storage, run_id: str) -> None:
    log_path = storage.compute_log_path(run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowdev.runs.worker", str(storage.home), run_id],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            # Its own session: the terminal's Ctrl-C reaches the launcher, which cancels
            # the run cleanly, instead of killing the worker mid-write.
            start_new_session=True,
            cwd=_project_root(storage, run_id),
            # Inherited by every process the run starts: how its processes are found.
            env={**os.environ, RUN_ID_ENV: run_id},
        )
    with _children_lock:
        _children[process.pid] = process
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
    storage.update_run(run_id, expect=(RunStatus.STARTING,), pid=process.pid)


# -- watching ----------------------------------------------------------------------------


def reconcile_runs(storage: Storage, *, now: float | None = None) -> list[str]:
    """Fail every active run whose worker is gone; returns their ids.

    Then starts the queued runs that free slots allow (a worker that died could not).
    """
    now = time.time() if now is None else now
    failed = []
    queued = False
    for run in storage.list_runs(None, statuses=ACTIVE_STATUSES):
        if run.status is RunStatus.QUEUED:
            queued = True
            continue
        if run.pid is None:
            started = run.start_time or run.create_time
            if now - started < _STARTING_TIMEOUT_SECONDS:
                continue
            reason = "its worker never started"
        else:
            exit_code = worker_exit_code(run.pid, run.run_id)
            if exit_code is _ALIVE:
                continue
            # A worker that could not record its run's end (a full disk) left why.
            reason = storage.read_exit_reason(run.run_id) or _describe_exit(exit_code)
            # What the worker started dies with it (an OOM kill leaves its children).
            end_run_processes(run.run_id, run.pid)
        if end_lost_run(storage, run, reason):
            failed.append(run.run_id)
    if queued:
        start_queued_runs(storage)
    return failed


_ALIVE = object()


def worker_exit_code(pid: int, run_id: str) -> Any:
    """``_ALIVE`` while the run's worker runs; else its exit code if known (or None)."""
    with _children_lock:
        child = _children.get(pid)
    if child is not None:
        return _ALIVE if child.returncode is None else child.returncode
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return _ALIVE
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return None
        # A reused pid, or a worker that exited and waits for its parent to reap it.
        if run_id.encode() not in cmdline or state == "Z":
            return None
    return _ALIVE


def _describe_exit(exit_code: int | None) -> str:
    if exit_code is None:
        return "worker exited unexpectedly"
    if exit_code < 0:
        number = -exit_code
        try:
            name = f" {signal.Signals(number).name}"
        except ValueError:
            name = ""
        return f"worker exited unexpectedly (signal {number}{name})"
    return f"worker exited unexpectedly (exit code {exit_code})"


def end_lost_run(storage: Storage, run: RunRecord, reason: str) -> bool:
    """End an active run whose worker is gone (or about to be killed) for ``reason``:
    CANCELED if it was being canceled, else FAILURE. Returns whether this call ended it.
    """
    in_progress = storage.in_progress_keys(run.run_id)
    ended_as = RunStatus.CANCELED if run.status is RunStatus.CANCELING else RunStatus.FAILURE
    if not storage.update_run(
        run.run_id, expect=ACTIVE_STATUSES, status=ended_as, end_time=time.time(), error=reason
    ):
        return False  # it ended on its own in the meantime
    kind = EventKind.RUN_CANCELED if ended_as is RunStatus.CANCELED else EventKind.RUN_FAILURE
    storage.store_event(
        RunEvent(
            run_id=run.run_id,
            kind=kind,
            level="ERROR",
            message=f"run {'canceled' if kind is EventKind.RUN_CANCELED else 'failed'}: {reason}",
            data={
                "error": reason,
                "asset_keys": in_progress if kind is EventKind.RUN_FAILURE else [],
                # After everything the worker wrote: its last output reads before this.
                "log_offset": _log_size(storage, run.run_id),
            },
        )
    )
    return True


def _log_size(storage: Storage, run_id: str) -> int:
    try:
        return storage.compute_log_path(run_id).stat().st_size
    except FileNotFoundError:
        return 0


# -- canceling ---------------------------------------------------------------------------


def cancel_run(
    storage: Storage,
    run_id: str,
    *,
    grace_seconds: float = DEFAULT_CANCEL_GRACE_SECONDS,
    wait: bool = True,
) -> RunRecord:
    """Cancel a run: a queued one at once; a running one by SIGTERM, then SIGKILL.

    SIGTERM goes to the worker's whole process group, so what the run's code started
    stops too. The worker marks the current step canceled and ends the run CANCELED. The
    deadline, ``grace_seconds`` from now, is stored with the cancel: the worker's own
    watchdog kills the run's processes when it passes, so the cancel holds even if this
    caller dies. With ``wait`` this caller also waits, and escalates itself on time;
    with ``wait=False`` it only asks (the caller watches with `reconcile_runs`).
    """
    run = storage.get_run(run_id)
    if not run.status.is_active:
        return run
    if storage.update_run(
        run.run_id, expect=(RunStatus.QUEUED,), status=RunStatus.CANCELED, end_time=time.time()
    ):
        storage.store_event(
            RunEvent(
                run_id=run.run_id,
                kind=EventKind.RUN_CANCELED,
                level="WARNING",
                message="run canceled before it started",
            )
        )
        return storage.get_run(run.run_id)
    storage.update_run(
        run.run_id,
        expect=(RunStatus.STARTING, RunStatus.STARTED),
        status=RunStatus.CANCELING,
        cancel_deadline=time.time() + grace_seconds,
    )
    run = storage.get_run(run.run_id)
    if run.pid is not None:
        _signal(run.pid, run.run_id, signal.SIGTERM)
    if not wait:
        return run
    deadline = time.monotonic() + grace_seconds
    reason = None
    while time.monotonic() < deadline:
        run = storage.get_run(run.run_id)
        if not run.status.is_active:
            return run
        exit_code = None if run.pid is None else worker_exit_code(run.pid, run.run_id)
        if exit_code is not _ALIVE and run.pid is not None:
            reason = _describe_exit(exit_code)  # it died before it could record the cancel
            break
        time.sleep(0.05)
    if reason is None:
        if run.pid is not None:
            _signal(run.pid, run.run_id, signal.SIGKILL)
            _wait_gone(run.pid, run.run_id, 2.0)
        reason = f"worker did not stop within {grace_seconds:g}s of SIGTERM and was killed"
    end_run_processes(run.run_id, run.pid)
    end_lost_run(storage, run, reason)
    start_queued_runs(storage)
    return storage.get_run(run.run_id)


def _signal(pid: int, run_id: str, signum: signal.Signals) -> None:
    # Only a process that is this run's worker gets a signal: never a reused pid. It
    # leads its own process group (start_new_session), and the signal goes to all of it.
    if worker_exit_code(pid, run_id) is not _ALIVE:
        return
    signal_group(pid, signum)


def _wait_gone(pid: int, run_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker_exit_code(pid, run_id) is _ALIVE:
        time.sleep(0.02)


def wait_for_run(storage: Storage, run_id: str, *, timeout: float | None = None) -> RunRecord:
    """Block until the run ends (reconciling, so a dead worker cannot hang the wait)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    last_reconcile = 0.0
    while True:
        run = storage.get_run(run_id)
        if not run.status.is_active:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run.status.value} after {timeout}s")
        if time.monotonic() - last_reconcile > 0.5:
            reconcile_runs(storage)
            last_reconcile = time.monotonic()
        time.sleep(0.02)
