"""The app with Pilot, on a copy of the sample project, with real loads and real runs.

Each test drives keys and waits for what they cause in storage and on screen (a wait is
a poll for a condition, never a fixed sleep).
"""

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flowdev import AssetKey
from flowdev.instance.run_records import RunStatus
from flowdev.instance.storage import Storage
from flowdev.project.project import find_project
from flowdev.tui.app import FlowdevApp
from flowdev.tui.screens.help import HelpScreen
from flowdev.tui.screens.quit import QuitScreen
from flowdev.tui.screens.selection import SelectionScreen
from flowdev.tui.widgets.log_view import RunLogView
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

SIZE = (160, 48)


@pytest.fixture
def project(sample_project: Path, monkeypatch):
    monkeypatch.setenv("FLOWDEV_HOME", str(sample_project / ".flowdev-test-home"))
    for name in list(os.environ):
        if name.startswith("TAXI_"):
            monkeypatch.delenv(name)
    return find_project(sample_project)


@pytest.fixture
def opened(tmp_path, monkeypatch) -> Path:
    """Where a stand-in $EDITOR writes the arguments it was opened with.

    It is called ``vim`` (first on PATH), so it is given the line as ``+LINE file``.
    """
    opened = tmp_path / "opened.txt"
    editor = tmp_path / "bin" / "vim"
    editor.parent.mkdir()
    editor.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\n"
        f"pathlib.Path({str(opened)!r}).write_text(' '.join(sys.argv[1:]))\n"
    )
    editor.chmod(0o755)
    monkeypatch.setenv("PATH", f"{editor.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EDITOR", "vim")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("FLOWDEV_EDITOR", raising=False)
    return opened


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app did not get there in time")
        await pilot.pause(0.05)


async def loaded(pilot: Pilot, app: FlowdevApp) -> None:
    await until(pilot, lambda: app.snapshot is not None and len(app.statuses) == 13)
    await until(pilot, lambda: app.graph_view.cursor is not None)


def status_of(app: FlowdevApp, key: str) -> str:
    return app.statuses[AssetKey(key)].status.value


def runs(app: FlowdevApp) -> list:
    with Storage(app.project.home) as storage:
        return storage.list_runs()


async def start_slow_run(pilot: Pilot, app: FlowdevApp) -> None:
    """Launch trip_duration_model with everything upstream (``U``) and wait until it
    runs: a run that goes on for a few seconds, for tests of what happens meanwhile."""
    app.graph_view.cursor = AssetKey("trip_duration_model")
    await pilot.pause()
    await pilot.press("U")
    await until(pilot, lambda: status_of(app, "trip_duration_model") == "running", 60)


@pytest.mark.anyio
async def test_m_materializes_the_cursor_asset_and_it_turns_fresh(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("raw_zones")
        await pilot.pause()
        assert status_of(app, "raw_zones") == "missing"
        await pilot.press("m")
        await until(pilot, lambda: status_of(app, "raw_zones") == "fresh")
        (run,) = runs(app)
        assert run.status is RunStatus.SUCCESS and run.asset_keys == ("raw_zones",)
        await until(pilot, lambda: app.log_view.row_count > 0)
        log_text = "\n".join(row.text for row in app.log_view._rows)
        assert "materialized raw_zones" in log_text
        assert status_of(app, "zones") == "missing"
        assert "fresh" in str(app.query_one("#header").render())


@pytest.mark.anyio
async def test_capital_s_runs_every_stale_and_missing_asset(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("S")
        await until(
            pilot,
            lambda: all(s.status.value in ("fresh", "external") for s in app.statuses.values()),
            timeout=90,
        )
        assert len(runs(app)) == 1


@pytest.mark.anyio
async def test_marks_and_downstream_and_upstream_runs(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("zones")
        app.graph_view.focus()
        await pilot.pause()
        await pilot.press("U")  # zones with everything upstream
        await until(pilot, lambda: status_of(app, "zones") == "fresh")
        assert set(runs(app)[0].asset_keys) == {"raw_zones", "zones"}
        app.graph_view.cursor = AssetKey("raw_weather")
        await pilot.pause()
        await pilot.press("space")
        await until(pilot, lambda: AssetKey("raw_weather") in app.marked)
        await pilot.press("m")  # the marked set
        await until(pilot, lambda: status_of(app, "raw_weather") == "fresh")
        assert runs(app)[0].asset_keys == ("raw_weather",)


@pytest.mark.anyio
async def test_a_syntax_error_shows_the_panel_and_keeps_the_graph(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        before = app.snapshot
        report = project.root / "taxi" / "assets" / "report.py"
        good = report.read_text()
        report.write_text(good + "\ndef broken(:\n")
        line = good.count("\n") + 2
        await until(pilot, lambda: app.load_error is not None)
        panel = app.query_one("#load-error")
        assert not panel.has_class("hidden")
        text = str(panel.render())
        assert f"report.py:{line}" in text and "SyntaxError" in text
        assert app.snapshot is before  # the graph keeps the last good definitions
        assert "load failed" in str(app.query_one("#header").render())
        report.write_text(good)
        await until(pilot, lambda: app.load_error is None)
        assert panel.has_class("hidden")


@pytest.mark.anyio
async def test_a_code_edit_announces_what_went_stale_and_enter_runs_it(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("S")
        await until(pilot, lambda: status_of(app, "daily_summary") == "fresh", timeout=90)
        report = project.root / "taxi" / "assets" / "report.py"
        report.write_text(
            report.read_text().replace('lines = ["# Taxi week"', 'lines = ["# Taxi weekly"')
        )
        await until(pilot, lambda: not app.query_one("#notice").has_class("hidden"))
        notice = str(app.query_one("#notice").render())
        assert "~1 assets" in notice and "now stale" in notice
        await until(pilot, lambda: status_of(app, "daily_summary") == "stale")
        assert AssetKey("daily_summary") in app.graph_view.highlighted
        count = len(runs(app))
        await pilot.press("enter")
        await until(pilot, lambda: len(runs(app)) == count + 1)
        assert runs(app)[0].asset_keys == ("daily_summary",)
        await until(pilot, lambda: status_of(app, "daily_summary") == "fresh")


@pytest.mark.anyio
async def test_selection_prompt_marks_what_the_query_selects(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SelectionScreen))
        await pilot.press(*"group:ingest")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, SelectionScreen))
        assert {k.to_user_string() for k in app.marked} == {
            "raw_zones",
            "raw_trips",
            "raw_weather",
            "fare_rates",
        }


@pytest.mark.anyio
async def test_a_failing_run_opens_the_log_on_the_error_and_r_capital_reexecutes(
    project, monkeypatch
) -> None:
    monkeypatch.setenv("TAXI_FAIL_ANOMALIES", "1")
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("S")
        await until(pilot, lambda: status_of(app, "fare_anomalies") == "failed", timeout=90)
        await until(pilot, lambda: app.log_view.search != "")
        assert app.log_view.match_count >= 1
        assert app.last_failure is not None and app.last_failure.step_key == "fare_anomalies"
        monkeypatch.delenv("TAXI_FAIL_ANOMALIES")
        runs_table = app.query_one("#runs")
        runs_table.focus()
        await until(pilot, lambda: runs_table.row_count == 1)
        # Steps independent of the failed one go on (trip_duration_model takes 3 s):
        # a run is re-executed from failure once it has ended.
        await until(pilot, lambda: not runs(app)[0].status.is_active, timeout=30)
        await pilot.press("R")
        await until(pilot, lambda: status_of(app, "fare_anomalies") == "fresh", timeout=60)
        latest = runs(app)[0]
        assert latest.parent_run_id is not None and latest.asset_keys == ("fare_anomalies",)


@pytest.mark.anyio
async def test_c_cancels_the_selected_run_and_q_asks_about_active_runs(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await start_slow_run(pilot, app)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("escape")  # stay
        await until(pilot, lambda: not isinstance(app.screen, QuitScreen))
        runs_table = app.query_one("#runs")
        runs_table.focus()
        await pilot.press("c")
        await until(pilot, lambda: runs(app)[0].status is RunStatus.CANCELED, timeout=30)


@pytest.mark.anyio
async def test_help_view_toggle_reload_and_editor(project, opened) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await pilot.press("v")
        await until(pilot, lambda: app.query_one("#views").current == "list")
        listing = app.query_one("#list")
        await until(pilot, lambda: listing.row_count == 13)  # filled when it shows
        await pilot.press("v")
        first_load = app.loaded_at
        await pilot.press("r")
        await until(pilot, lambda: app.loaded_at != first_load)
        app.graph_view.cursor = AssetKey("zones")
        app.graph_view.focus()
        await pilot.pause()
        await pilot.press("e")
        await until(pilot, opened.exists)
        line = app.snapshot.get(AssetKey("zones")).source_line
        assert opened.read_text() == f"+{line} {project.root / 'taxi/assets/transform.py'}"
        await pilot.press("l")
        assert isinstance(app.focused, RunLogView)


@pytest.mark.anyio
async def test_log_filter_follow_and_narrow_layout(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=(90, 30)) as pilot:
        await loaded(pilot, app)
        assert app.screen.has_class("narrow")
        assert app.panel.region.width == 0  # the panel gave way to the graph
        app.graph_view.cursor = AssetKey("raw_zones")
        await pilot.pause()
        await pilot.press("m")
        await until(pilot, lambda: status_of(app, "raw_zones") == "fresh")
        await until(pilot, lambda: app.log_view.row_count > 3)
        await pilot.press("a")
        assert app.log_view.step_filter == "raw_zones"
        shown = app.log_view.row_count
        assert 0 < shown < len(app.log_view._rows)
        await pilot.press("a")
        assert app.log_view.step_filter is None
        await pilot.press("f")
        assert app.log_view.follow is False


@pytest.mark.anyio
async def test_capital_m_tab_palette_and_resize(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        # The command palette jumps to an asset by a fuzzy key.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"trips_enr")
        commands = app.screen.query_one(CommandList)
        await until(pilot, lambda: commands.option_count > 0)
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.graph_view.cursor == AssetKey("trips_enriched"))
        # A resize keeps the cursor where it was.
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert app.graph_view.cursor == AssetKey("trips_enriched")
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        app.graph_view.cursor = AssetKey("raw_trips")
        app.graph_view.focus()
        await pilot.pause()
        await pilot.press("M")  # raw_trips with everything downstream
        await until(pilot, lambda: bool(runs(app)))
        downstream = app.snapshot.asset_graph.downstream({AssetKey("raw_trips")})
        expected = {k.to_user_string() for k in downstream} | {"raw_trips"}
        assert set(runs(app)[0].asset_keys) == expected
        # tab moves on to the next pane.
        before = app.focused
        await pilot.press("tab")
        assert app.focused is not before


@pytest.mark.anyio
async def test_quit_can_cancel_active_runs_and_e_opens_the_failure_line(
    project, opened, monkeypatch
) -> None:
    monkeypatch.setenv("TAXI_FAIL_ANOMALIES", "1")
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("fare_anomalies")
        await pilot.pause()
        await pilot.press("U")
        await until(pilot, lambda: app.last_failure is not None, timeout=90)
        await pilot.press("l")
        await pilot.press("e")  # from the log: the line in the user's code that raised
        await until(pilot, opened.exists)
        report = project.root / "taxi" / "assets" / "report.py"
        raising = next(
            number
            for number, text in enumerate(report.read_text().splitlines(), start=1)
            if "raise RuntimeError" in text
        )
        assert opened.read_text() == f"+{raising} {report}"
        # A long run is going when the user quits: "cancel them" stops it, then exits.
        app.graph_view.cursor = AssetKey("trip_duration_model")
        app.graph_view.focus()
        await pilot.pause()
        await pilot.press("U")
        await until(pilot, lambda: status_of(app, "trip_duration_model") == "running", 60)
        run_id = runs(app)[0].run_id
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("c")
        await until(pilot, lambda: not app.is_running, timeout=30)
    with Storage(project.home) as storage:
        assert storage.get_run(run_id).status is RunStatus.CANCELED


@pytest.mark.anyio
async def test_switching_to_the_list_keeps_the_cursor_on_its_asset(project) -> None:
    app = FlowdevApp(project)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.graph_view.cursor = AssetKey("zones")  # not the list's first row
        await pilot.pause()
        shown: list[AssetKey] = []
        original = app._show_cursor_asset

        def spy(history: bool = True) -> None:
            shown.append(app.cursor)
            original(history)

        app._show_cursor_asset = spy  # type: ignore[method-assign]
        await pilot.press("v")
        listing = app.query_one("#list")
        await until(pilot, lambda: listing.row_count == 13)
        await pilot.pause()
        await pilot.pause()

        assert app.cursor == AssetKey("zones")
        assert listing.key_at(listing.cursor_row) == AssetKey("zones")
        # The panel never showed another asset, and the list and the graph did not
        # echo the cursor back and forth (they once did, thousands of times).
        assert set(shown) <= {AssetKey("zones")} and len(shown) <= 2


@pytest.mark.anyio
async def test_a_broken_pyproject_saved_under_the_app_shows_its_line(project) -> None:
    app = FlowdevApp(project, reread=lambda: find_project(project.root))
    pyproject = project.root / "pyproject.toml"
    good = pyproject.read_text()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        before = app.snapshot
        pyproject.write_text(good.replace("[tool.flowdev]", "[tool.flowdev"))
        await until(pilot, lambda: app.load_error is not None)

        line = good.splitlines().index("[tool.flowdev]") + 1
        assert app.load_error.location(project.root) == f"pyproject.toml:{line}"
        assert app.snapshot is before  # the last good graph stays
        pyproject.write_text(good)
        await until(pilot, lambda: app.load_error is None)
