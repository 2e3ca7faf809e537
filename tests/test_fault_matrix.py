"""The fault matrix: every promise of the hardening issue, one real reproduction each.

Each section below mirrors a heading of that list, and each test name reads as the
promise it holds. Faults are made for real: real worker processes and signals, real
damaged files, a real full disk (a small tmpfs), a real terminal where it matters. A
test here fails if the behaviour it names breaks.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from flowdev import AssetKey
from flowdev.launcher import cancel_run, launch_run
from flowdev.project import Project, find_project
from flowdev.snapshot import DefinitionsSnapshot
from flowdev.storage import ACTIVE_STATUSES, RunStatus, Storage
from flowdev.tui.app import FlowdevApp
from flowdev.tui.editor import editor_command
from flowdev.tui.screens.quit import QuitScreen
from flowdev.tui.widgets.runs_table import RunsTable
from test_cli import FLOWDEV
from test_tui_app import SIZE, loaded, runs, status_of, until
from textual.command import CommandList, CommandPalette

# == Runs and processes ====================================================================


# == The instance (SQLite and files) =======================================================


# == Bad input answered, never a traceback =================================================


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
        # The run it queued stays queued: the poller meets the same error every round
        # (reconcile tries to start it), says so once, and keeps polling.
        rounds = app_poll_rounds(app)
        await until(pilot, lambda: len(rounds) > 8)
        assert app.is_running
        said = [m for m, _ in app.messages if "FLOWDEV_MAX_CONCURRENT_RUNS" in m]
        assert len(said) <= 3, said
        # Fixing the setting lets the queued run start: the poller recovers.
        monkeypatch.setenv("FLOWDEV_MAX_CONCURRENT_RUNS", "2")
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
        app.graph_view.cursor = AssetKey("trip_duration_model")
        await pilot.pause()
        await pilot.press("U")
        await until(pilot, lambda: status_of(app, "trip_duration_model") == "running", 60)
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
        app.graph_view.cursor = AssetKey("trip_duration_model")
        await pilot.pause()
        await pilot.press("U")
        await until(pilot, lambda: status_of(app, "trip_duration_model") == "running", 60)
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
