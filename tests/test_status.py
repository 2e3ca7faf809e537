"""Asset statuses from a snapshot and real storage: missing, fresh, stale (and why),
overdue, failed, running/queued, check failed, external."""

import json
import subprocess
import sys
import time

import pytest
from flowdev import AssetKey
from flowdev.instance.event_log import AssetState
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.status import Status, asset_statuses, compute_statuses
from flowdev.instance.storage import Storage
from flowdev.project.project import Project, find_project
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.runs.launcher import launch_run, wait_for_run

CHAIN = """
    from flowdev import asset, asset_check, AssetCheckResult, AssetSpec, Definitions
    from flowdev import FreshnessPolicy

    upstream_feed = AssetSpec("feed")

    @asset(deps=[upstream_feed])
    def raw():
        return 1

    @asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
    def clean(raw):
        return raw + 1

    @asset
    def report(clean):
        return clean * 2

    @asset_check(asset=clean)
    def clean_is_positive(clean):
        return AssetCheckResult(passed=clean > CHECK_THRESHOLD)

    defs = Definitions(assets=[upstream_feed, raw, clean, report], asset_checks=[clean_is_positive])
"""


def snapshot_of(project: Project) -> DefinitionsSnapshot:
    """The project's snapshot as a fresh interpreter sees the files now."""
    code = (
        "import json, sys\n"
        "from flowdev.project.project import find_project, load_definitions\n"
        "from flowdev.project.snapshot import build_snapshot\n"
        "print(json.dumps(build_snapshot(load_definitions(find_project(sys.argv[1]))).to_json()))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, str(project.root)], capture_output=True, text=True, check=True
    ).stdout
    return DefinitionsSnapshot.from_json(json.loads(output))


@pytest.fixture
def project(write_project) -> Project:
    return find_project(write_project({"defs.py": CHAIN.replace("CHECK_THRESHOLD", "0")}))


def _materialize(project: Project, keys: list[str]) -> None:
    with Storage(project.home) as storage:
        run = launch_run(storage, project, keys)
        ended = wait_for_run(storage, run.run_id, timeout=60)
        assert ended.status is RunStatus.SUCCESS, ended.error


def _statuses(project: Project, now: float | None = None) -> dict[str, tuple[str, tuple]]:
    with Storage(project.home) as storage:
        found = asset_statuses(snapshot_of(project), storage, now=now)
    return {key.to_user_string(): (s.status.value, s.stale_reasons) for key, s in found.items()}


def test_missing_then_fresh_then_external(project) -> None:
    before = _statuses(project)
    assert before == {
        "feed": ("external", ()),
        "raw": ("missing", ()),
        "clean": ("missing", ()),
        "report": ("missing", ()),
    }
    _materialize(project, ["raw", "clean", "report"])
    after = _statuses(project)
    assert after["raw"] == after["clean"] == after["report"] == ("fresh", ())
    assert after["feed"] == ("external", ())


def test_a_code_edit_makes_the_asset_and_its_downstream_stale(project) -> None:
    _materialize(project, ["raw", "clean", "report"])
    source = project.root / "defs.py"
    source.write_text(source.read_text().replace("return raw + 1", "return raw + 2"))
    statuses = _statuses(project)
    assert statuses["raw"] == ("fresh", ())
    assert statuses["clean"] == ("stale", ("code changed",))
    assert statuses["report"] == ("stale", ("upstream clean is stale",))
    # A comment is not a code change.
    source.write_text(source.read_text().replace("return raw + 2", "return raw + 1  # same"))
    assert _statuses(project)["clean"] == ("fresh", ())


def test_rematerializing_upstream_makes_downstream_stale_until_it_runs(project) -> None:
    _materialize(project, ["raw", "clean", "report"])
    _materialize(project, ["raw"])
    statuses = _statuses(project)
    assert statuses["raw"] == ("fresh", ())
    assert statuses["clean"] == ("stale", ("upstream raw updated",))
    assert statuses["report"] == ("stale", ("upstream clean is stale",))
    _materialize(project, ["clean", "report"])
    assert {s for s, _ in _statuses(project).values()} == {"fresh", "external"}


def test_overdue_under_a_freshness_policy_with_time_injected(project) -> None:
    _materialize(project, ["raw", "clean"])
    with Storage(project.home) as storage:
        snapshot = snapshot_of(project)
        materialized = storage.asset_states()["clean"].last_materialized
        assert materialized is not None
        soon = asset_statuses(snapshot, storage, now=materialized + 59 * 60)
        late = asset_statuses(snapshot, storage, now=materialized + 61 * 60)
    assert soon[AssetKey("clean")].status is Status.FRESH
    assert soon[AssetKey("clean")].overdue_at == pytest.approx(materialized + 3600)
    assert late[AssetKey("clean")].status is Status.OVERDUE
    assert late[AssetKey("raw")].status is Status.FRESH  # no policy, never overdue


def test_a_failed_attempt_shows_failed_over_the_older_materialization(project) -> None:
    _materialize(project, ["raw", "clean"])
    source = project.root / "defs.py"
    source.write_text(source.read_text().replace("return raw + 1", "raise ValueError('no')"))
    with Storage(project.home) as storage:
        run = launch_run(storage, project, ["clean"])
        assert wait_for_run(storage, run.run_id, timeout=60).status is RunStatus.FAILURE
        statuses = asset_statuses(snapshot_of(project), storage)
    clean = statuses[AssetKey("clean")]
    assert clean.status is Status.FAILED
    assert clean.last_materialized is not None  # the earlier value is still there
    assert "ValueError" in (clean.failure_message or "")


def test_a_failed_check_shows_check_failed(write_project) -> None:
    project = find_project(write_project({"defs.py": CHAIN.replace("CHECK_THRESHOLD", "100")}))
    _materialize(project, ["raw", "clean"])
    with Storage(project.home) as storage:
        statuses = asset_statuses(snapshot_of(project), storage)
    assert statuses[AssetKey("clean")].status is Status.CHECK_FAILED
    assert statuses[AssetKey("clean")].failed_checks == ("clean_is_positive",)


def test_running_and_queued_come_from_active_runs(project) -> None:
    snapshot = snapshot_of(project)
    run = RunRecord(
        run_id="r1",
        status=RunStatus.STARTED,
        selection="*",
        asset_keys=("raw", "clean"),
        create_time=time.time(),
    )
    states = {"raw": AssetState(asset_key="raw", in_progress_run_id="r1")}
    statuses = compute_statuses(snapshot, states, active_runs=[run])
    assert statuses[AssetKey("raw")].status is Status.RUNNING
    assert statuses[AssetKey("clean")].status is Status.QUEUED
    assert statuses[AssetKey("clean")].active_run_id == "r1"
    assert statuses[AssetKey("report")].status is Status.MISSING
