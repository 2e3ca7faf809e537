"""Executors: how a launched run's steps execute (in process, in parallel step processes),
chosen the Dagster way, with failures, deaths, cancels, pools and logs per step."""

from __future__ import annotations

import os
import pickle
import subprocess
import time
from pathlib import Path

import pytest
from flowdev import (
    AssetSpec,
    Definitions,
    asset,
    in_process_executor,
    multiprocess_executor,
)
from flowdev.defs.executors import choose_executor
from flowdev.errors import ConfigError, InvalidDefinitionError
from flowdev.events import EventKind
from flowdev.execution.executor import RunSpec
from flowdev.execution.plan import ExecutionPlan
from flowdev.execution.scheduling import StepQueue
from flowdev.instance.event_log import EventRecord
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.runlog import read_run_log
from flowdev.instance.storage import Storage
from flowdev.project.project import find_project
from flowdev.runs.executors import executor_from_option, executor_named
from flowdev.runs.launcher import cancel_run, launch_run, wait_for_run
from test_cli import FLOWDEV

# Two independent branches that print and sleep, a downstream of both, and one that
# fails (with a downstream of its own) when asked to.
BRANCHES = """
    import os, time
    from flowdev import asset, Definitions, RetryPolicy, {executor_import}

    SECONDS = float(os.environ.get("BRANCH_SECONDS", "0.6"))

    @asset(pool=os.environ.get("BRANCH_POOL") or None, op_tags={{"db": "warehouse"}})
    def left():
        for i in range(3):
            print(f"left line {{i}}", flush=True)
            time.sleep(SECONDS / 3)
        return "L"

    @asset(pool=os.environ.get("BRANCH_POOL") or None, op_tags={{"db": "warehouse"}})
    def right():
        for i in range(3):
            print(f"right line {{i}}", flush=True)
            time.sleep(SECONDS / 3)
        return "R"

    @asset
    def both(left, right):
        return left + right

    @asset
    def broken():
        if os.environ.get("BRANCH_FAIL") == "raise":
            raise ValueError("broken on purpose")
        if os.environ.get("BRANCH_FAIL") == "die":
            os.kill(os.getpid(), 9)
        return 1

    @asset
    def after_broken(broken):
        return broken + 1

    defs = Definitions(assets=[left, right, both, broken, after_broken]{executor_arg})
"""


def _project(write_project, executor: str = "") -> Path:
    source = BRANCHES.format(
        executor_import=executor.split(".")[0] if executor else "multiprocess_executor",
        executor_arg=f", executor={executor}" if executor else "",
    )
    return write_project({"defs.py": source})


def _run(root: Path, keys: list[str], **kwargs) -> tuple[Storage, RunRecord]:
    project = find_project(root)
    storage = Storage(project.home)
    run = launch_run(storage, project, keys, **kwargs)
    return storage, wait_for_run(storage, run.run_id, timeout=60)


def _events(storage: Storage, run_id: str) -> list[EventRecord]:
    return storage.events_after(0, run_id=run_id)


def _span(events: list[EventRecord], step: str) -> tuple[float, float]:
    start = next(
        e.timestamp for e in events if e.kind is EventKind.STEP_START and e.step_key == step
    )
    end = next(
        e.timestamp
        for e in events
        if e.step_key == step
        and e.kind in (EventKind.STEP_SUCCESS, EventKind.STEP_FAILURE, EventKind.STEP_SKIPPED)
    )
    return start, end


def _overlap(events: list[EventRecord], a: str, b: str) -> bool:
    (a_start, a_end), (b_start, b_end) = _span(events, a), _span(events, b)
    return a_start < b_end and b_start < a_end


def _start_pids(events: list[EventRecord]) -> dict[str, int]:
    return {e.step_key: e.data["pid"] for e in events if e.kind is EventKind.STEP_START}


# -- parallel by default ---------------------------------------------------------------


def test_independent_steps_run_at_once_in_step_processes_and_the_downstream_waits(
    write_project,
) -> None:
    storage, run = _run(_project(write_project), ["left", "right", "both"])

    assert run.status is RunStatus.SUCCESS, run.error
    events = _events(storage, run.run_id)
    assert _overlap(events, "left", "right")
    assert _span(events, "both")[0] >= max(_span(events, "left")[1], _span(events, "right")[1])
    pids = _start_pids(events)
    assert run.pid not in pids.values()  # forked step processes, not the worker
    assert pids["left"] != pids["right"]
    assert (storage.storage_dir / "both").is_file()


def test_each_output_line_belongs_to_the_step_that_printed_it(write_project) -> None:
    storage, run = _run(_project(write_project), ["left", "right"])

    output = [(line.step_key, line.text) for line in read_run_log(storage, run.run_id)]
    printed = [pair for pair in output if " line " in pair[1]]
    assert sorted(printed) == sorted(
        [("left", f"left line {i}") for i in range(3)]
        + [("right", f"right line {i}") for i in range(3)]
    )
    for step in ("left", "right"):  # in order within a step, between its start and end
        lines = [i for i, (key, text) in enumerate(output) if text.startswith(f"{step} line")]
        assert lines == sorted(lines)
        start = output.index((step, f"started {step}"))
        end = next(i for i, (key, text) in enumerate(output) if text.startswith(f"{step} succ"))
        assert start < lines[0] and lines[-1] < end


def test_max_concurrent_one_runs_steps_one_at_a_time(write_project) -> None:
    config = {"execution": {"config": {"max_concurrent": 1}}}
    storage, run = _run(_project(write_project), ["left", "right"], run_config=config)

    assert run.status is RunStatus.SUCCESS, run.error
    assert not _overlap(_events(storage, run.run_id), "left", "right")


def test_in_process_executor_from_definitions_runs_every_step_in_the_worker(
    write_project,
) -> None:
    storage, run = _run(_project(write_project, "in_process_executor"), ["left", "right", "both"])

    assert run.status is RunStatus.SUCCESS, run.error
    events = _events(storage, run.run_id)
    assert set(_start_pids(events).values()) == {run.pid}
    assert not _overlap(events, "left", "right")


def test_run_config_names_the_executor_over_the_definitions_choice(write_project) -> None:
    root = _project(write_project, "in_process_executor")
    config = {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
    storage, run = _run(root, ["left", "right"], run_config=config)

    assert run.status is RunStatus.SUCCESS, run.error
    assert _overlap(_events(storage, run.run_id), "left", "right")


def test_spawn_start_method_runs_steps_in_fresh_interpreters(write_project) -> None:
    # What runs where fork is unavailable (Windows) or unsafe (macOS): forced here.
    executor = 'multiprocess_executor.configured({"start_method": {"spawn": {}}})'
    storage, run = _run(_project(write_project, executor), ["left", "right", "both"])

    assert run.status is RunStatus.SUCCESS, run.error
    events = _events(storage, run.run_id)
    assert _overlap(events, "left", "right")
    assert run.pid not in _start_pids(events).values()
    import pickle as stored

    assert stored.loads((storage.storage_dir / "both").read_bytes()) == "LR"


# -- failures ----------------------------------------------------------------------------


def test_a_failed_step_skips_only_its_downstream(write_project, monkeypatch) -> None:
    monkeypatch.setenv("BRANCH_FAIL", "raise")
    keys = ["left", "right", "both", "broken", "after_broken"]
    storage, run = _run(_project(write_project), keys)

    assert run.status is RunStatus.FAILURE
    assert "broken failed" in (run.error or "")
    events = _events(storage, run.run_id)
    ended = {
        e.step_key: e.kind
        for e in events
        if e.kind.value.startswith("STEP_") and e.kind is not EventKind.STEP_START
    }
    assert ended == {
        "left": EventKind.STEP_SUCCESS,
        "right": EventKind.STEP_SUCCESS,
        "both": EventKind.STEP_SUCCESS,
        "broken": EventKind.STEP_FAILURE,
        "after_broken": EventKind.STEP_SKIPPED,
    }
    failure = next(e for e in events if e.kind is EventKind.STEP_FAILURE)
    assert failure.data["error_type"] == "ValueError"
    assert failure.data["file"].endswith("defs.py")


def test_a_step_process_killed_mid_step_fails_that_step_and_the_rest_go_on(
    write_project, monkeypatch
) -> None:
    monkeypatch.setenv("BRANCH_FAIL", "die")
    storage, run = _run(_project(write_project), ["left", "broken", "after_broken"])

    assert run.status is RunStatus.FAILURE  # ended, not left running
    events = _events(storage, run.run_id)
    failure = next(e for e in events if e.kind is EventKind.STEP_FAILURE)
    assert failure.step_key == "broken"
    assert "killed by SIGKILL" in failure.message
    kinds = {(e.kind, e.step_key) for e in events}
    assert (EventKind.STEP_SUCCESS, "left") in kinds
    assert (EventKind.STEP_SKIPPED, "after_broken") in kinds


def test_an_in_memory_io_manager_is_refused_by_the_multiprocess_executor(
    write_project,
) -> None:
    root = write_project(
        {
            "defs.py": """
                from flowdev import asset, Definitions, InMemoryIOManager

                @asset
                def a():
                    return 1

                @asset
                def b(a):
                    return a + 1

                defs = Definitions(assets=[a, b], resources={"io_manager": InMemoryIOManager()})
            """
        }
    )
    storage, run = _run(root, ["a", "b"])

    assert run.status is RunStatus.FAILURE
    assert "InMemoryIOManager" in (run.error or "") and "in_process_executor" in run.error
    assert not any(e.kind is EventKind.STEP_START for e in _events(storage, run.run_id))

    in_process = {"execution": {"config": {"in_process": {}}}}
    storage, run = _run(root, ["a", "b"], run_config=in_process)
    assert run.status is RunStatus.SUCCESS, run.error


def test_an_unknown_executor_in_run_config_fails_the_run_with_the_names(write_project) -> None:
    config = {"execution": {"config": {"multiproces": {}}}}
    _, run = _run(_project(write_project), ["left"], run_config=config)

    assert run.status is RunStatus.FAILURE
    assert "unknown executor 'multiproces'" in (run.error or "")
    assert "multiprocess" in run.error


# -- cancel ------------------------------------------------------------------------------


def test_cancel_stops_every_step_in_flight_and_leaves_no_process(
    write_project, monkeypatch
) -> None:
    monkeypatch.setenv("BRANCH_SECONDS", "60")
    project = find_project(_project(write_project))
    with Storage(project.home) as storage:
        run = launch_run(storage, project, ["left", "right", "both"])
        deadline = time.monotonic() + 30
        while len(_start_pids(_events(storage, run.run_id))) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pids = list(_start_pids(_events(storage, run.run_id)).values())

        ended = cancel_run(storage, run.run_id, grace_seconds=10)

        assert ended.status is RunStatus.CANCELED
        events = _events(storage, run.run_id)
        canceled = {e.step_key for e in events if e.kind is EventKind.STEP_CANCELED}
        assert canceled == {"left", "right"}
        assert "both" not in {e.step_key for e in events}  # never started
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in pids):
            assert time.monotonic() < deadline, "a step process outlived the cancel"
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- pools and tag limits ----------------------------------------------------------------


def test_steps_of_one_pool_never_overlap(write_project, monkeypatch) -> None:
    monkeypatch.setenv("BRANCH_POOL", "warehouse")
    storage, run = _run(_project(write_project), ["left", "right"])

    assert run.status is RunStatus.SUCCESS, run.error
    assert not _overlap(_events(storage, run.run_id), "left", "right")


def test_tag_concurrency_limits_hold_steps_with_the_tag(write_project) -> None:
    limits = [{"key": "db", "value": "warehouse", "limit": 1}]
    config = {"execution": {"config": {"tag_concurrency_limits": limits}}}
    storage, run = _run(_project(write_project), ["left", "right", "broken"], run_config=config)

    assert run.status is RunStatus.SUCCESS, run.error
    events = _events(storage, run.run_id)
    assert not _overlap(events, "left", "right")
    # The untagged step is not held back: it starts before the tagged ones are done.
    assert _span(events, "broken")[0] < max(_span(events, "left")[1], _span(events, "right")[1])


def _plan(*specs: tuple[str, list[str], dict]) -> ExecutionPlan:
    assets = []
    for name, deps, extra in specs:
        assets.append(asset(name=name, deps=deps, **extra)(lambda: None))
    defs = Definitions(assets=assets)
    return ExecutionPlan.build(defs, defs.asset_graph.keys)


def test_the_step_queue_skips_everything_downstream_of_a_failure_once() -> None:
    plan = _plan(("a", [], {}), ("b", ["a"], {}), ("c", ["b"], {}), ("d", [], {}))
    queue = StepQueue(plan, max_concurrent=4)

    started = [queue.next_ready(), queue.next_ready(), queue.next_ready()]
    assert [s.key for s in started if s] == ["a", "d"]
    queue.finish("a", succeeded=False)
    skips = queue.take_skips()
    assert [(s.step.key, s.upstream) for s in skips] == [("b", ("a",)), ("c", ("b",))]
    assert queue.take_skips() == [] and not queue.done
    queue.finish("d", succeeded=True)
    assert queue.done and queue.failed


def test_the_step_queue_applies_per_value_tag_limits() -> None:
    plan = _plan(
        ("a", [], {"op_tags": {"region": "eu"}}),
        ("b", [], {"op_tags": {"region": "eu"}}),
        ("c", [], {"op_tags": {"region": "us"}}),
    )
    limits = [{"key": "region", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    queue = StepQueue(plan, max_concurrent=8, tag_limits=limits)

    first = [queue.next_ready(), queue.next_ready(), queue.next_ready()]
    assert [s.key for s in first if s] == ["a", "c"]
    queue.finish("a", succeeded=True)
    assert queue.next_ready().key == "b"


# -- choosing an executor ----------------------------------------------------------------


def test_executor_config_is_checked_with_the_setting_it_resembles() -> None:
    with pytest.raises(ConfigError, match=r"no setting 'max_concurent'.*max_concurrent"):
        multiprocess_executor.configured({"max_concurent": 2})
    with pytest.raises(ConfigError, match=r"limit: expected a whole number >= 1"):
        multiprocess_executor.configured({"tag_concurrency_limits": [{"key": "db", "limit": 0}]})
    with pytest.raises(ConfigError, match=r"unknown start method 'spwan'.*spawn"):
        multiprocess_executor.configured({"start_method": {"spwan": {}}})
    with pytest.raises(InvalidDefinitionError, match="expected an executor"):
        Definitions(assets=[AssetSpec("a")], executor="multiprocess")


def test_the_run_config_adds_to_what_configured_fixed() -> None:
    configured = multiprocess_executor.configured({"max_concurrent": 3})
    plain = choose_executor(configured, {})
    assert (plain.definition.name, plain.config) == ("multiprocess", {"max_concurrent": 3})
    more = choose_executor(configured, {"execution": {"config": {"start_method": {"spawn": {}}}}})
    assert more.config == {"max_concurrent": 3, "start_method": {"spawn": {}}}
    named = choose_executor(configured, {"execution": {"config": {"in_process": {}}}})
    assert named.definition is in_process_executor
    assert choose_executor(None, {}).definition is multiprocess_executor


def test_executor_option_values_become_run_config() -> None:
    assert executor_from_option("multiprocess=3") == {
        "execution": {"config": {"multiprocess": {"max_concurrent": 3}}}
    }
    assert executor_from_option("in_process") == {"execution": {"config": {"in_process": {}}}}
    with pytest.raises(ConfigError, match=r"unknown executor 'inprocess'.*in_process"):
        executor_from_option("inprocess")
    with pytest.raises(ConfigError, match="multiprocess=N"):
        executor_from_option("multiprocess=many")
    with pytest.raises(ConfigError, match="takes no value"):
        executor_from_option("in_process=2")
    assert executor_named("multiprocess") is multiprocess_executor


def test_materialize_executor_option_runs_in_process_and_refuses_unknown_names(
    write_project,
) -> None:
    root = _project(write_project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCH_", "FLOWDEV_"))}
    done = subprocess.run(
        [*FLOWDEV, "materialize", "-s", "left", "--executor", "in_process", "-p", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with Storage(find_project(root).home) as storage:
        (run,) = storage.list_runs(1)
        assert run.run_config == {"execution": {"config": {"in_process": {}}}}
        assert set(_start_pids(_events(storage, run.run_id)).values()) == {run.pid}

    refused = subprocess.run(
        [*FLOWDEV, "materialize", "--executor", "rayy", "-p", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "unknown executor 'rayy'" in refused.stderr


def test_a_run_spec_is_data_that_pickles() -> None:
    spec = RunSpec(
        run_id="r1",
        project={"root": "/p", "module": "defs", "file": None},
        code_fingerprint="abc",
        run_config={"ops": {}},
        storage_dir="/p/.flowdev/storage",
    )
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_step_start_records_the_host_and_pid_that_ran_it(write_project) -> None:
    import socket

    storage, run = _run(_project(write_project), ["left"])
    start = next(e for e in _events(storage, run.run_id) if e.kind is EventKind.STEP_START)
    assert start.data["host"] == socket.gethostname()
    assert isinstance(start.data["pid"], int) and start.data["pid"] != os.getpid()


def test_a_resource_that_cannot_set_up_in_a_step_process_fails_its_steps(
    write_project,
) -> None:
    root = write_project(
        {
            "defs.py": """
                from flowdev import asset, ConfigurableResource, Definitions

                class Warehouse(ConfigurableResource):
                    def setup_for_execution(self, context):
                        raise ConnectionError("the warehouse is down")

                @asset
                def a(warehouse: Warehouse):
                    return 1

                defs = Definitions(assets=[a], resources={"warehouse": Warehouse()})
            """
        }
    )
    storage, run = _run(root, ["a"])

    assert run.status is RunStatus.FAILURE
    failure = next(e for e in _events(storage, run.run_id) if e.kind is EventKind.STEP_FAILURE)
    assert failure.step_key == "a"
    assert "could not start" in failure.message
    assert "the warehouse is down" in failure.data["traceback"]
