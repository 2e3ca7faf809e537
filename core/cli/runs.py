"""The run commands of the CLI: materialize, runs, logs, cancel, reexecute.

They launch and watch worker processes through `flowdev.runs.launcher` and read what the
workers wrote through `flowdev.instance.storage`; nothing here executes user code.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
from flowdev.events import EventKind
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.runlog import LogLine, RunLogTail
from flowdev.instance.storage import Storage
from flowdev.project.project import Project
from flowdev.runs.launcher import cancel_run, launch_run, reconcile_runs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from flowdev.project.snapshot import DefinitionsSnapshot

RunIdArgument = Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")]
_POLL_SECONDS = 0.05
_RECONCILE_SECONDS = 0.5
_STATUS_STYLE = {
    "success": "green",
    "failure": "red",
    "canceled": "yellow",
    "canceling": "yellow",
    "started": "cyan",
    "starting": "cyan",
    "queued": "dim",
}


def open_storage(project: Project) -> Storage:
    """The project's instance, with vanished workers' runs already marked failed."""
    storage = Storage(project.home)
    reconcile_runs(storage)
    return storage


def materialize_and_watch(
    storage: Storage,
    project: Project,
    asset_keys: list[str],
    *,
    selection: str,
    run_config: dict[str, Any],
    as_json: bool,
    parent: RunRecord | None = None,
    code_fingerprint: str | None = None,
    definitions: DefinitionsSnapshot | None = None,
) -> int:
    """Launch a run, stream it to the terminal, and return the exit code (0 or 1).

    Raises:
        ConfigError: the run config does not fit ``definitions``; nothing was launched.
    """
    run = launch_run(
        storage,
        project,
        asset_keys,
        selection=selection,
        run_config=run_config,
        parent_run_id=parent.run_id if parent else None,
        root_run_id=(parent.root_run_id or parent.run_id) if parent else None,
        code_fingerprint=code_fingerprint,
        definitions=definitions,
    )
    printer = None if as_json else _LivePrinter(run, len(asset_keys))
    tail = RunLogTail(storage, run.run_id)
    try:
        with _signal_interrupts(signal.SIGTERM):
            run = _follow(storage, tail, printer.show if printer else None)
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, _Terminated):
            note = "SIGTERM received: canceling the run (signals are ignored until it stops)..."
        else:
            note = "canceling the run (Ctrl-C again is ignored until it stops)..."
        if printer:
            printer.note(note)
        else:
            typer.echo(note, err=True)
        with _signals_ignored(signal.SIGINT, signal.SIGTERM):
            cancel_run(storage, run.run_id)
            run = _follow(storage, tail, printer.show if printer else None)
    finally:
        if printer:
            printer.close()
    if as_json:
        typer.echo(json.dumps({"run": run.to_json(), "assets": _asset_outcomes(storage, run)}))
    elif printer:
        printer.summary(storage.get_run(run.run_id))
    return 0 if run.status is RunStatus.SUCCESS else 1


class _Terminated(KeyboardInterrupt):
    """SIGTERM (CI canceling a job, `timeout`, `docker stop`): handled as Ctrl-C is."""


@contextmanager
def _signal_interrupts(signum: signal.Signals) -> Iterator[None]:
    def interrupt(received: int, frame: FrameType | None) -> None:
        raise _Terminated(signal.Signals(received).name)

    with _handling(signum, interrupt):
        yield


@contextmanager
def _signals_ignored(*signums: signal.Signals) -> Iterator[None]:
    with ExitStack() as stack:
        for signum in signums:
            stack.enter_context(_handling(signum, signal.SIG_IGN))
        yield


@contextmanager
def _handling(signum: signal.Signals, handler: Any) -> Iterator[None]:
    # Handlers can only be set from the main thread (an embedding app may call from another).
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def _follow(
    storage: Storage, tail: RunLogTail, show: Callable[[list[LogLine]], None] | None
) -> RunRecord:
    last_reconcile = time.monotonic()
    while True:
        lines = tail.poll()
        if show and lines:
            show(lines)
        if tail.ended:
            return storage.get_run(tail.run_id)
        if time.monotonic() - last_reconcile > _RECONCILE_SECONDS:
            reconcile_runs(storage)
            last_reconcile = time.monotonic()
            run = storage.get_run(tail.run_id)
            if not run.status.is_active:
                # Ended without its worker's last events (it was killed): drain and stop.
                if show:
                    show(tail.poll())
                return run
        time.sleep(_POLL_SECONDS)


def _asset_outcomes(storage: Storage, run: RunRecord) -> list[dict[str, Any]]:
    outcome = {key: "not_run" for key in run.asset_keys}
    for event in storage.events_after(0, run_id=run.run_id):
        if event.kind is EventKind.ASSET_MATERIALIZATION and event.asset_key:
            outcome[event.asset_key] = "materialized"
        elif event.kind in (
            EventKind.STEP_FAILURE,
            EventKind.STEP_SKIPPED,
            EventKind.STEP_CANCELED,
        ):
            label = {
                EventKind.STEP_FAILURE: "failed",
                EventKind.STEP_SKIPPED: "skipped",
                EventKind.STEP_CANCELED: "canceled",
            }[event.kind]
            for key in event.data.get("asset_keys", ()):
                outcome[key] = label
    return [{"key": key, "outcome": value} for key, value in outcome.items()]


class _LivePrinter:
    """Per-asset lines and compute output above a progress bar (a bar only on a TTY)."""

    def __init__(self, run: RunRecord, total: int) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=True)
        self.progress: Any = None
        self.done = 0
        self.failed = 0
        self.console.print(
            f"run [bold]{run.run_id[:8]}[/] · {total} asset{'s' * (total != 1)} · "
            f"selection {run.selection!r}"
        )
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.task = self.progress.add_task("materializing", total=total)
            self.progress.start()

    def show(self, lines: list[LogLine]) -> None:
        for line in lines:
            self._print(line)
            if line.event is not None and line.event.kind in (
                EventKind.ASSET_MATERIALIZATION,
                EventKind.STEP_FAILURE,
                EventKind.STEP_SKIPPED,
            ):
                count = (
                    1
                    if line.event.kind is EventKind.ASSET_MATERIALIZATION
                    else len(line.event.data.get("asset_keys", ()))
                )
                if self.progress is not None:
                    self.progress.advance(self.task, count)

    def _print(self, line: LogLine) -> None:
        from rich.markup import escape

        event = line.event
        clock = time.strftime("%H:%M:%S", time.localtime(line.timestamp))
        if event is None:
            self.console.print(f"[dim]{clock}   │[/] {escape(line.text)}")
            return
        kind = event.kind
        if kind is EventKind.ASSET_MATERIALIZATION:
            duration = event.data.get("duration")
            took = f" [dim]{duration:.2f}s[/]" if isinstance(duration, float) else ""
            self.console.print(f"[dim]{clock}[/] [green]✓[/] {escape(event.asset_key or '')}{took}")
        elif kind is EventKind.STEP_FAILURE:
            self.console.print(f"[dim]{clock}[/] [red]✗ {escape(line.text)}[/]")
        elif kind is EventKind.STEP_SKIPPED:
            self.console.print(f"[dim]{clock}[/] [yellow]↷ {escape(line.text)}[/]")
        elif kind is EventKind.STEP_UP_FOR_RETRY:
            self.console.print(f"[dim]{clock}[/] [yellow]↻ {escape(line.text)}[/]")
        elif kind is EventKind.ASSET_CHECK_EVALUATION:
            mark = "[green]✓[/]" if event.data.get("passed") else "[red]✗[/]"
            self.console.print(f"[dim]{clock}[/] {mark} {escape(line.text)}")
        elif kind is EventKind.LOG:
            style = {"ERROR": "red", "WARNING": "yellow", "DEBUG": "dim"}.get(line.level, "")
            text = escape(f"{event.step_key}: {line.text}")
            self.console.print(
                f"[dim]{clock}   │[/] [{style}]{text}[/]"
                if style
                else f"[dim]{clock}   │[/] {text}"
            )
        elif kind in (EventKind.RUN_FAILURE, EventKind.RUN_CANCELED):
            self.console.print(f"[dim]{clock}[/] [red]{escape(line.text)}[/]")

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/]")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def summary(self, run: RunRecord) -> None:
        style = _STATUS_STYLE.get(run.status.value, "")
        took = f" in {run.duration:.2f}s" if run.duration is not None else ""
        error = f": {run.error}" if run.error and run.status is not RunStatus.SUCCESS else ""
        self.console.print(
            f"run {run.run_id[:8]} [{style}]{run.status.value}[/]{took}{error}",
            markup=True,
        )


def print_log_lines(lines: list[LogLine]) -> None:
    """Plain text, one line per event or output line (for ``flowdev logs``)."""
    for line in lines:
        clock = time.strftime("%H:%M:%S", time.localtime(line.timestamp))
        step = line.step_key or "-"
        if line.is_output:
            typer.echo(f"{clock} {step} | {line.text}")
        else:
            for number, text in enumerate(line.text.splitlines() or [""]):
                prefix = f"{clock} {step} {line.level:<7} " if number == 0 else "    "
                typer.echo(f"{prefix}{text}")


def follow_log(storage: Storage, run_id: str, follow: bool) -> RunRecord:
    """Print a run's log; with ``follow``, keep printing until the run ends."""
    run = storage.get_run(run_id)
    tail = RunLogTail(storage, run.run_id)
    print_log_lines(tail.poll())
    if follow and run.status.is_active:
        run = _follow(storage, tail, print_log_lines)
    return storage.get_run(run.run_id)


def format_runs_table(runs: list[RunRecord]) -> list[list[str]]:
    """Rows for ``flowdev runs``."""
    rows = []
    now = time.time()
    for run in runs:
        started = run.start_time or run.create_time
        rows.append(
            [
                run.run_id[:8],
                run.status.value,
                run.selection if len(run.selection) <= 40 else run.selection[:39] + "…",
                f"{len(run.asset_keys)}",
                ago(now - started),
                "" if run.duration is None else f"{run.duration:.1f}s",
                str(run.pid) if run.pid and run.status.is_active else "",
                run.parent_run_id[:8] if run.parent_run_id else "",
            ]
        )
    return rows


def ago(seconds: float) -> str:
    """``"3m ago"``: a duration in its largest whole unit."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
