"""`multiprocess_executor`, the default: independent steps at once, in step processes.

The executor keeps up to ``max_concurrent`` step processes (`flowdev.execution.step_process`)
and hands each a ready step as soon as one is free, so a step pays neither an
interpreter's start nor its imports: the processes are forked from the warm worker, and
live for the whole run (each sets its resources up once). Where fork is not available,
or the config asks for ``{"start_method": {"spawn": {}}}``, they start as fresh
interpreters that load the project themselves; everything else is the same.

Events reach the run in order per step, each marked with the step's own output file. A
failed step skips only its downstream; a step whose process dies (killed, a segfault,
out of memory) fails with how the process ended, and a new process takes the next step.
On cancel every step process gets SIGTERM (its step raises, its ``finally`` blocks and
resources' teardown run), and those still there after a grace period are killed.

Values cross processes only through IO managers, so an `InMemoryIOManager` is refused
before the run starts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import selectors
import signal
import time
import warnings
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from flowdev.defs.definitions import Definitions
from flowdev.defs.executors import default_max_concurrent
from flowdev.errors import ExecutionError
from flowdev.events import EventKind, RunEvent
from flowdev.execution.environment import bound_resources
from flowdev.execution.executor import (
    Emit,
    ExecutionOutcome,
    Executor,
    RunControl,
    RunSpec,
    emit_all,
)
from flowdev.execution.plan import ExecutionPlan, Step
from flowdev.execution.scheduling import CANCELED, StepQueue, skip_event
from flowdev.execution.step_process import CANCEL, serve
from flowdev.resources.io import InMemoryIOManager

STOP_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.2  # how often a wait for events also looks for a cancel


class MultiprocessExecutor(Executor):
    """Runs independent steps of a plan at once, each in a step process."""

    @property
    def max_concurrent(self) -> int:
        """Steps in flight at once (config ``max_concurrent``; 0 or unset: one per CPU)."""
        return self.config.get("max_concurrent") or default_max_concurrent()

    @property
    def start_method(self) -> str:
        """``fork`` (from the warm worker) or ``spawn`` (fresh interpreters)."""
        (method,) = self.config.get("start_method") or {"fork": {}}
        if method == "spawn" or "fork" not in multiprocessing.get_all_start_methods():
            return "spawn"
        return "fork"

    def describe(self) -> str:
        """For the run's log."""
        how = "forked from the worker" if self.start_method == "fork" else "spawned"
        return (
            f"the multiprocess executor: up to {self.max_concurrent} at once, "
            f"in step processes {how}"
        )

    def check(self, plan: ExecutionPlan, defs: Definitions, run: RunSpec) -> None:
        """Refuse a plan whose values could not cross from one step process to another.

        Raises:
            ExecutionError: a step stores or loads a value with an `InMemoryIOManager`.
        """
        refuse_in_memory_values(plan, defs, run, "the multiprocess executor")

    def execute(
        self,
        plan: ExecutionPlan,
        run: RunSpec,
        defs: Definitions,
        emit: Emit,
        control: RunControl | None = None,
    ) -> ExecutionOutcome:
        """Execute ``plan`` in step processes, calling ``emit`` with each event."""
        control = control or RunControl()
        self.check(plan, defs, run)
        queue = StepQueue(
            plan,
            max_concurrent=self.max_concurrent,
            tag_limits=self.config.get("tag_concurrency_limits") or (),
        )
        processes = _StepProcesses(run, emit, self.start_method)
        canceled = False
        try:
            while not queue.done:
                if control.should_stop():
                    canceled = True
                    break
                while (step := queue.next_ready()) is not None:
                    processes.start(step)
                if not queue.in_flight:
                    raise ExecutionError("no step of the plan can start (a dependency cycle?)")
                for step_key, succeeded in processes.wait(_POLL_SECONDS):
                    queue.finish(step_key, succeeded)
                for skip in queue.take_skips():
                    emit(skip_event(run.run_id, skip))
        finally:
            processes.close(terminate=not queue.done or canceled)
        if canceled:
            for skip in queue.skip_rest(CANCELED):
                emit(skip_event(run.run_id, skip))
        return ExecutionOutcome(success=not queue.failed, values={}, errors=processes.errors)


def refuse_in_memory_values(
    plan: ExecutionPlan, defs: Definitions, run: RunSpec, executor: str
) -> None:
    """Raise if a step of ``plan`` passes a value through an `InMemoryIOManager`, which
    keeps values in one process (``executor`` runs steps in several)."""
    bound = bound_resources(defs, run.storage_dir)
    for step in plan.steps:
        assets_def = step.assets_def
        used = [*assets_def.io_manager_keys, *assets_def.input_manager_keys.values()]
        for manager_key in used:
            if isinstance(bound.get(manager_key), InMemoryIOManager):
                raise ExecutionError(
                    f"step {step.key!r} passes values through the InMemoryIOManager bound to "
                    f"{manager_key!r}, which keeps them in one process's memory; {executor} "
                    "runs steps in separate processes, so the next step would find nothing. "
                    "Bind a FilesystemIOManager (on a path every process can reach), or run "
                    "with in_process_executor."
                )


class _StepProcess:
    """One step process, the pipe to it, and the step it is running."""

    def __init__(self, process: BaseProcess, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.step: Step | None = None


class _StepProcesses:
    """The run's step processes: started on demand, reused, stopped at the end."""

    def __init__(self, run: RunSpec, emit: Emit, start_method: str) -> None:
        self.run = run
        self.emit = emit
        self.context: Any = multiprocessing.get_context(start_method)
        self.idle: list[_StepProcess] = []
        self.busy: dict[Connection, _StepProcess] = {}
        self.errors: dict[str, BaseException] = {}
        self.arrived: list[RunEvent] = []  # relayed at the end of each wait, together
        # Every process's pipe and sentinel, registered once: building a selector per
        # wait (as `multiprocessing.connection.wait` does) costs more than a step.
        self.selector = selectors.DefaultSelector()

    def start(self, step: Step) -> None:
        """Send ``step`` to an idle process, or to a new one."""
        worker = self.idle.pop() if self.idle else self._new_process()
        worker.step = step
        self.busy[worker.connection] = worker
        with contextlib.suppress(OSError):  # it died while idle: `wait` sees its death
            worker.connection.send((step.key, step.asset_keys))

    def _new_process(self) -> _StepProcess:
        ours, theirs = self.context.Pipe()
        # Not a daemon: multiprocessing forbids daemons children, and a step's code may
        # start processes of its own. `close` ends every step process.
        process = self.context.Process(target=serve, args=(theirs, self.run), name="flowdev-step")
        with warnings.catch_warnings():
            # Python warns about fork in a process with threads. The worker's other
            # threads (watchdog, reapers) hold no lock a step process takes: it never
            # touches storage, and logging re-creates its locks after a fork.
            warnings.simplefilter("ignore", DeprecationWarning)
            process.start()
        theirs.close()
        worker = _StepProcess(process, ours)
        self.selector.register(ours, selectors.EVENT_READ, worker)
        self.selector.register(process.sentinel, selectors.EVENT_READ, worker)
        return worker

    def wait(self, timeout: float) -> list[tuple[str, bool]]:
        """Relay the events that arrive within ``timeout``; return the steps that ended."""
        if not self.busy:
            return []
        finished: list[tuple[str, bool]] = []
        ready = {id(key.data): key.data for key, _ in self.selector.select(timeout)}
        for worker in ready.values():
            if worker.step is None:  # an idle process: readable only once it is gone
                if not worker.process.is_alive():
                    self._forget(worker)
                    self.idle.remove(worker)
                continue
            ended = self._drain(worker)
            if ended is not None:
                finished.append(ended)
        arrived, self.arrived = self.arrived, []
        emit_all(self.emit, arrived)
        return finished

    def _forget(self, worker: _StepProcess) -> None:
        """Stop watching ``worker`` (gone, or being stopped) and close its pipe."""
        for fileobj in (worker.connection, worker.process.sentinel):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fileobj)
        worker.process.join()
        worker.connection.close()

    def _drain(self, worker: _StepProcess) -> tuple[str, bool] | None:
        """Relay what ``worker`` sent; the step that ended, if it did."""
        connection = worker.connection
        try:
            while connection.poll():
                message = connection.recv()
                if message[0] == "event":
                    self.arrived.append(message[1])
                elif message[0] == "done":
                    _, step_key, succeeded = message
                    del self.busy[connection]
                    worker.step = None
                    self.idle.append(worker)
                    if not succeeded:
                        self.errors[step_key] = ExecutionError(f"{step_key} failed")
                    return step_key, succeeded
                else:  # "broken": it could not set up; it exits
                    return self._lost(worker, f"its process could not start:\n{message[1]}")
        except (EOFError, OSError):
            pass
        if worker.process.is_alive():
            return None
        worker.process.join()
        return self._lost(worker, f"its process {_ended(worker.process.exitcode)}")

    def _lost(self, worker: _StepProcess, reason: str) -> tuple[str, bool]:
        """Fail the step ``worker`` was running: its process is gone."""
        self.busy.pop(worker.connection, None)
        step = worker.step
        worker.step = None
        self._forget(worker)
        assert step is not None
        error = ExecutionError(f"{step.key} failed: {reason}")
        self.errors[step.key] = error
        first_line, _, detail = reason.partition("\n")
        self.arrived.append(
            RunEvent(
                run_id=self.run.run_id,
                kind=EventKind.STEP_FAILURE,
                step_key=step.key,
                level="ERROR",
                message=f"{step.key} failed: {first_line.rstrip(':')}",
                data={
                    "error_type": "StepProcessLost",
                    "error_message": first_line.rstrip(":"),
                    "traceback": detail,
                    "asset_keys": [key.to_user_string() for key in step.asset_keys],
                    "pid": worker.process.pid,
                },
            )
        )
        return step.key, False

    def close(self, *, terminate: bool) -> None:
        """Stop every process: idle ones when told, busy ones (a cancel) with SIGTERM."""
        for worker in self.idle:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        if terminate:
            for worker in self.busy.values():
                with contextlib.suppress(OSError):
                    worker.connection.send(CANCEL)  # ends a retry's wait...
                    worker.connection.send(None)  # ...and then the process
                with contextlib.suppress(ProcessLookupError, TypeError):
                    os.kill(worker.process.pid or 0, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in [*self.idle, *self.busy.values()]:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
            self._forget(worker)
        self.idle.clear()
        self.busy.clear()
        self.selector.close()


def _ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-exitcode).name}"
    return f"exited with status {exitcode}"
