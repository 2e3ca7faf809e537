"""Following a run from the terminal: launch it, stream its log, cancel it on Ctrl-C or
SIGTERM, and print how it ended."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer
from flowdev.cli.runs import LivePrinter, asset_outcomes, print_log_lines
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.runlog import LogLine, RunLogTail
from flowdev.instance.storage import Storage
from flowdev.project.project import Project
from flowdev.runs.launcher import cancel_run, launch_run, reconcile_runs

if TYPE_CHECKING:
    from flowdev.project.snapshot import DefinitionsSnapshot

_POLL_SECONDS = 0.05
_RECONCILE_SECONDS = 0.5


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
    printer = None if as_json else LivePrinter(run, len(asset_keys))
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
        typer.echo(json.dumps({"run": run.to_json(), "assets": asset_outcomes(storage, run)}))
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


def follow_log(storage: Storage, run_id: str, follow: bool) -> RunRecord:
    """Print a run's log; with ``follow``, keep printing until the run ends."""
    run = storage.get_run(run_id)
    tail = RunLogTail(storage, run.run_id)
    print_log_lines(tail.poll())
    if follow and run.status.is_active:
        run = _follow(storage, tail, print_log_lines)
    return storage.get_run(run.run_id)
