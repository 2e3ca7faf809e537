"""A step process of the multiprocess executor: executes the steps it is sent, one at a time.

The executor starts one with `serve` as its target, forked from the warm worker (the
run's definitions and every import already in memory) or, where fork is not safe, with
spawn (a fresh interpreter that loads the project from the `RunSpec`). It then sends it
steps over a pipe, as data (``(step key, asset keys)``), and the process answers with
the step's events and a last ``("done", step key, succeeded)``. It keeps its resources
set up from its first step to its last, and tears them down when told to stop.

The process's stdout and stderr go to a file of its own under the run's log directory
(file descriptors 1 and 2 point at it), and each event says which file and how long it
was then (``log_stream``, ``log_offset``). A process runs one step at a time, so the run's
log still shows exactly which step printed what, with several steps printing at once;
and a run creates one file per process, not one per step (a file costs ~0.2 ms).

SIGTERM (the run is canceled) raises `StepInterrupted` in the step, so that its
``finally`` blocks and the resources' teardown run before the process exits.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from flowdev.events import RunEvent
from flowdev.execution.environment import definitions_for, open_environment
from flowdev.execution.executor import RunControl, RunSpec
from flowdev.execution.plan import Step
from flowdev.execution.step_runner import StepRunner

STEP_LOGS = "steps"
CANCEL = "cancel"  # what the executor sends a busy step process on a cancel


class StepInterrupted(BaseException):
    """Raised in a step process by SIGTERM: a BaseException, so no retry catches it."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process
    raise StepInterrupted


def serve(connection: Connection, spec: RunSpec) -> None:
    """The step process's main loop (the target the executor starts)."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the launcher
    try:
        _serve(connection, spec)
    except StepInterrupted:
        pass
    except BaseException:
        # Setting up failed (the project does not load, a resource raised): the executor
        # fails the step it sent with this.
        connection.send(("broken", traceback.format_exc()))
    finally:
        _flush()
        connection.close()


def _serve(connection: Connection, spec: RunSpec) -> None:
    request = connection.recv()
    if request in (None, CANCEL):
        return
    defs = definitions_for(spec)
    logs = _ProcessLog(spec.log_dir)
    canceled = False

    def send(event: RunEvent) -> None:
        connection.send(("event", logs.place(event)))

    def wait_or_cancel(seconds: float) -> None:
        # A retry's wait: the executor's cancel message ends it (even when the step's
        # code took SIGTERM away), and the step is not attempted again.
        nonlocal canceled
        if connection.poll(seconds) and connection.recv() == CANCEL:
            canceled = True

    control = RunControl(should_stop=lambda: canceled, sleep=wait_or_cancel)
    with open_environment(spec, defs, control) as env:
        runner = StepRunner(env, send)
        while request not in (None, CANCEL):
            step_key, keys = request
            step = Step(
                key=step_key,
                assets_def=defs.get_assets_def(keys[0]),
                asset_keys=keys,
                upstream_steps=(),
            )
            succeeded = runner.run_step(step)
            _flush()
            connection.send(("done", step_key, succeeded))
            request = connection.recv()


class _ProcessLog:
    """Points file descriptors 1 and 2 at this process's own log file."""

    def __init__(self, log_dir: str | None) -> None:
        self.stream: str | None = None
        if log_dir is None:
            return  # no run log (definitions in memory): output goes where the worker's does
        os.makedirs(os.path.join(log_dir, STEP_LOGS), exist_ok=True)
        _flush()
        self.stream = f"{STEP_LOGS}/{os.getpid()}.log"
        path = os.path.join(log_dir, self.stream)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)

    def place(self, event: RunEvent) -> RunEvent:
        """``event`` with where the step's output stood when it happened."""
        if self.stream is None:
            return event
        _flush()
        data: dict[str, Any] = {
            **event.data,
            "log_stream": self.stream,
            "log_offset": os.fstat(1).st_size,
        }
        return RunEvent(
            run_id=event.run_id,
            kind=event.kind,
            timestamp=event.timestamp,
            step_key=event.step_key,
            asset_key=event.asset_key,
            level=event.level,
            message=event.message,
            data=data,
        )


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 (per event: contextlib.suppress costs more than the flush)
            stream.flush()
        except (OSError, ValueError):
            pass
