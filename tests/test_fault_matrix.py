"""The fault matrix: every promise of the hardening issue, one real reproduction each.

Each section below mirrors a heading of that list, and each test name reads as the
promise it holds. Faults are made for real: real worker processes and signals, real
damaged files, a real full disk (a small tmpfs), a real terminal where it matters. A
test here fails if the behaviour it names breaks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flowdev.events import EventKind
from flowdev.launcher import cancel_run, launch_run, reconcile_runs
from flowdev.project import Project, find_project
from flowdev.runlog import read_run_log
from flowdev.storage import RunStatus, Storage
from test_cli import FLOWDEV

# == Runs and processes ====================================================================

RUNS_PROJECT = """
    import multiprocessing, os, signal, subprocess, time
    from flowdev import asset, Definitions, RetryPolicy

    @asset
    def stubborn():
        # What a careless library does: SIGTERM no longer reaches the worker's handler.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM", flush=True)
        time.sleep(float(os.environ["RUNS_STUBBORN_SECONDS"]))
        return 1

    @asset
    def downstream(stubborn):
        print("downstream ran", flush=True)
        return stubborn + 1

    @asset
    def spawner():
        if os.environ.get("RUNS_IGNORE_SIGTERM") == "1":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the children inherit it
        if os.environ["RUNS_CHILD"] == "popen":
            pid = subprocess.Popen(["sleep", "300"]).pid
        else:
            child = multiprocessing.Process(target=time.sleep, args=(300,))
            child.start()
            pid = child.pid
        with open("children.txt", "w") as pids:
            pids.write(str(pid))
        print("children started", flush=True)
        time.sleep(300)

    @asset
    def chatty():
        print(f"first at {time.time()!r}", flush=True)
        time.sleep(1.5)
        print(f"second at {time.time()!r}", flush=True)
        time.sleep(300)

    @asset(retry_policy=RetryPolicy(max_retries=3, delay=20))
    def flaky():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("attempt failed", flush=True)
        raise ConnectionError("the service is down")

    defs = Definitions(assets=[stubborn, downstream, spawner, chatty, flaky])
"""


@pytest.fixture
def runs_project(write_project) -> Project:
    return find_project(write_project({"defs.py": RUNS_PROJECT}))


@pytest.fixture
def runs_storage(runs_project: Project) -> Iterator[Storage]:
    with Storage(runs_project.home) as opened:
        yield opened
        _runs_kill_leftovers(opened, runs_project.root)


def _runs_kill_leftovers(storage: Storage, root: Path) -> None:
    """Whatever a failing test left running: its workers' groups, the children it noted."""
    for run in storage.list_runs(None):
        try:
            cmdline = Path(f"/proc/{run.pid}/cmdline").read_bytes()
        except (OSError, TypeError):
            continue
        if run.run_id.encode() in cmdline and os.getpgid(run.pid or 0) == run.pid:
            os.killpg(run.pid or 0, signal.SIGKILL)
    children = root / "children.txt"
    if children.exists():
        child = int(children.read_text())
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            return
        if b"sleep" in cmdline or b"python" in cmdline:
            os.kill(child, signal.SIGKILL)


def _runs_wait(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _runs_log(storage: Storage, run_id: str) -> str:
    path = storage.compute_log_path(run_id)
    return path.read_text() if path.exists() else ""


def _runs_cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}


def _runs_live_processes(pids: list[int], pgid: int) -> list[int]:
    """Of ``pids`` and the members of process group ``pgid``, those still running (a
    zombie has stopped running: only its exit status waits to be collected)."""
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if state != "Z" and (int(entry.name) in pids or group == pgid):
            live.append(int(entry.name))
    return live


@pytest.mark.parametrize(
    "step_seconds", [1.0, 300.0], ids=["step-ends-in-grace", "step-outlasts-grace"]
)
def test_a_cancel_is_never_lost_when_the_canceller_dies(
    runs_project, runs_storage, monkeypatch, step_seconds
) -> None:
    monkeypatch.setenv("RUNS_STUBBORN_SECONDS", str(step_seconds))
    run = launch_run(runs_storage, runs_project, ["stubborn", "downstream"])
    _runs_wait(lambda: "ignoring SIGTERM" in _runs_log(runs_storage, run.run_id))
    pid = runs_storage.get_run(run.run_id).pid
    assert pid is not None
    grace = 3.0
    canceled_at = _runs_cancel_then_kill_the_canceller(
        runs_storage, runs_project, run.run_id, grace
    )

    # Nothing reconciles here: the worker itself sees the cancel through.
    _runs_wait(lambda: not runs_storage.get_run(run.run_id).status.is_active, grace + 3.0)
    assert time.monotonic() - canceled_at < grace + 2.0
    ended = runs_storage.get_run(run.run_id)
    assert ended.status is RunStatus.CANCELED
    kinds = [(e.kind, e.step_key) for e in runs_storage.events_after(0, run_id=run.run_id)]
    assert (EventKind.STEP_START, "downstream") not in kinds
    assert "downstream ran" not in _runs_log(runs_storage, run.run_id)
    assert "downstream" not in runs_storage.asset_states() or (
        runs_storage.asset_states()["downstream"].last_materialized is None
    )
    assert not (runs_storage.storage_dir / "downstream").exists()
    _runs_wait(lambda: not _runs_live_processes([pid], pid), 5.0)


def _runs_cancel_then_kill_the_canceller(
    storage: Storage, project: Project, run_id: str, grace: float
) -> float:
    """`flowdev cancel --grace GRACE RUN`, SIGKILLed once the run is canceling (before it
    would escalate); returns when that was (`time.monotonic`)."""
    canceller = subprocess.Popen(
        [*FLOWDEV, "cancel", "--grace", str(grace), run_id, "-p", str(project.root)],
        env=_runs_cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # A worker that sees the cancel at once may end the run before a look catches it.
    _runs_wait(lambda: storage.get_run(run_id).status in (RunStatus.CANCELING, RunStatus.CANCELED))
    canceled_at = time.monotonic()
    canceller.kill()
    canceller.wait()
    return canceled_at


def test_a_cancel_during_a_retry_wait_stops_the_retries(runs_project, runs_storage) -> None:
    run = launch_run(runs_storage, runs_project, ["flaky"])
    _runs_wait(
        lambda: any(
            event.kind is EventKind.STEP_UP_FOR_RETRY
            for event in runs_storage.events_after(0, run_id=run.run_id)
        )
    )
    canceled_at = _runs_cancel_then_kill_the_canceller(runs_storage, runs_project, run.run_id, 30)

    # Neither the 20 s retry delay nor the 30 s grace period is waited out.
    _runs_wait(lambda: not runs_storage.get_run(run.run_id).status.is_active, 5.0)
    assert time.monotonic() - canceled_at < 5.0
    assert runs_storage.get_run(run.run_id).status is RunStatus.CANCELED
    events = runs_storage.events_after(0, run_id=run.run_id)
    assert [event.kind for event in events].count(EventKind.STEP_START) == 1
    assert any(event.message == "flaky canceled before retry 1" for event in events)


@pytest.mark.parametrize("child", ["popen", "multiprocessing"])
@pytest.mark.parametrize("how", ["cancel", "cancel-escalated", "cancel-and-quit", "crash"])
def test_cancel_and_kill_reach_the_whole_process_tree(
    runs_project, runs_storage, monkeypatch, child, how
) -> None:
    monkeypatch.setenv("RUNS_CHILD", child)
    stubborn = how in ("cancel-escalated", "cancel-and-quit")
    monkeypatch.setenv("RUNS_IGNORE_SIGTERM", "1" if stubborn else "0")
    run = launch_run(runs_storage, runs_project, ["spawner"])
    _runs_wait(lambda: "children started" in _runs_log(runs_storage, run.run_id))
    pid = runs_storage.get_run(run.run_id).pid
    assert pid is not None
    child_pid = int((runs_project.root / "children.txt").read_text())
    assert _runs_live_processes([pid, child_pid], pid) != []

    if how == "crash":
        os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        _runs_wait(lambda: not _runs_alive(pid))
        _runs_wait(lambda: reconcile_runs(runs_storage) == [run.run_id])  # the crash detector
        expected = RunStatus.FAILURE
    elif how == "cancel-and-quit":
        # The app's "cancel them and quit": it asks, and is gone before the grace ends.
        cancel_run(runs_storage, run.run_id, grace_seconds=1.0, wait=False)
        _runs_wait(lambda: not runs_storage.get_run(run.run_id).status.is_active, 5.0)
        expected = RunStatus.CANCELED
    else:
        ended = cancel_run(runs_storage, run.run_id, grace_seconds=1.0 if how != "cancel" else 10)
        assert ended.status is RunStatus.CANCELED
        expected = RunStatus.CANCELED

    assert runs_storage.get_run(run.run_id).status is expected
    _runs_wait(lambda: not _runs_live_processes([pid, child_pid], pid), 5.0)


def _runs_alive(pid: int) -> bool:
    return bool(_runs_live_processes([pid], -1))


def test_sigterm_to_materialize_cancels_the_run_like_ctrl_c(runs_project, runs_storage) -> None:
    process = subprocess.Popen(
        [*FLOWDEV, "materialize", "--select", "spawner", "-p", str(runs_project.root)],
        env={**_runs_cli_env(), "RUNS_CHILD": "popen"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def started() -> bool:
        runs = runs_storage.list_runs(1)
        return bool(runs) and "children started" in _runs_log(runs_storage, runs[0].run_id)

    _runs_wait(started)
    (run,) = runs_storage.list_runs(1)
    process.send_signal(signal.SIGTERM)  # CI cancelling the job, `timeout`, `docker stop`
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 1, (stdout, stderr)
    assert "SIGTERM received: canceling the run" in stdout, stdout
    assert "canceled" in stdout.splitlines()[-1]
    ended = runs_storage.get_run(run.run_id)
    assert ended.status is RunStatus.CANCELED
    assert ended.pid is not None
    child_pid = int((runs_project.root / "children.txt").read_text())
    _runs_wait(lambda: not _runs_live_processes([ended.pid, child_pid], ended.pid), 5.0)


def test_logs_after_a_kill_keep_the_output_in_order_with_its_own_times(
    runs_project, runs_storage
) -> None:
    run = launch_run(runs_storage, runs_project, ["chatty"])
    _runs_wait(lambda: "second at" in _runs_log(runs_storage, run.run_id))
    pid = runs_storage.get_run(run.run_id).pid
    assert pid is not None
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    _runs_wait(lambda: not _runs_alive(pid))

    printed = subprocess.run(
        [*FLOWDEV, "logs", run.run_id, "-p", str(runs_project.root)],
        env=_runs_cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.splitlines()

    first = next(i for i, line in enumerate(printed) if "| first at" in line)
    second = next(i for i, line in enumerate(printed) if "| second at" in line)
    failure = next(i for i, line in enumerate(printed) if "run failed" in line)
    assert first < second < failure, printed
    clock = [time.strptime(printed[i].split()[0], "%H:%M:%S") for i in (first, second)]
    seconds = [c.tm_hour * 3600 + c.tm_min * 60 + c.tm_sec for c in clock]
    assert seconds[1] - seconds[0] >= 1, printed  # 1.5 s apart, not both the step's start
    for line in read_run_log(runs_storage, run.run_id):
        if line.is_output and " at " in line.text:
            written = float(line.text.rsplit(" at ", 1)[1])
            assert written <= line.timestamp < written + 0.5, line


# == The instance (SQLite and files) =======================================================


# == Bad input answered, never a traceback =================================================


# == The app never dies from what a user does ==============================================


# == Every supported Python ================================================================
