"""How the CLI shows runs: a live per-asset log above a progress bar, plain log lines,
the runs table, and each asset's outcome for ``--json``."""

from __future__ import annotations

import time
from typing import Any

import typer
from flowdev.durations import ago
from flowdev.events import EventKind
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.runlog import LogLine
from flowdev.instance.storage import Storage

_STATUS_STYLE = {
    "success": "green",
    "failure": "red",
    "canceled": "yellow",
    "canceling": "yellow",
    "started": "cyan",
    "starting": "cyan",
    "queued": "dim",
}


def asset_outcomes(storage: Storage, run: RunRecord) -> list[dict[str, Any]]:
    """Each of the run's assets and what became of it: materialized, failed, skipped,
    canceled or not_run."""
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


class LivePrinter:
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
            # Several steps may print at once: each line says whose it is.
            step = f"[dim]{escape(line.step_key)}:[/] " if line.step_key else ""
            self.console.print(f"[dim]{clock}   │[/] {step}{escape(line.text)}")
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
            text = escape(f"{event.step_key}: {line.text}" if event.step_key else line.text)
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
