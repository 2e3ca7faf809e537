"""Runs in real worker processes: success, failure, crashes, cancel, concurrency, retries,
re-execution, and what they leave in storage and compute logs."""

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from flowdev.events import EventKind
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.runlog import read_run_log
from flowdev.instance.storage import Storage
from flowdev.project.project import Project, find_project
from flowdev.runs.launcher import cancel_run, launch_run, reconcile_runs, wait_for_run
from flowdev.runs.reexecute import reexecution_keys

DIAMOND = """
    import os, time
    from flowdev import asset, Definitions, RetryPolicy

    @asset
    def source():
        print("source says hello")
        return 1

    @asset
    def left(source):
        return source + 1

    @asset
    def broken(source):
        if os.environ.get("FIX_BROKEN") != "1" and not os.path.exists("fixed"):
            raise ValueError("broken on purpose")
        return source * 10

    @asset
    def after_broken(broken):
        return broken + 1

    @asset
    def slow(source):
        print("slow started", flush=True)
        time.sleep(30)
        return 0

    @asset
    def after_slow(slow):
        return slow

    defs = Definitions(assets=[source, left, broken, after_broken, slow, after_slow])
"""


@pytest.fixture
def project(write_project) -> Project:
    return find_project(write_project({"defs.py": DIAMOND}))


@pytest.fixture
def storage(project: Project):
    with Storage(project.home) as opened:
        yield opened


def _run(storage: Storage, project: Project, keys: list[str], **kwargs) -> RunRecord:
    run = launch_run(storage, project, keys, **kwargs)
    return wait_for_run(storage, run.run_id, timeout=60)


def _kinds(storage: Storage, run_id: str) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.step_key) for e in storage.events_after(0, run_id=run_id)]


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_a_successful_run_records_events_outputs_and_compute_logs(storage, project) -> None:
    run = _run(storage, project, ["source", "left"])
    assert run.status is RunStatus.SUCCESS
    assert run.pid is not None and run.end_time is not None and run.code_fingerprint
    kinds = _kinds(storage, run.run_id)
    assert kinds[0] == ("RUN_START", None)
    assert kinds[-1] == ("RUN_SUCCESS", None)
    assert kinds.index(("STEP_SUCCESS", "source")) < kinds.index(("STEP_START", "left"))
    states = storage.asset_states()
    assert states["left"].last_materialized is not None
    assert states["left"].input_versions == {"source": states["source"].data_version}
    assert (storage.storage_dir / "left").is_file()
    log = _output(storage, run.run_id)
    assert "source says hello" in log
    lines = read_run_log(storage, run.run_id)
    texts = [line.text for line in lines]
    # The print sits between the step's start and its materialization.
    hello = texts.index("source says hello")
    assert texts.index("started source") < hello < texts.index("materialized source")
    assert lines[hello].step_key == "source" and lines[hello].is_output


def test_a_failing_asset_fails_its_step_skips_downstream_and_spares_the_rest(
    storage, project
) -> None:
    run = _run(storage, project, ["source", "broken", "after_broken", "left"])
    assert run.status is RunStatus.FAILURE
    events = storage.events_after(0, run_id=run.run_id)
    failure = next(e for e in events if e.kind is EventKind.STEP_FAILURE)
    assert failure.step_key == "broken"
    assert "ValueError: broken on purpose" in failure.data["traceback"]
    assert failure.data["file"].endswith("defs.py") and failure.data["line"] == 16
    skipped = next(e for e in events if e.kind is EventKind.STEP_SKIPPED)
    assert skipped.step_key == "after_broken" and "broken" in skipped.message
    materialized = {e.asset_key for e in events if e.kind is EventKind.ASSET_MATERIALIZATION}
    assert materialized == {"source", "left"}
    states = storage.asset_states()
    assert states["broken"].last_failure_run_id == run.run_id
    assert "after_broken" not in states or states["after_broken"].last_materialized is None


def test_reexecute_from_failure_runs_only_what_did_not_succeed(storage, project) -> None:
    parent = _run(storage, project, ["source", "broken", "after_broken", "left"])
    assert parent.status is RunStatus.FAILURE
    keys = reexecution_keys(storage, parent, from_failure=True)
    assert keys == ["broken", "after_broken"]
    (project.root / "fixed").write_text("")  # the user fixes the cause
    child = _run(storage, project, keys, parent_run_id=parent.run_id)
    assert child.status is RunStatus.SUCCESS, child.error
    assert child.parent_run_id == parent.run_id and child.root_run_id == parent.run_id
    started = [step for kind, step in _kinds(storage, child.run_id) if kind == "STEP_START"]
    assert started == ["broken", "after_broken"]  # source was read, not recomputed
    assert storage.asset_states()["after_broken"].last_materialized is not None


def test_sigkill_of_a_worker_fails_its_run_within_two_seconds(storage, project) -> None:
    run = launch_run(storage, project, ["source", "slow", "after_slow"])
    _wait_for(lambda: ("STEP_START", "slow") in _kinds(storage, run.run_id))
    pid = storage.get_run(run.run_id).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    while storage.get_run(run.run_id).status.is_active:
        reconcile_runs(storage)
        assert time.monotonic() - killed_at < 2.0, "the run was not marked failed in time"
        time.sleep(0.05)
    ended = storage.get_run(run.run_id)
    assert ended.status is RunStatus.FAILURE
    assert ended.error == "worker exited unexpectedly (signal 9 SIGKILL)"
    kinds = _kinds(storage, run.run_id)
    assert ("STEP_START", "after_slow") not in kinds
    state = storage.asset_states()["slow"]
    assert state.in_progress_run_id is None and state.last_failure_run_id == run.run_id


def test_a_crash_is_found_by_a_later_process_too(storage, project) -> None:
    run = launch_run(storage, project, ["source", "slow"])
    _wait_for(lambda: ("STEP_START", "slow") in _kinds(storage, run.run_id))
    pid = storage.get_run(run.run_id).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    # Another process (no handle on the child) sees the pid gone.
    import sys

    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from flowdev.instance.storage import Storage; "
            "from flowdev.runs.launcher import reconcile_runs; "
            "print(reconcile_runs(Storage(sys.argv[1])))",
            str(project.home),
        ],
        check=True,
    )
    assert storage.get_run(run.run_id).status is RunStatus.FAILURE


WAITS_FOR_GO = """
    import os, time
    from flowdev import asset, Definitions

    @asset
    def first():
        return 1

    @asset
    def waits(first):
        deadline = time.monotonic() + 30
        while not os.path.exists("go") and time.monotonic() < deadline:
            time.sleep(0.02)
        return first + 1

    @asset
    def after_waits(waits):
        return waits + 1

    @asset
    def other(first):
        return first + 10

    defs = Definitions(assets=[first, waits, after_waits, other])
"""


def _temp_files(directory: Path, pid: int | None = None) -> list[str]:
    mark = "~" if pid is None else f"~{pid}-"
    return sorted(name for name in os.listdir(directory) if mark in name)


def _start_waiting_run(storage: Storage, project: Project, keys: list[str]) -> tuple[str, int]:
    """A run blocked in `waits`, once its spare files are ready in storage/; and the pid
    of the process running `waits` (which made them)."""
    from flowdev.resources.files import SpareFiles

    run = launch_run(storage, project, keys)
    _wait_for(lambda: ("STEP_START", "waits") in _kinds(storage, run.run_id))
    (start,) = [
        e
        for e in storage.events_after(0, run_id=run.run_id)
        if e.kind is EventKind.STEP_START and e.step_key == "waits"
    ]
    pid = start.data["pid"]
    _wait_for(lambda: len(_temp_files(storage.storage_dir, pid)) == SpareFiles.AHEAD)
    return run.run_id, pid


def test_a_run_writing_beside_a_live_run_leaves_its_spare_files_alone(write_project) -> None:
    root = write_project({"defs.py": WAITS_FOR_GO})
    project = find_project(root)
    with Storage(project.home) as storage:
        live_run_id, pid = _start_waiting_run(storage, project, ["first", "waits", "after_waits"])
        spares = _temp_files(storage.storage_dir, pid)

        beside = _run(storage, project, ["other"])  # cleans storage/ as it first writes there

        assert beside.status is RunStatus.SUCCESS, beside.error
        assert _temp_files(storage.storage_dir, pid) == spares
        (root / "go").write_text("")
        live = wait_for_run(storage, live_run_id, timeout=60)
        assert live.status is RunStatus.SUCCESS, live.error  # its writes took those spares
        assert sorted(os.listdir(storage.storage_dir)) == ["after_waits", "first", "other", "waits"]


def test_spare_files_of_a_killed_worker_go_with_the_next_run_writing_there(write_project) -> None:
    from test_cli import FLOWDEV, json_out

    root = write_project({"defs.py": WAITS_FOR_GO})
    project = find_project(root)
    with Storage(project.home) as storage:
        killed_run_id, pid = _start_waiting_run(storage, project, ["first", "waits"])
        os.kill(pid, signal.SIGKILL)
        _wait_for(
            lambda: (
                not reconcile_runs(storage)
                and storage.get_run(killed_run_id).status is RunStatus.FAILURE
            )
        )
        assert _temp_files(storage.storage_dir, pid)  # left behind
        listed = json_out(
            subprocess.run(
                [*FLOWDEV, "assets", "--json", "-p", str(root)],
                capture_output=True,
                text=True,
                check=True,
            )
        )
        assert {row["key"] for row in listed} == {"first", "waits", "after_waits", "other"}

        after = _run(storage, project, ["other"])

        assert after.status is RunStatus.SUCCESS, after.error
        assert _temp_files(storage.storage_dir) == []
        assert sorted(os.listdir(storage.storage_dir)) == ["first", "other"]
        (latest,) = storage.materializations("other", limit=1)
        # What the app's asset panel shows as the value's place.
        assert latest.metadata["path"] == {
            "type": "path",
            "value": str(storage.storage_dir / "other"),
        }


def test_cancel_mid_step_marks_the_step_and_the_run_canceled(storage, project) -> None:
    run = launch_run(storage, project, ["source", "slow", "after_slow"])
    _wait_for(lambda: ("STEP_START", "slow") in _kinds(storage, run.run_id))
    ended = cancel_run(storage, run.run_id, grace_seconds=10)
    assert ended.status is RunStatus.CANCELED
    kinds = _kinds(storage, run.run_id)
    assert ("STEP_CANCELED", "slow") in kinds
    assert ("STEP_START", "after_slow") not in kinds
    assert kinds[-1] == ("RUN_CANCELED", None)
    assert storage.asset_states()["slow"].in_progress_run_id is None


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace_period(
    write_project,
) -> None:
    root = write_project(
        {
            "stubborn.py": """
                import signal, time
                from flowdev import asset, Definitions

                @asset
                def stubborn():
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    print("ignoring SIGTERM", flush=True)
                    time.sleep(60)

                defs = Definitions(assets=[stubborn])
            """
        },
        module="stubborn",
    )
    project = find_project(root)
    with Storage(project.home) as storage:
        run = launch_run(storage, project, ["stubborn"])
        _wait_for(lambda: "ignoring" in _output(storage, run.run_id))
        ended = cancel_run(storage, run.run_id, grace_seconds=0.5)
        assert ended.status is RunStatus.CANCELED
        assert "killed" in (ended.error or "")


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _output(storage: Storage, run_id: str) -> str:
    """What the run's code printed so far, from every step's log, as the app reads it."""
    return "\n".join(line.text for line in read_run_log(storage, run_id) if line.is_output)


def test_retries_follow_the_retry_policy(write_project) -> None:
    root = write_project(
        {
            "flaky.py": """
                from pathlib import Path
                from flowdev import asset, Definitions, RetryPolicy

                @asset(retry_policy=RetryPolicy(max_retries=3, delay=0.05))
                def flaky():
                    tries = Path("tries")
                    count = int(tries.read_text()) + 1 if tries.exists() else 1
                    tries.write_text(str(count))
                    if count < 3:
                        raise ConnectionError(f"attempt {count} failed")
                    return count

                defs = Definitions(assets=[flaky])
            """
        },
        module="flaky",
    )
    project = find_project(root)
    with Storage(project.home) as storage:
        run = _run(storage, project, ["flaky"])
        assert run.status is RunStatus.SUCCESS
        kinds = [kind for kind, _ in _kinds(storage, run.run_id)]
        assert kinds.count("STEP_UP_FOR_RETRY") == 2
        assert kinds.count("STEP_START") == 3


def test_eight_concurrent_runs_keep_every_event_exactly_once(write_project, monkeypatch) -> None:
    root = write_project(
        {
            "chatty.py": """
                from flowdev import asset, Definitions

                @asset
                def chatty(context):
                    for number in range(200):
                        context.log.info(f"line {number}")
                    return 1

                defs = Definitions(assets=[chatty])
            """
        },
        module="chatty",
    )
    monkeypatch.setenv("FLOWDEV_MAX_CONCURRENT_RUNS", "8")
    project = find_project(root)
    with Storage(project.home) as storage:
        runs = [launch_run(storage, project, ["chatty"]) for _ in range(8)]
        for run in runs:
            assert wait_for_run(storage, run.run_id, timeout=120).status is RunStatus.SUCCESS
        for run in runs:
            logged = [
                e.message
                for e in storage.events_after(0, run_id=run.run_id)
                if e.kind is EventKind.LOG and e.step_key == "chatty"
            ]
            assert logged == [f"line {n}" for n in range(200)]
        ids = [e.event_id for e in storage.events_after(0)]
        # Each run: its 200 lines, and run start, "executing with", step start,
        # materialization, step success, run success.
        assert len(ids) == len(set(ids)) == 8 * (200 + 6)


def test_runs_beyond_the_limit_wait_in_the_queue(storage, project, monkeypatch) -> None:
    monkeypatch.setenv("FLOWDEV_MAX_CONCURRENT_RUNS", "1")
    first = launch_run(storage, project, ["source", "slow"])
    second = launch_run(storage, project, ["source"])
    assert storage.get_run(second.run_id).status is RunStatus.QUEUED
    _wait_for(lambda: ("STEP_START", "slow") in _kinds(storage, first.run_id))
    cancel_run(storage, first.run_id)
    # The first worker, ending, starts the queued run.
    assert wait_for_run(storage, second.run_id, timeout=30).status is RunStatus.SUCCESS


def test_canceling_a_queued_run_never_starts_it(storage, project, monkeypatch) -> None:
    monkeypatch.setenv("FLOWDEV_MAX_CONCURRENT_RUNS", "1")
    first = launch_run(storage, project, ["slow"])
    queued = launch_run(storage, project, ["source"])
    assert cancel_run(storage, queued.run_id).status is RunStatus.CANCELED
    cancel_run(storage, first.run_id)
    assert storage.get_run(queued.run_id).pid is None
    assert storage.events_after(0, run_id=queued.run_id)[-1].kind is EventKind.RUN_CANCELED


def test_secret_env_var_values_never_reach_the_database_or_logs(write_project, monkeypatch):
    secret = "hunter2-very-secret"
    root = write_project(
        {
            "secretive.py": """
                from flowdev import asset, Definitions, ConfigurableResource, EnvVar

                class Api(ConfigurableResource):
                    token: str

                @asset
                def leaky(context, api: Api):
                    context.log.info(f"using token {api.token}")
                    print(f"printed token {api.token}")
                    raise RuntimeError(f"auth failed with {api.token}")

                api = Api(token=EnvVar("API_TOKEN"))
                defs = Definitions(assets=[leaky], resources={"api": api})
            """
        },
        module="secretive",
    )
    monkeypatch.setenv("API_TOKEN", secret)
    project = find_project(root)
    with Storage(project.home) as storage:
        run = _run(storage, project, ["leaky"])
        assert run.status is RunStatus.FAILURE
    dump = "\n".join(sqlite3.connect(project.home / "flowdev.db").iterdump())
    assert "auth failed with" in dump
    assert secret not in dump
    # Compute logs hold what the code printed itself; flowdev's own records never do.
    for path in (project.home / "logs").rglob("*.log"):
        text = path.read_text()
        assert f"using token {secret}" not in text


def test_a_database_from_a_newer_flowdev_is_refused_and_left_alone(tmp_path: Path) -> None:
    from flowdev.errors import StorageError

    home = tmp_path / "home"
    Storage(home).close()
    db = home / "flowdev.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = db.read_bytes()
    with pytest.raises(StorageError, match="newer flowdev") as error:
        Storage(home)
    assert "schema 99" in str(error.value)
    assert db.read_bytes() == before


def test_a_carriage_return_redraw_stays_in_its_line_of_the_run_log(tmp_path: Path) -> None:
    # A progress bar redraws with "\r": the log keeps one line with every state in it
    # (the log view shows its last), not one line per redraw; CRLF ends a line once.
    from flowdev.instance.runlog import RunLogTail

    with Storage(tmp_path / "home") as storage:
        path = storage.compute_log_path("run-1")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"start\n10%\r50%\r100%\ndone\r\n")
        texts = [line.text for line in RunLogTail(storage, "run-1").poll()]

    assert texts == ["start", "10%\r50%\r100%", "done\r"]
