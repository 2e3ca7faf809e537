"""Snapshots of the app's key screens, at fixed sizes, with a fixed clock and state.

The state is what the watcher and the poller would deliver (a snapshot of the sample
project, statuses, runs, log lines, history), handed to the app directly so every
pixel is deterministic; the live paths are covered by test_tui_app.py.
"""

import dataclasses
import os
import time
from pathlib import Path

import pytest
from flowdev import AssetKey
from flowdev.events import EventKind
from flowdev.instance.event_log import AssetState, EventRecord, MaterializationRecord
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.runlog import LogLine
from flowdev.instance.status import compute_statuses
from flowdev.project.loader import LoadError, load_project
from flowdev.project.project import find_project
from flowdev.project.watch import LoadFailed, Reloaded
from flowdev.tui.app import FlowdevApp
from flowdev.tui.poller import PollResult

NOW = 1_795_000_000.0  # a fixed "now" (2026-11-18 08:26:40 UTC)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class StillApp(FlowdevApp):
    """The app without its live feeds: tests hand it what they would have delivered."""

    def _watch(self) -> None:  # type: ignore[override]
        pass

    def _poll(self) -> None:  # type: ignore[override]
        pass

    def _load_history(self, key: AssetKey) -> None:  # type: ignore[override]
        self.panel.history = HISTORY if key == AssetKey("trips_clean") else []


HISTORY = [
    MaterializationRecord(
        event_id=100 - n,
        asset_key="trips_clean",
        run_id=f"run{n:05d}",
        timestamp=NOW - 3600 * (n + 1),
        code_version="abc",
        data_version=f"v{n}",
        duration=0.5 + 0.1 * (n % 4),
        metadata={
            "row_count": {"type": "int", "value": 4800 + 25 * ((n * 7) % 9)},
            "preview": {"type": "md", "value": "| zone | trips |\n|---|---|\n| 1 | 40 |"},
        },
    )
    for n in range(12)
]


def sample_state(root: Path):
    project = find_project(root)
    # Loaded in a child process, as the app does: this process keeps no stale `taxi`.
    loaded = load_project(project)
    assert not isinstance(loaded, LoadError), loaded
    snapshot = dataclasses.replace(loaded, load_seconds=0.12)
    materialized = {"raw_zones", "raw_trips", "raw_weather", "zones", "trips_clean"}
    states = {
        key: AssetState(
            asset_key=key,
            last_materialized=NOW - 3600,
            run_id="run00000",
            code_version=snapshot.get(AssetKey(key)).code_version,
            data_version=f"v-{key}",
            input_versions={
                d.to_user_string(): f"v-{d.to_user_string()}"
                for d in snapshot.get(AssetKey(key)).deps
            },
            duration=0.42,
        )
        for key in materialized
    }
    states["zones"] = states["zones"]._replace(code_version="old")  # edited since
    states["trips_enriched"] = AssetState(asset_key="trips_enriched", in_progress_run_id="r2")
    running = RunRecord(
        run_id="2f1c0de5aa5e4b3f9e0d1c2b3a495867",
        status=RunStatus.STARTED,
        selection="trips_enriched (downstream)",
        asset_keys=("trips_enriched", "borough_stats", "hourly_stats"),
        pid=4242,
        create_time=NOW - 20,
        start_time=NOW - 19,
    )
    done = RunRecord(
        run_id="9a8b7c6d5e4f30211a2b3c4d5e6f7081",
        status=RunStatus.FAILURE,
        selection="*",
        asset_keys=("fare_anomalies",),
        create_time=NOW - 600,
        start_time=NOW - 599,
        end_time=NOW - 597,
        error="fare_anomalies failed",
    )
    statuses = compute_statuses(snapshot, states, active_runs=[running], now=NOW)
    return project, snapshot, statuses, [running, done]


def log_lines(run_id: str) -> list[LogLine]:
    lines = []
    for n in range(6):
        at = NOW - 18 + n
        if n % 2 == 0:
            record = EventRecord(
                event_id=n,
                run_id=run_id,
                kind=EventKind.LOG,
                timestamp=at,
                step_key="trips_enriched",
                asset_key="trips_enriched",
                level="WARNING" if n == 4 else "INFO",
                message=f"joined batch {n // 2} of 3",
                data={},
            )
            lines.append(
                LogLine(
                    timestamp=at,
                    run_id=run_id,
                    step_key="trips_enriched",
                    level=record.level,
                    text=record.message,
                    event=record,
                )
            )
        else:
            lines.append(
                LogLine(
                    timestamp=at,
                    run_id=run_id,
                    step_key="trips_enriched",
                    level="OUTPUT",
                    text=f"reading zone chunk {n}",
                )
            )
    return lines


def make_app(sample_project: Path, *, cursor: str = "trips_clean") -> StillApp:
    os.environ["FLOWDEV_HOME"] = str(sample_project / ".flowdev-test-home")
    project, snapshot, statuses, runs = sample_state(sample_project)
    app = StillApp(project, clock=lambda: NOW)

    async def feed(pilot) -> None:
        app._reloaded(Reloaded(snapshot, (), 120.0))
        app.selected_run_id = runs[0].run_id
        app._apply_poll(
            PollResult(
                statuses=statuses,
                runs=runs,
                usage={4242: (87.0, 52 * 2**20)},
                log_run_id=runs[0].run_id,
                log_reset=True,
                log_lines=log_lines(runs[0].run_id),
            )
        )
        await pilot.pause()
        while not app.graph_view.drawn_keys:
            await pilot.pause(0.05)
        app.graph_view.cursor = AssetKey(cursor)
        await pilot.pause()
        await pilot.pause()

    app.feed = feed  # type: ignore[attr-defined]
    return app


def test_main_screen_with_a_run_in_progress(sample_project, snap_compare) -> None:
    app = make_app(sample_project)
    assert snap_compare(app, terminal_size=(160, 48), run_before=app.feed)


def test_asset_with_history_and_sparklines(sample_project, snap_compare) -> None:
    app = make_app(sample_project, cursor="trips_clean")

    async def run_before(pilot) -> None:
        await app.feed(pilot)
        app.panel.focus()
        history = app.panel.query_one("#panel-history")
        while len(history.children) < 4:  # two sparklines with their labels
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 60), run_before=run_before)


def test_load_error_panel(sample_project, snap_compare) -> None:
    app = make_app(sample_project)
    error = LoadError(
        kind="syntax_error",
        exception_type="SyntaxError",
        message="invalid syntax",
        file=str(sample_project / "taxi" / "assets" / "report.py"),
        line=17,
        column=12,
        traceback='  File "taxi/assets/report.py", line 17\n    def broken(:\n               ^',
        changed_files=(str(sample_project / "taxi" / "assets" / "report.py"),),
    )

    async def run_before(pilot) -> None:
        await app.feed(pilot)
        app._load_failed(LoadFailed(error, error.changed_files, 30.0))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)


def test_help_screen(sample_project, snap_compare) -> None:
    app = make_app(sample_project)

    async def run_before(pilot) -> None:
        await app.feed(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_list_view(sample_project, snap_compare) -> None:
    app = make_app(sample_project)

    async def run_before(pilot) -> None:
        await app.feed(pilot)
        await pilot.press("v")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=run_before)


def test_small_terminal_80x24(sample_project, snap_compare) -> None:
    app = make_app(sample_project)
    assert snap_compare(app, terminal_size=(80, 24), run_before=app.feed)
