"""`flowdev dev`: the terminal app — graph, freshness, keyboard runs, live logs.

The app computes nothing itself. Three workers feed it: the watcher (an async worker
over `flowdev.project.watch.watch_project`, which loads the definitions in a child process on
every save), the poller (a thread worker that reads the instance a few times a second
through `InstancePoller`), and short thread workers that launch and cancel runs. Widgets
get plain data set on them; they post messages up; nothing here blocks the UI thread.

Nothing a user does ends the app: a worker that raises becomes a notification
(`on_worker_state_changed`), and every way out (q, ctrl+q, the palette) goes through the
"runs still going" question. SIGTERM and SIGHUP end it at once, with the terminal
restored and the runs left going: they are detached processes with their own records,
and a closed terminal must not kill a long backfill (`flowdev cancel` stops them).
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath
from typing import ClassVar

from flowdev.errors import ConfigError, FlowdevError, StorageError
from flowdev.instance.event_log import EventRecord
from flowdev.instance.run_records import RunRecord
from flowdev.instance.status import AssetStatus
from flowdev.keys import AssetKey
from flowdev.project.loader import LoadError
from flowdev.project.project import Project
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.project.watch import LoadFailed, Reloaded, watch_project
from flowdev.tui import run_control
from flowdev.tui.bindings import bound_keys
from flowdev.tui.commands import FlowdevCommands
from flowdev.tui.editor import open_in_editor
from flowdev.tui.poller import InstancePoller, PollResult
from flowdev.tui.screens.help import HelpScreen
from flowdev.tui.screens.main import MainScreen
from flowdev.tui.screens.quit import QuitChoice, QuitScreen
from flowdev.tui.screens.selection import SelectionChoice, SelectionScreen
from flowdev.tui.widgets.asset_graph import AssetGraphView
from flowdev.tui.widgets.asset_panel import AssetPanel
from flowdev.tui.widgets.asset_views import AssetViews
from flowdev.tui.widgets.log_pane import LogPane
from flowdev.tui.widgets.log_view import RunLogView
from flowdev.tui.widgets.project_header import ProjectHeader
from flowdev.tui.widgets.runs_table import RunsTable
from flowdev.tui.widgets.save_notice import SaveNotice
from flowdev.tui.worker_errors import failure_note, storage_failure_shown
from rich.markup import escape
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

POLL_SECONDS = 0.25
POLL_RETRY_SECONDS = 2.0


class FlowdevApp(App[None]):
    """The flowdev dev environment for one project."""

    TITLE = "flowdev"
    # Absolute, so subclasses defined elsewhere (tests) find them too. A widget cannot
    # name a stylesheet of its own, so the app loads the widgets' status colours.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        Path(__file__).parent / "app.tcss",
        Path(__file__).parent / "widgets" / "asset_graph.tcss",
        Path(__file__).parent / "widgets" / "asset_list.tcss",
    ]
    COMMANDS = App.COMMANDS | {FlowdevCommands}

    def __init__(
        self,
        project: Project,
        *,
        watch: bool = True,
        reread: Callable[[], Project] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``reread`` finds the project again when pyproject.toml is saved (see
        `flowdev.project.watch.watch_project`); without it the settings read at start hold."""
        super().__init__()
        self.project = project
        self._reread = reread
        self.watch_files = watch
        self.clock = clock
        self.snapshot: DefinitionsSnapshot | None = None
        self.statuses: dict[AssetKey, AssetStatus] = {}
        self.marked: frozenset[AssetKey] = frozenset()
        self.notice_keys: frozenset[AssetKey] = frozenset()
        self.load_error: LoadError | None = None
        self.storage_error: StorageError | None = None
        self.loaded_at: float | None = None
        self.load_ms: float | None = None
        self.selected_run_id: str | None = None
        self.runs: list[RunRecord] = []
        self.last_failure: EventRecord | None = None
        self._reload_requested = asyncio.Event()
        self._poll_problem: str | None = None
        self.stopped_by: signal.Signals | None = None
        """The signal that ended the app, if one did."""

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ProjectHeader(id="header", clock=self.clock)
        yield Static(id="load-error", classes="hidden")
        yield Static(id="storage-error", classes="hidden")
        with Horizontal(id="top"):
            yield AssetViews(id="views", clock=self.clock)
            yield AssetPanel(id="panel")
        yield SaveNotice(id="notice", classes="hidden")
        with Horizontal(id="bottom"):
            yield RunsTable(id="runs")
            yield LogPane(id="log-pane")
        yield Footer()

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def on_mount(self) -> None:
        self.panel.project_root = str(self.project.root)
        self.panel.clock = self.clock
        self.query_one(RunsTable).clock = self.clock
        self.header.project_name = self.project.name
        self.header.root = self.project.root
        self.query_one(AssetGraphView).focus()
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self._stop_on_signal, signum)
        self._watch()
        self._poll()

    def _stop_on_signal(self, signum: signal.Signals) -> None:
        """End now, asking nothing; the runs go on (see the module docstring)."""
        self.stopped_by = signum
        self.exit(return_code=128 + signum)

    @property
    def views(self) -> AssetViews:
        return self.query_one(AssetViews)

    @property
    def graph_view(self) -> AssetGraphView:
        return self.views.graph

    @property
    def header(self) -> ProjectHeader:
        return self.query_one(ProjectHeader)

    @property
    def notice(self) -> SaveNotice:
        return self.query_one(SaveNotice)

    @property
    def panel(self) -> AssetPanel:
        return self.query_one(AssetPanel)

    @property
    def log_pane(self) -> LogPane:
        return self.query_one(LogPane)

    @property
    def log_view(self) -> RunLogView:
        return self.log_pane.log_view

    @property
    def cursor(self) -> AssetKey | None:
        return self.graph_view.cursor

    # -- loading -------------------------------------------------------------------------

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def _watch(self) -> None:
        if not self.watch_files:
            from flowdev.project.loader import load_project

            loaded = await asyncio.to_thread(load_project, self.project)
            if isinstance(loaded, LoadError):
                self._load_failed(LoadFailed(loaded, (), 0.0))
            else:
                self._reloaded(Reloaded(loaded, (), loaded.load_seconds * 1000))
            return
        async for outcome in watch_project(
            self.project, reload=self._reload_requested, reread=self._reread
        ):
            if not self.is_running:
                return  # closing: the widgets are being removed
            if isinstance(outcome, Reloaded):
                self._reloaded(outcome)
            else:
                self._load_failed(outcome)

    def _reloaded(self, outcome: Reloaded) -> None:
        if outcome.project is not None:
            self.project = outcome.project  # pyproject.toml now names other definitions
            self.notify(f"now loading {outcome.project.target}", title="pyproject.toml")
        previous, previous_statuses = self.snapshot, self.statuses
        self.snapshot = outcome.snapshot
        self.load_error = None
        self.loaded_at = self.clock()
        self.load_ms = outcome.ms
        self.query_one("#load-error", Static).add_class("hidden")
        self.views.show(outcome.snapshot, self.statuses)
        self.marked = frozenset(k for k in self.marked if k in outcome.snapshot)
        self.graph_view.marked = self.marked
        if previous is not None:
            affected = self.notice.announce(previous, outcome.snapshot, previous_statuses)
            if affected is not None:
                self.notice_keys = self.graph_view.highlighted = affected
        self.header.snapshot, self.header.load_error = outcome.snapshot, None
        self.header.load_ms, self.header.loaded_at = outcome.ms, self.loaded_at
        self._show_cursor_asset()
        # The snapshot's objects live until the next reload: moving them out of the
        # collector's reach keeps its passes (30 ms at 10,000 assets) out of frames.
        gc.freeze()

    def _load_failed(self, outcome: LoadFailed) -> None:
        self.load_error = outcome.error
        panel = self.query_one("#load-error", Static)
        where = outcome.error.location(self.project.root) or ""
        kept = "the graph shows the last good definitions" if self.snapshot else "nothing loaded"
        panel.update(
            f"[b]load failed[/b] {where}\n{outcome.error.describe(self.project.root)}\n"
            f"[dim]{kept} · esc dismisses · fix and save to reload[/dim]"
        )
        panel.remove_class("hidden")
        self.header.load_error = outcome.error

    # -- polling -------------------------------------------------------------------------

    @work(exclusive=True, group="poll", thread=True, exit_on_error=False)
    def _poll(self) -> None:
        worker = get_current_worker()
        poller = InstancePoller(self.project.home)
        try:
            while not worker.is_cancelled:
                try:
                    result: PollResult | StorageError = poller.poll(
                        self.snapshot, self.selected_run_id
                    )
                except StorageError as error:
                    result = error  # shown in a panel; the next round tries again
                try:
                    self.call_from_thread(self._apply_poll, result)
                except RuntimeError:
                    break  # the app is closing
                time.sleep(POLL_SECONDS)
        finally:
            poller.close()

    def _apply_poll(self, result: PollResult | StorageError) -> None:
        if not self.is_running:
            return  # delivered from the poller's thread while the app closes
        if isinstance(result, StorageError) or self.storage_error is not None:
            self.show_storage_error(result if isinstance(result, StorageError) else None)
        if isinstance(result, StorageError):
            return
        if result.problem != self._poll_problem:
            self._poll_problem = result.problem  # said once, not four times a second
            if result.problem is not None:
                self.notify(result.problem, severity="error", timeout=10, markup=False)
        if result.statuses is not None:
            self.statuses = result.statuses
            self.views.show(self.snapshot, result.statuses)
            self._show_cursor_asset(history=False)
            self.header.statuses = result.statuses
        runs_table = self.query_one(RunsTable)
        self.runs = result.runs
        runs_table.usage = result.usage
        runs_table.runs = result.runs
        if self.selected_run_id is None and result.runs:
            self.selected_run_id = result.runs[0].run_id
        if result.log_reset:
            self.log_view.clear()
        if result.log_lines and result.log_run_id == self.selected_run_id:
            self.log_view.append(result.log_lines)
        self.log_pane.run = next((r for r in self.runs if r.run_id == self.selected_run_id), None)
        for failure in result.failures:
            self._failure_first(failure)
        for run in result.finished_runs:
            if run.status.value != "success":
                self.notify(f"run {run.run_id[:8]} {run.status.value}", severity="error")
        if result.finished_runs:
            self._show_cursor_asset()

    def show_storage_error(self, error: StorageError | None) -> None:
        """Show the instance's failure in its panel (None: it reads again, hide it)."""
        self.storage_error = error
        panel = self.query_one("#storage-error", Static)
        if error is None:
            panel.add_class("hidden")
            return
        panel.update(
            f"[b]the instance cannot be used[/b]\n{escape(str(error))}\n"
            "[dim]flowdev tries again every moment and carries on once it can[/dim]"
        )
        panel.remove_class("hidden")

    def _failure_first(self, failure: EventRecord) -> None:
        """Open the log on a failed step: its run, filtered to the error."""
        self.last_failure = failure
        self._select_run(failure.run_id)
        self.log_view.search = failure.message.split(":")[0]

    # -- the asset under the cursor ------------------------------------------------------

    @on(AssetGraphView.CursorMoved)
    def _cursor_moved(self) -> None:
        self._show_cursor_asset()

    def _show_cursor_asset(self, history: bool = True) -> None:
        key = self.cursor
        panel = self.panel
        if key is None or self.snapshot is None or key not in self.snapshot:
            panel.asset = None
            panel.status = None
            return
        panel.asset = self.snapshot.get(key)
        panel.children_keys = [
            child.to_user_string() for child in self.snapshot.asset_graph.children(key)
        ]
        panel.status = self.statuses.get(key)
        if history:
            self._load_history(key)

    @work(exclusive=True, group="history", thread=True, exit_on_error=False)
    @storage_failure_shown
    def _load_history(self, key: AssetKey) -> None:
        from flowdev.instance.storage import Storage

        with Storage(self.project.home) as storage:
            records = storage.materializations(key.to_user_string(), limit=30)
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self._set_history, key, records)

    def _set_history(self, key: AssetKey, records: list) -> None:
        if key == self.cursor:
            self.panel.history = records

    @on(AssetGraphView.MarkToggled)
    def _mark_toggled(self, event: AssetGraphView.MarkToggled) -> None:
        self.marked = self.marked ^ {event.key}
        self.graph_view.marked = self.marked

    @on(RunsTable.RunSelected)
    def _run_selected(self, event: RunsTable.RunSelected) -> None:
        self._select_run(event.run_id)

    def _select_run(self, run_id: str) -> None:
        """Show ``run_id``'s log, and keep the runs table's cursor on it."""
        self.query_one(RunsTable).selected = run_id
        if run_id != self.selected_run_id:
            self.selected_run_id = run_id
            self.log_view.clear()

    # -- running -------------------------------------------------------------------------

    def action_materialize(self, scope: str) -> None:
        """Materialize the cursor asset or the marked set, with ``scope`` around it."""
        if self.snapshot is None:
            self.notify("no definitions loaded yet", severity="warning")
            return
        request = run_control.assets_to_run(
            scope, self.snapshot, self.statuses, self.marked, self.cursor
        )
        self._launch(request)

    def _launch(self, request: run_control.RunRequest | str) -> None:
        if self._refused_while_broken():
            return
        if isinstance(request, str):
            self.notify(request, severity="warning")
        elif self.snapshot is not None:
            self._launch_in_thread(request, self.snapshot)

    def _refused_while_broken(self) -> bool:
        """Say so and refuse while the definitions do not load: the run's worker would
        load the same broken code and fail at once."""
        if self.load_error is None:
            return False
        where = self.load_error.location(self.project.root) or str(self.project.root)
        self.notify(
            f"not started: the definitions do not load ({where}: "
            f"{self.load_error.exception_type}); fix it and save, then run again",
            severity="error",
            markup=False,
        )
        return True

    @work(thread=True, group="launch", exit_on_error=False)
    @storage_failure_shown
    def _launch_in_thread(
        self, request: run_control.RunRequest, snapshot: DefinitionsSnapshot
    ) -> None:
        try:
            run = run_control.launch(self.project, request, snapshot)
        except ConfigError as error:
            self.call_from_thread(self.notify, str(error), severity="error", markup=False)
            return
        self.call_from_thread(self._launched_run, run)

    def _launched_run(self, run: RunRecord) -> None:
        self._select_run(run.run_id)
        self.notify(f"run {run.run_id[:8]}: {len(run.asset_keys)} assets")

    def action_enter(self) -> None:
        """On the save notice: run exactly what the save changed; else focus the panel."""
        if not self.notice_keys or self.snapshot is None:
            self.panel.focus()
            return
        label = "changed by the last save"
        self._launch(run_control.runnable(self.snapshot, set(self.notice_keys), label))
        self.action_dismiss()

    @on(RunsTable.CancelRequested)
    def _cancel_requested(self, event: RunsTable.CancelRequested) -> None:
        self._cancel(event.run_id)

    @work(thread=True, group="cancel", exit_on_error=False)
    @storage_failure_shown
    def _cancel(self, run_id: str) -> None:
        (run,) = run_control.cancel(self.project, [run_id])
        self.call_from_thread(self.notify, f"run {run.run_id[:8]} {run.status.value}")

    @on(RunsTable.ReexecuteRequested)
    def _reexecute_requested(self, event: RunsTable.ReexecuteRequested) -> None:
        if not self._refused_while_broken():
            self._reexecute(event.run_id, self.snapshot)

    @work(thread=True, group="launch", exit_on_error=False)
    @storage_failure_shown
    def _reexecute(self, run_id: str, snapshot: DefinitionsSnapshot | None) -> None:
        try:
            parent, keys = run_control.failed_part(self.project, run_id)
        except FlowdevError as error:
            self.call_from_thread(self.notify, str(error), severity="warning")
            return
        try:
            run = run_control.reexecute(self.project, parent, keys, snapshot)
        except FlowdevError as error:  # its config no longer fits the definitions
            self.call_from_thread(self.notify, str(error), severity="error", markup=False)
            return
        self.call_from_thread(self._launched_run, run)

    # -- other actions -------------------------------------------------------------------

    def action_select(self) -> None:
        """Type a selection query to mark or to run."""
        if self.snapshot is None:
            return

        def chosen(choice: SelectionChoice | None) -> None:
            if choice is None:
                return
            if choice.action == "run" and self.snapshot is not None:
                self._launch(run_control.runnable(self.snapshot, set(choice.keys), choice.query))
            else:
                self.marked = choice.keys
                self.graph_view.marked = self.marked

        self.push_screen(SelectionScreen(self.snapshot.asset_graph), chosen)

    def action_toggle_view(self) -> None:
        """Switch between the graph and the sortable list."""
        self.views.toggle()

    def action_reload(self) -> None:
        """Load the definitions again now."""
        self._reload_requested.set()
        if not self.watch_files:
            self._watch()

    def action_focus_logs(self) -> None:
        """Go to the log pane."""
        self.log_view.focus()

    def action_follow(self) -> None:
        """Follow the newest log line, or stop following."""
        self.log_pane.toggle_follow()

    def action_filter_log(self) -> None:
        """Show only the cursor asset's step in the log; again to show every step."""
        asset = None
        if self.cursor is not None and self.snapshot is not None and self.cursor in self.snapshot:
            asset = self.snapshot.get(self.cursor)
        self.log_pane.toggle_step(asset.op_name if asset is not None else None)

    def on_resize(self) -> None:
        # Below 100 columns the panel and the runs pane give way to the graph and the log.
        self.screen.set_class(self.size.width < 100, "narrow")

    def action_search_log(self) -> None:
        """Search the log (incremental: matches highlight as you type)."""
        self.log_pane.search()

    def action_dismiss(self) -> None:
        """Hide the load error and the save notice."""
        self.query_one("#load-error", Static).add_class("hidden")
        self.notice.dismiss()
        self.notice_keys = frozenset()
        self.graph_view.highlighted = frozenset()

    def action_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen(bound_keys(self.screen)))

    def action_edit(self) -> None:
        """Open the source in $EDITOR: the failure's line from the log, else the asset's."""
        target = None
        if self.focused is self.log_view and self.last_failure is not None:
            data = self.last_failure.data
            if data.get("file") and data.get("line"):
                target = (str(data["file"]), int(data["line"]))
        if target is None and self.cursor is not None and self.snapshot is not None:
            asset = self.snapshot.get(self.cursor)
            if asset.source_file:
                target = (asset.source_file, asset.source_line or 1)
        if target is None:
            self.notify("no source to open here", severity="warning")
            return
        open_in_editor(self, *target)

    async def action_quit(self) -> None:
        """ctrl+q (Textual's own quit) asks about active runs too."""
        self.action_quit_app()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's palette commands, but its "Quit the application as soon as
        possible": the palette's own Quit asks about active runs first."""
        for command in super().get_system_commands(screen):
            if command.callback != self.action_quit:
                yield command

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that raised: say what failed; the app goes on."""
        if event.state is not WorkerState.ERROR or not self.is_running:
            return
        title, message = failure_note(event.worker)
        if event.worker.group == "poll":
            # Polling goes on after a pause; the same failure is said once.
            self.set_timer(POLL_RETRY_SECONDS, self._poll)
            if message == self._poll_problem:
                return
            self._poll_problem = message
        self.notify(message, title=title, severity="error", timeout=10, markup=False)

    def action_quit_app(self) -> None:
        """Quit; with runs going, ask whether to cancel them, leave them, or stay."""
        active = [run for run in self.runs if run.status.is_active]
        if not active:
            self.exit()
            return

        def chosen(choice: QuitChoice | None) -> None:
            if choice == "cancel":
                self._cancel_all_and_exit([run.run_id for run in active])
            elif choice == "leave":
                self.exit()

        self.push_screen(QuitScreen(len(active)), chosen)

    @work(thread=True, group="cancel", exit_on_error=False)
    def _cancel_all_and_exit(self, run_ids: list[str]) -> None:
        run_control.cancel(self.project, run_ids)
        self.call_from_thread(self.exit)

    def jump_to(self, key: AssetKey) -> None:
        """Put the cursor on ``key`` (the command palette's asset search)."""
        self.graph_view.cursor = key
        self.graph_view.focus()


def run_app(project: Project, reread: Callable[[], Project] | None = None) -> None:
    """Run the app on ``project`` until the user quits; ``reread`` finds the project
    again when its pyproject.toml is saved.

    Raises:
        SystemExit: with 128 + the signal's number, when SIGTERM or SIGHUP ended it.
    """
    app = FlowdevApp(project, reread=reread)
    app.run()
    if app.stopped_by is not None:
        raise SystemExit(128 + app.stopped_by)


__all__ = ["FlowdevApp", "run_app"]
