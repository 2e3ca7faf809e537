"""The fault matrix: every promise of the hardening issue, one real reproduction each.

Each section below mirrors a heading of that list, and each test name reads as the
promise it holds. Faults are made for real: real worker processes and signals, real
damaged files, a real full disk (a small tmpfs), a real terminal where it matters. A
test here fails if the behaviour it names breaks.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from conftest import SAMPLE_PROJECT, WriteProject
from flowdev import AssetKey
from flowdev.events import EventKind
from flowdev.instance.run_records import ACTIVE_STATUSES, RunStatus
from flowdev.instance.runlog import read_run_log
from flowdev.instance.storage import Storage
from flowdev.project.project import Project, find_project
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.runs.launcher import cancel_run, launch_run, reconcile_runs
from flowdev.tui.app import FlowdevApp
from flowdev.tui.editor import editor_command
from flowdev.tui.screens.quit import QuitScreen
from flowdev.tui.widgets.runs_table import RunsTable
from test_cli import FLOWDEV
from test_tui_app import SIZE, loaded, runs, start_slow_run, status_of, until
from textual.command import CommandList, CommandPalette
from textual.widgets import ContentSwitcher, Static

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
    """What the run's code printed so far, from every step's log, as the app reads it."""
    from flowdev.instance.runlog import read_run_log

    return "\n".join(line.text for line in read_run_log(storage, run_id) if line.is_output)


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
    # The step was canceled, not failed: in the worker (in-process) its own event says it
    # was "before retry 1"; a step process on a cancel is stopped before it reports.
    canceled = [event for event in events if event.kind is EventKind.STEP_CANCELED]
    assert [event.step_key for event in canceled] == ["flaky"]
    assert not any(event.kind is EventKind.STEP_FAILURE for event in events)


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

INSTANCE_FLOWDEV = [sys.executable, "-m", "flowdev.cli.app"]
# Root passes every permission check; without these two capabilities it meets them as the
# file's owner does, which is how "no permission" is made for real here and in CI.
INSTANCE_WITHOUT_ROOT_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def instance_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `flowdev` CLI in ``cwd``, whose instance is ``cwd/.flowdev``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    clean["COLUMNS"] = "200"
    return subprocess.run(
        [*(prefix or []), *INSTANCE_FLOWDEV, *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def instance_with_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project with a real instance: one run that materialized raw_zones."""
    root = tmp_path_factory.mktemp("instance") / "sample_project"
    shutil.copytree(
        SAMPLE_PROJECT,
        root,
        ignore=shutil.ignore_patterns("data", ".flowdev", "__pycache__", "*.pyc"),
    )
    made = instance_cli("materialize", "--select", "raw_zones", cwd=root)
    assert made.returncode == 0, made.stdout + made.stderr
    return root


@pytest.fixture
def instance_copy(instance_with_history: Path, tmp_path: Path) -> Path:
    """A fresh copy of `instance_with_history` to damage."""
    target = tmp_path / "sample_project"
    shutil.copytree(instance_with_history, target)
    return target


def instance_damage_every_page_but_the_first(db: Path) -> None:
    """A real database whose header and schema read fine, and whose tables do not."""
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size:] = bytes([0xA5]) * (len(data) - page_size)
    db.write_bytes(data)


_INSTANCE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": lambda db: db.write_bytes(db.read_bytes()[:3000]),
    "random bytes": lambda db: db.write_bytes(random.Random(11).randbytes(db.stat().st_size)),
    "malformed": instance_damage_every_page_but_the_first,
    "zero bytes": lambda db: db.write_bytes(b""),
}


@pytest.fixture
def instance_read_only(instance_copy: Path) -> Iterator[Path]:
    """``.flowdev`` on a read-only bind mount of itself (a real EROFS, even for root)."""
    home = instance_copy / ".flowdev"
    subprocess.run(["mount", "--bind", str(home), str(home)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(home)], check=True)
        yield instance_copy
    finally:
        subprocess.run(["umount", str(home)], check=True)


def instance_assert_refused(
    completed: subprocess.CompletedProcess[str], named: Path, *words: str
) -> None:
    """Exit 2 with one paragraph on stderr that names ``named``, and no traceback."""
    output = completed.stdout + completed.stderr
    assert completed.returncode == 2, output
    assert "Traceback" not in output and "sqlite3." not in output, output
    paragraph = completed.stderr.strip()
    assert paragraph.startswith("error: ") and "\n" not in paragraph, paragraph
    assert str(named) in paragraph, paragraph
    for word in words:
        assert word in paragraph, paragraph


_INSTANCE_COMMANDS = (
    ("assets",),
    ("runs",),
    ("runs", "--json"),
    ("materialize", "-s", "raw_zones"),
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("damage", sorted(_INSTANCE_DAMAGE))
def test_a_damaged_database_is_refused_with_its_path_and_left_as_it_is(
    instance_copy: Path, damage: str
) -> None:
    db = instance_copy / ".flowdev" / "flowdev.db"
    _INSTANCE_DAMAGE[damage](db)
    before = _digest(db)
    advice = "is empty (0 bytes)" if damage == "zero bytes" else "is damaged"
    for command in _INSTANCE_COMMANDS:
        completed = instance_cli(*command, cwd=instance_copy)
        instance_assert_refused(completed, db, advice, "mv ", "new, empty run history")
        if "--json" in command:
            assert '"kind": "StorageError"' in completed.stdout
        assert _digest(db) == before, f"{command} changed the damaged file"
    assert sorted(p.name for p in db.parent.iterdir()) == ["cache", "flowdev.db", "logs", "storage"]


def test_a_read_only_instance_is_refused_with_what_to_do(instance_read_only: Path) -> None:
    db = instance_read_only / ".flowdev" / "flowdev.db"
    before = _digest(db)
    for command in _INSTANCE_COMMANDS:
        completed = instance_cli(*command, cwd=instance_read_only)
        instance_assert_refused(completed, db, "read-only file system", "FLOWDEV_HOME")
    assert _digest(db) == before


def test_a_database_this_user_may_not_read_is_refused_with_what_to_do(
    instance_copy: Path,
) -> None:
    db = instance_copy / ".flowdev" / "flowdev.db"
    db.chmod(0)
    before = _digest(db)
    for command in _INSTANCE_COMMANDS:
        completed = instance_cli(*command, cwd=instance_copy, prefix=INSTANCE_WITHOUT_ROOT_OVERRIDE)
        instance_assert_refused(completed, db, "may not read and write", "FLOWDEV_HOME")
    assert _digest(db) == before
    assert db.stat().st_mode & 0o777 == 0


@pytest.fixture
def instance_small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs), unmounted afterwards."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


_INSTANCE_FILLS_THE_DISK = """
    import os

    from flowdev import Definitions, asset


    @asset
    def fills_the_disk() -> None:
        fd = os.open(os.path.join(os.environ["FLOWDEV_HOME"], "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, bytes(65536))
        except OSError:
            pass  # ENOSPC: the disk is full, and the database is on it
        finally:
            os.close(fd)


    defs = Definitions(assets=[fills_the_disk])
"""


def test_a_full_disk_ends_the_run_with_that_reason_once_space_returns(
    write_project: Callable[..., Path], instance_small_disk: Path
) -> None:
    root = write_project({"defs.py": _INSTANCE_FILLS_THE_DISK})
    env = {"FLOWDEV_HOME": str(instance_small_disk)}
    db = instance_small_disk / "flowdev.db"

    completed = instance_cli("materialize", cwd=root, env=env)
    instance_assert_refused(completed, db, "is full", "Free some space")

    (instance_small_disk / "filler").unlink()
    listed = instance_cli("runs", "--json", cwd=root, env=env)
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert run["status"] == "failure"
    assert "is full" in run["error"] and str(db) in run["error"], run["error"]
    assert "exited unexpectedly" not in run["error"]


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_a_damaged_stored_value_names_the_upstream_asset_and_its_file(
    instance_copy: Path, damage: str
) -> None:
    stored = instance_copy / ".flowdev" / "storage" / "raw_zones"
    value = stored.read_bytes()
    if damage == "truncated":
        stored.write_bytes(value[: len(value) // 2])
    else:
        stored.write_bytes(random.Random(11).randbytes(len(value)))

    completed = instance_cli("materialize", "--select", "zones", "--json", cwd=instance_copy)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    run_id = json.loads(completed.stdout)["run"]["run_id"]
    logs = instance_cli("logs", run_id, cwd=instance_copy).stdout
    [failure] = [line for line in logs.splitlines() if "zones failed:" in line]
    assert f"reads asset 'raw_zones' from {stored}, which cannot be unpickled" in failure
    assert "Materialize 'raw_zones' again" in failure


_INSTANCE_LONG_KEYS = """
    from flowdev import AssetIn, Definitions, asset

    LONGEST = "x" * 200


    @asset(name=LONGEST)
    def longest() -> int:
        return 1


    @asset(ins={"upstream": AssetIn(key=LONGEST)}, key_prefix=["k" * 200] * 4)
    def reads_it(upstream: int) -> int:
        return upstream + 1
"""


def test_an_asset_key_too_long_for_a_file_name_is_refused_by_check_with_the_limit(
    write_project: Callable[..., Path],
) -> None:
    source = (
        _INSTANCE_LONG_KEYS
        + """
    @asset(name="y" * 201)
    def too_long() -> int:
        return 1


    defs = Definitions(assets=[longest, reads_it, too_long])
    """
    )
    root = write_project({"defs.py": source})
    completed = instance_cli("check", cwd=root)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    first = completed.stderr.splitlines()[0]
    assert f"{root / 'defs.py'}:" in first
    assert "a part has 201 characters, and at most 200 are allowed" in first
    assert "255 bytes per file name" in first

    # The limit leaves room for what storing a value adds to a name: the longest keys
    # allowed are stored and read back.
    allowed = _INSTANCE_LONG_KEYS + "\n    defs = Definitions(assets=[longest, reads_it])\n"
    (root / "defs.py").write_text(textwrap.dedent(allowed))
    completed = instance_cli("materialize", cwd=root)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (root / ".flowdev" / "storage" / ("x" * 200)).is_file()


def test_an_asset_key_path_too_long_for_the_file_system_is_refused_by_check(
    write_project: Callable[..., Path],
) -> None:
    source = (
        _INSTANCE_LONG_KEYS
        + """
    @asset(key_prefix=["k" * 200] * 6)
    def too_deep() -> int:
        return 1


    defs = Definitions(assets=[longest, reads_it, too_deep])
    """
    )
    root = write_project({"defs.py": source})
    completed = instance_cli("check", cwd=root)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    first = completed.stderr.splitlines()[0]
    assert "its path has 1214 characters, and at most 1024 are allowed" in first
    assert "path limit" in first


@pytest.fixture
def instance_app_project(instance_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The sample project with its history in ``.flowdev``, as the app finds it."""
    for name in list(os.environ):
        if name.startswith(("TAXI_", "FLOWDEV_")):
            monkeypatch.delenv(name)
    return find_project(instance_copy)


@pytest.mark.anyio
async def test_the_app_notices_its_instance_removed_and_opens_a_new_one(
    instance_app_project: Project,
) -> None:
    home = instance_app_project.home
    app = FlowdevApp(instance_app_project)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.runs) == 1 and app.statuses)
        assert app.statuses[AssetKey("raw_zones")].status.value == "fresh"

        shutil.rmtree(home)  # rm -rf .flowdev

        await until(pilot, lambda: not app.runs)
        await until(pilot, lambda: app.statuses[AssetKey("raw_zones")].status.value == "missing")
        assert (home / "flowdev.db").stat().st_size > 0  # a new instance, made whole
        assert app.is_running


@pytest.mark.anyio
async def test_the_app_shows_a_damaged_instance_in_a_panel_and_carries_on_once_moved_aside(
    instance_app_project: Project,
) -> None:
    db = instance_app_project.home / "flowdev.db"
    app = FlowdevApp(instance_app_project)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.runs) == 1)
        damaged = db.with_name("damaged.db")
        damaged.write_bytes(random.Random(11).randbytes(db.stat().st_size))
        damaged.replace(db)  # the database is replaced under the app by a damaged file

        panel = app.query_one("#storage-error", Static)
        await until(pilot, lambda: not panel.has_class("hidden"))
        text = str(panel.render())
        assert str(db) in text.replace("\n", "") and "is damaged" in text
        assert app.is_running
        await pilot.press("v")  # the app still answers keys
        await until(pilot, lambda: app.query_one("#views", ContentSwitcher).current == "list")

        db.rename(db.with_name("flowdev.db.damaged"))  # what the panel says to do
        await until(pilot, lambda: panel.has_class("hidden"))
        await until(pilot, lambda: not app.runs)
        assert app.storage_error is None


# == Bad input answered, never a traceback =================================================


def input_cli(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real `flowdev` on ``project``, with its own instance and no TAXI_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    env["FLOWDEV_HOME"] = str(project / ".flowdev-test-home")
    env["COLUMNS"] = "200"
    script = Path(sys.executable).with_name("flowdev")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "flowdev.cli.app"]
    return subprocess.run(
        [*command, *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
    )


def input_answered(done: subprocess.CompletedProcess[str], *located: str) -> str:
    """Exit 2, no traceback, and every ``located`` fragment in the message; the message."""
    message = done.stderr + done.stdout
    assert done.returncode == 2, message
    assert "Traceback" not in message, message
    for fragment in located:
        assert fragment in message, message
    return message


def input_edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("query", "column"),
    [
        ("(" * 200 + "daily_summary" + ")" * 200, 101),
        ("not " * 1000 + "daily_summary", 401),
        ("roots(" * 150 + "daily_summary" + ")" * 150, 606),
        ("not (" * 120 + "daily_summary" + ")" * 120, 251),
    ],
    ids=["parentheses", "nots", "roots", "not-parentheses"],
)
def test_a_selection_nested_past_100_levels_is_a_caret_error_not_a_recursion_error(
    sample_project: Path, query: str, column: int
) -> None:
    message = input_answered(
        input_cli(sample_project, "assets", "--select", query),
        f"invalid selection at column {column}: the query nests deeper than 100 levels",
    )
    caret_line = next(line for line in message.splitlines() if line.strip() == "^")
    assert caret_line.index("^") == column - 1 + 2  # the query is indented by two


def test_a_selection_100_levels_deep_still_selects(sample_project: Path) -> None:
    query = "not " * 49 + "(" * 51 + "daily_summary" + ")" * 51  # exactly 100 levels
    done = input_cli(sample_project, "assets", "--select", query, "--json")
    assert done.returncode == 0, done.stderr
    selected = {row["key"] for row in json.loads(done.stdout)}
    assert "daily_summary" not in selected and "raw_zones" in selected


@pytest.mark.anyio
async def test_the_selection_prompt_answers_200_parentheses_with_the_caret_and_stays_up(
    sample_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowdev.project.project import find_project
    from flowdev.tui.app import FlowdevApp
    from flowdev.tui.screens.selection import SelectionScreen
    from textual.widgets import Static

    monkeypatch.setenv("FLOWDEV_HOME", str(sample_project / ".flowdev-test-home"))
    app = FlowdevApp(find_project(sample_project))
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + 60
        while app.snapshot is None:
            assert time.monotonic() < deadline, "the app never loaded the sample project"
            await pilot.pause(0.05)
        await pilot.press("s")
        while not isinstance(app.screen, SelectionScreen):
            await pilot.pause(0.05)
        await pilot.press(*"(" * 200)
        feedback = app.screen.query_one("#selection-feedback", Static)
        shown = str(feedback.render())
        assert "column 101: the query nests deeper than 100 levels" in shown
        assert feedback.has_class("error")
        await pilot.press("escape")
        assert app.is_running and not isinstance(app.screen, SelectionScreen)


def input_config(tmp_path: Path, config: object) -> str:
    path = tmp_path / "run_config.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.mark.parametrize(
    ("config", "located"),
    [
        (
            {"ops": {"trip_duration_modl": {"config": {"iterations": 1}}}},
            ["ops.trip_duration_modl: no op or asset has this name", "'trip_duration_model'"],
        ),
        (
            {"ops": {"trip_duration_model": {"config": {"iterations": "ten"}}}},
            ["ops.trip_duration_model.config.iterations: expected int, got 'ten'"],
        ),
        (
            {"ops": {"trip_duration_model": {"config": {"iteration": 2}}}},
            ["ops.trip_duration_model.config.iteration: ModelConfig has no field", "'iterations'"],
        ),
        (
            {"resources": {"warehous": {"config": {}}}},
            ["resources.warehous: no resource has this key", "'warehouse'"],
        ),
        (
            {"resources": {"warehouse": {"config": {"path": 5}}}},
            ["resources.warehouse.config.path: expected str, got int (5)"],
        ),
        ({"opz": {}}, ["opz: not a run config section", "'ops'"]),
        ({"ops": {"raw_zones": {"config": {"x": 1}}}}, ["ops.raw_zones.config: raw_zones takes"]),
    ],
    ids=["op-name", "type", "extra-field", "resource-key", "resource-type", "section", "no-config"],
)
def test_run_config_that_does_not_fit_is_refused_with_its_path_before_a_run_exists(
    sample_project: Path, tmp_path: Path, config: object, located: list[str]
) -> None:
    done = input_cli(
        sample_project,
        "materialize",
        "--select",
        "raw_zones",
        "--config",
        input_config(tmp_path, config),
    )
    input_answered(done, "run config does not fit the definitions", *located)
    from flowdev.instance.storage import Storage

    with Storage(sample_project / ".flowdev-test-home") as storage:
        assert storage.list_runs() == []


def test_every_run_config_problem_is_listed_at_once(sample_project: Path, tmp_path: Path) -> None:
    config = {
        "ops": {"trip_duration_model": {"config": {"iterations": "ten", "seconds": 1}}},
        "resources": {"warehouse": {"config": {"path": 5}}},
    }
    message = input_answered(
        input_cli(sample_project, "materialize", "--config", input_config(tmp_path, config))
    )
    assert "ops.trip_duration_model.config.iterations: expected int" in message
    assert "ops.trip_duration_model.config.seconds: ModelConfig has no field" in message
    assert "resources.warehouse.config.path: expected str" in message


def test_a_required_config_field_missing_for_a_selected_asset_is_refused(
    write_project: WriteProject,
) -> None:
    root = write_project(
        {
            "defs.py": """
            import flowdev as dg

            class Limits(dg.Config):
                rows: int

            @dg.asset
            def capped(config: Limits) -> int:
                return config.rows

            @dg.asset
            def other() -> int:
                return 1

            defs = dg.Definitions(assets=[capped, other])
            """
        }
    )
    input_answered(
        input_cli(root, "materialize", "--select", "capped"),
        "ops.capped.config.rows: missing, and Limits has no default for it",
    )
    assert input_cli(root, "materialize", "--select", "other").returncode == 0


@pytest.mark.parametrize(
    ("content", "located"),
    [
        (b'{"ops": {"\xff\xfe": 1}}', ["run_config.json:1: byte 10 (0xff) is not UTF-8"]),
        (
            b'{"ops": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            ["run_config.json: the run config nests deeper"],
        ),
        (
            json.dumps(
                {
                    "ops": {
                        "trip_duration_model": {
                            "config": {"iterations": json.loads("[" * 500 + "]" * 500)}
                        }
                    }
                }
            ).encode(),
            ["ops.trip_duration_model.config.iterations", "nests deeper than 100 levels"],
        ),
    ],
    ids=["not-utf8", "deeper-than-json-reads", "deeper-than-config-takes"],
)
def test_a_damaged_or_bottomless_config_file_is_answered(
    sample_project: Path, tmp_path: Path, content: bytes, located: list[str]
) -> None:
    path = tmp_path / "run_config.json"
    path.write_bytes(content)
    input_answered(input_cli(sample_project, "materialize", "--config", str(path)), *located)


def test_runs_limit_past_sqlite_integers_is_a_usage_error(sample_project: Path) -> None:
    input_answered(
        input_cli(sample_project, "runs", "--limit", "99999999999999999999"),
        "Invalid value for '--limit'",
    )


def test_a_100_kb_run_id_is_answered_not_a_like_pattern_error(sample_project: Path) -> None:
    from flowdev.project.project import find_project
    from flowdev.runs.launcher import launch_run

    project = find_project(sample_project)
    home = sample_project / ".flowdev-test-home"
    os.environ["FLOWDEV_HOME"] = str(home)
    try:
        from flowdev.instance.storage import Storage

        with Storage(home) as storage:  # a run in the table, so the LIKE is evaluated
            launch_run(storage, project, ["raw_zones"])
    finally:
        del os.environ["FLOWDEV_HOME"]
    for command in ("logs", "cancel"):
        message = input_answered(
            input_cli(sample_project, command, "a" * 100_000),
            "a run id is 32 characters and this one is 100,000",
        )
        assert len(message) < 400


def test_os_exit_at_import_names_the_module_and_line(sample_project: Path) -> None:
    ingest = sample_project / "taxi/assets/ingest.py"
    lines = ingest.read_text().splitlines()
    ingest.write_text("\n".join([*lines, "import os", "os._exit(3)", ""]))
    input_answered(
        input_cli(sample_project, "check"),
        f"taxi/assets/ingest.py:{len(lines) + 2}:",
        "ended (with exit code 3) while importing taxi.assets.ingest",
    )


@pytest.mark.parametrize("how", ["pyproject", "option"])
def test_the_load_timeout_is_a_setting_and_says_where_the_import_was_stuck(
    sample_project: Path, how: str
) -> None:
    ingest = sample_project / "taxi/assets/ingest.py"
    lines = ingest.read_text().splitlines()
    ingest.write_text("\n".join([*lines, "import time", "time.sleep(600)", ""]))
    args = ["check"]
    if how == "pyproject":
        pyproject = sample_project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + "load_timeout = 1.5\n")
    else:
        args += ["--load-timeout", "1.5"]
    started = time.monotonic()
    input_answered(
        input_cli(sample_project, *args),
        f"taxi/assets/ingest.py:{len(lines) + 2}:",
        "did not finish within 1.5 s while importing taxi.assets.ingest",
        "load_timeout = 120 under [tool.flowdev]",
        "--load-timeout 120",
    )
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("value", ['"abc"', "-3", "0", "true"])
def test_a_load_timeout_that_is_not_a_positive_number_is_located(
    sample_project: Path, value: str
) -> None:
    pyproject = sample_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"load_timeout = {value}\n")
    line = len(pyproject.read_text().splitlines())
    input_answered(
        input_cli(sample_project, "check"),
        f"pyproject.toml:{line}: [tool.flowdev] load_timeout must be a number of seconds above 0",
    )


@pytest.mark.parametrize("command", ["check", "assets"])
def test_an_invalid_cron_string_is_a_located_load_error(sample_project: Path, command: str) -> None:
    definitions = sample_project / "taxi/definitions.py"
    input_edit(definitions, '"0 6 * * *"', '"61 99 * * *"')
    line = next(
        number
        for number, text in enumerate(definitions.read_text().splitlines(), 1)
        if "61 99" in text
    )
    input_answered(
        input_cli(sample_project, command),
        f"taxi/definitions.py:{line}: InvalidDefinitionError: schedule",
        "cron schedule '61 99 * * *' is not valid",
        "minute 0-59, hour 0-23",
    )


def test_a_freshness_cron_that_never_comes_due_is_a_located_load_error(
    sample_project: Path,
) -> None:
    report = sample_project / "taxi/assets/report.py"
    input_edit(
        report,
        "FreshnessPolicy.time_window(fail_window=timedelta(hours=24))",
        'FreshnessPolicy(maximum_lag_minutes=60, cron_schedule="0 0 31 2 *")',
    )
    input_answered(
        input_cli(sample_project, "assets"),
        "taxi/assets/report.py:",
        "the FreshnessPolicy of asset 'daily_summary': cron schedule '0 0 31 2 *' is not valid",
    )


def test_a_run_limit_that_is_not_a_number_is_refused_before_a_run_is_recorded(
    sample_project: Path,
) -> None:
    env = {"FLOWDEV_MAX_CONCURRENT_RUNS": "x"}
    completed = instance_cli("materialize", "-s", "raw_zones", cwd=sample_project, env=env)

    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "FLOWDEV_MAX_CONCURRENT_RUNS='x' is not a number" in completed.stderr
    listed = instance_cli("runs", "--json", cwd=sample_project)
    assert json.loads(listed.stdout) == []  # nothing queued that could never start


# == The app never dies from what a user does ==============================================


class RecordingApp(FlowdevApp):
    """The app, keeping every notification it shows (message, severity)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[tuple[str, str]] = []

    def notify(self, message, *, severity="information", **kwargs) -> None:  # type: ignore[override]
        self.messages.append((str(message), severity))
        super().notify(message, severity=severity, **kwargs)

    def said(self, *words: str) -> bool:
        return any(all(word in message for word in words) for message, _ in self.messages)


def app_poll_rounds(app: FlowdevApp) -> list[None]:
    """A list that grows by one each time a poll round reaches the screen."""
    rounds: list[None] = []
    apply_poll = app._apply_poll

    def counted(result) -> None:
        rounds.append(None)
        apply_poll(result)

    app._apply_poll = counted  # type: ignore[method-assign]
    return rounds


@pytest.fixture
def app_project(sample_project: Path, monkeypatch) -> Project:
    """The sample project with its own instance, no TAXI_ switches, no editor settings."""
    monkeypatch.setenv("FLOWDEV_HOME", str(sample_project / ".flowdev-test-home"))
    for name in list(os.environ):
        if name.startswith(("TAXI_", "FLOWDEV_")) and name != "FLOWDEV_HOME":
            monkeypatch.delenv(name)
    for name in ("VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)
    return find_project(sample_project)


@pytest.fixture
def app_editors(tmp_path: Path) -> Path:
    """A directory of stand-in editors named like the real ones (each records its argv)."""
    bin_dir = tmp_path / "editors"
    bin_dir.mkdir()
    for name in (*LINE_FIRST, *GOTO_FLAG, *FILE_COLON_LINE, "ed-unknown"):
        script = bin_dir / name
        script.write_text(
            f"#!{sys.executable}\nimport sys, pathlib\n"
            f"pathlib.Path({str(tmp_path / 'opened.txt')!r}).write_text(' '.join(sys.argv[1:]))\n"
        )
        script.chmod(0o755)
    return bin_dir


LINE_FIRST = ("vi", "vim", "nvim", "nano", "emacs", "emacsclient", "micro", "kak", "hx", "helix")
GOTO_FLAG = ("code", "codium", "cursor")
FILE_COLON_LINE = ("subl", "zed")


@pytest.mark.parametrize(
    ("editor", "expected"),
    [(name, ["+12", "/p/a.py"]) for name in LINE_FIRST]
    + [(name, ["-g", "/p/a.py:12"]) for name in GOTO_FLAG]
    + [(name, ["/p/a.py:12"]) for name in FILE_COLON_LINE]
    + [("ed-unknown", ["/p/a.py"]), ("emacsclient -n", ["-n", "+12", "/p/a.py"])]
    + [("code --wait", ["--wait", "-g", "/p/a.py:12"])],
)
def test_each_known_editor_is_opened_at_the_line_in_its_own_syntax(
    app_editors: Path, editor: str, expected: list[str]
) -> None:
    program = editor.split()[0]
    command = editor_command("/p/a.py", 12, {"EDITOR": editor, "PATH": str(app_editors)})
    assert command == [str(app_editors / program), *expected]


def test_visual_wins_over_editor_and_flowdev_editor_over_both(app_editors: Path) -> None:
    environ = {"PATH": str(app_editors), "EDITOR": "vim", "VISUAL": "code"}
    assert editor_command("/p/a.py", 3, environ)[1:] == ["-g", "/p/a.py:3"]
    environ["FLOWDEV_EDITOR"] = "ed-unknown --line={line} {file} --title '{file} at {line}'"
    assert editor_command("/p/a.py", 3, environ) == [
        str(app_editors / "ed-unknown"),
        "--line=3",
        "/p/a.py",
        "--title",
        "/p/a.py at 3",
    ]


def test_a_flowdev_editor_template_takes_a_file_with_spaces_and_quotes_as_one_argument(
    app_editors: Path,
) -> None:
    strange = "/p/it's a; $(touch x).py"
    environ = {"PATH": str(app_editors), "FLOWDEV_EDITOR": "ed-unknown {file}:{line}"}
    assert editor_command(strange, 7, environ)[1:] == [f"{strange}:7"]
    environ["FLOWDEV_EDITOR"] = "ed-unknown"  # no placeholder: the file goes last
    assert editor_command(strange, 7, environ)[1:] == [strange]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("'x", ("EDITOR", "'x", "quote")),
        ("vi; touch {marker}", ("EDITOR", "vi;", "PATH")),
        ("$(touch {marker})", ("EDITOR", "$(touch", "PATH")),
        ("no-such-editor-anywhere", ("EDITOR", "no-such-editor-anywhere", "PATH")),
    ],
)
@pytest.mark.anyio
async def test_a_bad_editor_value_is_a_message_and_the_app_goes_on(
    app_project: Project, monkeypatch, tmp_path: Path, value: str, words: tuple[str, ...]
) -> None:
    marker = tmp_path / "f"
    monkeypatch.setenv("EDITOR", value.format(marker=marker))
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: app.said(*words))
        assert app.is_running
        await pilot.press("v")  # still answering keys
        await until(pilot, lambda: app.query_one("#views").current == "list")
    assert not marker.exists()  # nothing ran in a shell


@pytest.mark.anyio
async def test_e_opens_a_vs_code_style_editor_with_its_goto_flag(
    app_project: Project, app_editors: Path, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", f"{app_editors}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("VISUAL", "code")
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("zones")
        await pilot.pause()
        await pilot.press("e")
        opened = tmp_path / "opened.txt"
        await until(pilot, opened.exists)
        line = app.snapshot.get(AssetKey("zones")).source_line
        assert opened.read_text() == f"-g {app_project.root / 'taxi/assets/transform.py'}:{line}"


@pytest.mark.anyio
async def test_a_launch_that_raises_is_a_message_and_the_app_goes_on(
    app_project: Project, monkeypatch
) -> None:
    monkeypatch.setenv("FLOWDEV_MAX_CONCURRENT_RUNS", "x")
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("raw_zones")
        await pilot.pause()
        await pilot.press("m")
        await until(pilot, lambda: app.said("FLOWDEV_MAX_CONCURRENT_RUNS='x'"))
        # Nothing was recorded that could never start; the app keeps polling.
        rounds = app_poll_rounds(app)
        await until(pilot, lambda: len(rounds) > 8)
        assert app.is_running
        assert app.runs == []
        # With the setting fixed, the same key launches.
        monkeypatch.setenv("FLOWDEV_MAX_CONCURRENT_RUNS", "2")
        await pilot.press("m")
        await until(pilot, lambda: status_of(app, "raw_zones") == "fresh")


@pytest.mark.anyio
async def test_a_reexecute_and_a_cancel_that_raise_are_messages_and_the_app_goes_on(
    app_project: Project, monkeypatch
) -> None:
    monkeypatch.setenv("TAXI_FAIL_ANOMALIES", "1")
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("fare_anomalies")
        await pilot.pause()
        await pilot.press("U")
        await until(pilot, lambda: status_of(app, "fare_anomalies") == "failed", timeout=90)
        await until(pilot, lambda: not any(r.status.is_active for r in app.runs))
        runs_table = app.query_one(RunsTable)
        runs_table.focus()
        monkeypatch.setenv("FLOWDEV_MAX_CONCURRENT_RUNS", "x")
        await pilot.press("R")
        await until(pilot, lambda: app.said("FLOWDEV_MAX_CONCURRENT_RUNS='x'"))
        assert app.is_running
        monkeypatch.delenv("FLOWDEV_MAX_CONCURRENT_RUNS")
        # A run deleted from the database under the app (sqlite3 by hand): cancel
        # cannot find it.
        await until(pilot, lambda: not any(r.status.is_active for r in runs(app)), timeout=60)
        run_id = runs_table.selected_run_id
        # In one step of the event loop, so no poll round drops the row in between.
        with sqlite3.connect(app_project.home / "flowdev.db") as db:
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        runs_table.action_cancel_run()  # what c does
        await until(pilot, lambda: app.said(f"no run {run_id!r}"))
        assert app.is_running
        await pilot.press("v")
        await until(pilot, lambda: app.query_one("#views").current == "list")


@pytest.mark.anyio
async def test_re_executing_a_failed_then_a_canceled_run_settles_and_shows_the_selection(
    app_project: Project, monkeypatch
) -> None:
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        runs_table = app.query_one(RunsTable)
        # A canceled run, then a failed one above it (newest first).
        await start_slow_run(pilot, app)
        runs_table.focus()
        await pilot.press("c")
        await until(pilot, lambda: runs(app)[0].status is RunStatus.CANCELED, timeout=30)
        monkeypatch.setenv("TAXI_FAIL_ANOMALIES", "1")
        app.graph_view.cursor = AssetKey("fare_anomalies")
        app.graph_view.focus()
        await pilot.pause()
        await pilot.press("m")
        await until(pilot, lambda: runs(app)[0].status is RunStatus.FAILURE, timeout=60)
        await until(pilot, lambda: runs_table.row_count == 2)
        runs_table.focus()
        await until(pilot, lambda: runs_table.cursor_row == 0)

        selections: list[str] = []
        original = app._select_run

        def counting(run_id: str) -> None:
            selections.append(run_id)
            original(run_id)

        app._select_run = counting  # type: ignore[method-assign]
        canceled = runs(app)[1].run_id
        await pilot.press("R")  # the failed run, from its failure
        await until(pilot, lambda: len(runs(app)) == 3)
        await until(pilot, lambda: runs_table.row_count == 3)
        # It fails again, and the log jumps to that failure; then down to the canceled run.
        await until(pilot, lambda: not any(r.status.is_active for r in runs(app)), timeout=60)
        await until(pilot, lambda: app.selected_run_id == runs(app)[0].run_id)
        # As a person would: see the table settle on the jump (a poll round after it),
        # then walk down to the canceled run.
        await until(pilot, lambda: runs_table.selected_run_id == runs(app)[0].run_id)
        settling = app_poll_rounds(app)
        await until(pilot, lambda: len(settling) >= 2)
        for _ in range(3):
            if runs_table.selected_run_id == canceled:
                break
            await pilot.press("down")
            await pilot.pause()
        assert runs_table.selected_run_id == canceled
        await pilot.press("R")  # the canceled run, from where it stopped
        await until(pilot, lambda: len(runs(app)) == 4)
        await until(pilot, lambda: runs_table.row_count == 4)
        await until(pilot, lambda: not any(r.status.is_active for r in runs(app)), timeout=90)
        # And a run started elsewhere (another terminal) while an older run is selected.
        await pilot.press("down", "down")
        older = runs_table.selected_run_id
        assert older not in (None, runs(app)[0].run_id)
        with Storage(app_project.home) as storage:
            launch_run(storage, app_project, ["raw_zones"], selection="elsewhere")
        await until(pilot, lambda: runs_table.row_count == 5)
        await until(pilot, lambda: not any(r.status.is_active for r in runs(app)), timeout=60)
        settled = len(selections)
        rounds = app_poll_rounds(app)
        await until(pilot, lambda: len(rounds) > 4)
        assert len(selections) == settled, f"{len(selections) - settled} more selections"
        assert settled < 20
        # The log shows the run under the cursor, still the one the user picked.
        assert app.selected_run_id == runs_table.selected_run_id == older
        await until(pilot, lambda: app.log_view.row_count > 0)
        assert app.selected_run_id[:8] in str(app.query_one("#log-title").render())


@pytest.mark.anyio
async def test_the_palette_has_no_quit_that_skips_the_runs_still_going_question(
    app_project: Project,
) -> None:
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await start_slow_run(pilot, app)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"quit")
        commands = app.screen.query_one(CommandList)
        await until(pilot, lambda: commands.option_count > 0)
        await pilot.pause(0.5)  # every provider has answered
        prompts = [
            str(commands.get_option_at_index(index).prompt)
            for index in range(commands.option_count)
        ]
        assert not any("as soon as possible" in prompt for prompt in prompts), prompts
        for index, prompt in enumerate(prompts):
            if "Quit" not in prompt:
                continue
            commands.highlighted = index
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, QuitScreen))
            await pilot.press("c")
            await until(pilot, lambda: not app.is_running, timeout=30)
            break
        else:
            raise AssertionError(f"no quit in the palette: {prompts}")
    assert runs(app)[0].status is RunStatus.CANCELED


@pytest.mark.anyio
async def test_ctrl_q_asks_about_runs_still_going_like_q(app_project: Project) -> None:
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("trip_duration_model")
        await pilot.pause()
        await pilot.press("U")
        await until(pilot, lambda: status_of(app, "trip_duration_model") == "running", 60)
        await pilot.press("ctrl+q")  # Textual's own quit key
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("c")
        await until(pilot, lambda: not app.is_running, timeout=30)
    assert runs(app)[0].status is RunStatus.CANCELED


@pytest.mark.anyio
async def test_launching_while_the_definitions_do_not_load_is_refused_with_the_error(
    app_project: Project,
) -> None:
    app = RecordingApp(app_project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        report = app_project.root / "taxi" / "assets" / "report.py"
        good = report.read_text()
        report.write_text(good + "\ndef broken(:\n")
        await until(pilot, lambda: app.load_error is not None)
        where = app.load_error.location(app_project.root)
        app.graph_view.cursor = AssetKey("raw_zones")
        app.graph_view.focus()
        await pilot.pause()
        for key in ("m", "S"):
            await pilot.press(key)
        await until(pilot, lambda: app.said(where, "SyntaxError"))
        await pilot.press("escape")  # the panel hidden, the definitions still broken
        await pilot.press("M")
        await until(pilot, lambda: sum(where in m for m, _ in app.messages) == 3)
        assert not [worker for worker in app.workers if worker.group == "launch"]
        rounds = app_poll_rounds(app)
        await until(pilot, lambda: len(rounds) > 2)
        assert runs(app) == [] and app.runs == []
        report.write_text(good)
        await until(pilot, lambda: app.load_error is None)
        await pilot.press("m")
        await until(pilot, lambda: len(runs(app)) == 1)


def _app_tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=10
    ).stdout


def _app_wait(predicate: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_restores_the_terminal_asks_nothing_and_leaves_runs_running(
    sample_project: Path, taxi_snapshot: DefinitionsSnapshot, signum: signal.Signals
) -> None:
    session = f"flowdev-signal-{os.getpid()}-{signum.name}"
    home = sample_project / ".flowdev-test-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAXI_", "FLOWDEV_"))}
    env |= {"FLOWDEV_HOME": str(home), "TERM": "xterm-256color", "PS1": "ready$ "}
    # A shell in the pane, so that after the app its prompt can answer.
    shell = ["env", *(f"{k}={v}" for k, v in env.items()), "bash", "--norc", "--noprofile"]
    _app_tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", *shell)
    storage = Storage(home)
    try:

        def pane(what: str) -> str:
            return _app_tmux("display", "-p", "-t", session, what).strip()

        def screen() -> str:
            return _app_tmux("capture-pane", "-p", "-t", session)

        _app_wait(lambda: "ready$" in screen(), "the shell")
        command = shlex.join([*FLOWDEV, "-p", str(sample_project)])
        _app_tmux("send-keys", "-t", session, command, "Enter")
        _app_wait(lambda: "12 missing" in screen(), "the app to load")
        # A long run going (started from elsewhere, as `flowdev materialize` would).
        model = AssetKey("trip_duration_model")
        graph = taxi_snapshot.asset_graph
        keys = [key.to_user_string() for key in graph.toposort(graph.upstream({model}) | {model})]
        slow = {"ops": {"trip_duration_model": {"config": {"seconds_per_iteration": 5.0}}}}
        run = launch_run(storage, find_project(sample_project), keys, run_config=slow)
        _app_wait(lambda: "started" in screen(), "the app to show the run going")
        assert pane("#{alternate_on}") == "1"
        (app,) = psutil.Process(int(pane("#{pane_pid}"))).children()

        app.send_signal(signum)
        app.wait(timeout=15)
        _app_wait(lambda: pane("#{alternate_on}") == "0", "the alternate screen to close", 10)
        check = "stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)'; echo answered-$((6*7))"
        _app_tmux("send-keys", "-t", session, check, "Enter")
        _app_wait(lambda: "answered-42" in screen(), "the shell to answer", 10)
        text = screen()
        flags = set(text.split("\n"))
        assert {"icanon", "echo"} <= flags and "-icanon" not in flags, text  # cooked mode
        assert "still going" not in text and "Traceback" not in text, text
        run = storage.get_run(run.run_id)
        assert run.status is RunStatus.STARTED and run.pid is not None  # left running
        assert psutil.pid_exists(run.pid)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        for going in storage.list_runs(None, statuses=ACTIVE_STATUSES):
            cancel_run(storage, going.run_id)
        storage.close()


# == Every supported Python ================================================================

# Source that touches most of the grammar: f-strings of every shape (Pythons split them
# differently), positional-only and keyword-only parameters, match, except*, walrus,
# async comprehensions, a method in a class.
VERSIONED_SOURCE = r'''
import flowdev as dg


@dg.asset(group_name="g")
def orders() -> list[int]:
    """Orders of the day."""
    # keep only positive amounts
    amounts = [3, -1, 4]
    return [a for a in amounts if a > 0]

async def fancy(x, /, y=1, *args, z: int = 2, **kw):
    async with ctx() as (a, b):
        match x:
            case {"k": [1, *rest]} | None:
                return f"{x!r:>{y}} and {z=}" + rb"\d"
    try:
        pass
    except* ValueError:
        raise
    lam = lambda q, *, r=3: q @ r
    return [i async for i in aiter(args) if (j := i)], {**kw}, ..., 1_000j, not x, x if y else z


def strings(x, y):
    a = f"a" "b" f"{x}" "y" f"{y:>10}" f"{{}}" f"{x:{'>'}{y}}" f"{x!s:}" f'{x:%Y-%m-%d}'
    b = "plain" 'concat' """triple""" u"u"
    global G
    del a[0], b
    assert x, "msg"
    for i in range(3):
        continue
    else:
        pass
    while False:
        break
    with open(x) as f, open(y):
        yield from f
    return (yield)


class Thing:
    @staticmethod
    def method(self, *, k=None) -> "Thing":
        nonlocal_ = {k: v for k, v in {}.items()}
        return {1, 2} | {*()} and [*a, *b] and x[1:2, ::3] and -x ** 2 // 3 % 4 >> 1
'''

# The versions of VERSIONED_SOURCE's functions by first line, as computed on Python
# 3.11.7, 3.12.1 and 3.13.0 alike. A change here turns every user's assets stale.
PINNED_CODE_VERSIONS = {
    5: "6a8a0d3861f1",
    12: "f81bd61d46ff",
    25: "c5e488b011b8",
    43: "afe029d08647",
}


def test_the_automatic_code_version_is_the_same_on_every_python() -> None:
    from flowdev.defs.code_version import _hash_functions_in

    assert _hash_functions_in(VERSIONED_SOURCE, "versioned.py") == PINNED_CODE_VERSIONS
