"""The executor interface: a plan of steps in, a stream of events out.

Every run executes through an `Executor`: the worker of a launched run, `materialize()`,
and job execution. What the executor is given splits in two:

- `RunSpec`, data: the run's id, where its project is and which code it was launched
  with, its run config and tags, where values and logs go. It pickles, so a step can be
  executed from ``(RunSpec, step key)`` in any process that can import the user's
  project: a process forked from the worker, a fresh interpreter, a Dask worker.
- `RunControl`, the live part that stays in the process that drives the plan: how to
  ask whether the run was canceled, and how to wait (a retry's delay ends early on
  cancel).

An executor calls ``emit`` once per event, in order per step, from the thread that
called `Executor.execute` (or hands several that arrived together to `emit_all`).
Cancellation is honoured between steps (``should_stop``) and during them (the worker's
SIGTERM raises in the thread running a step; an executor with step processes forwards
it to them).
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowdev.errors import ExecutionError
from flowdev.events import RunEvent
from flowdev.keys import AssetKey
from flowdev.records import EMPTY, record

if TYPE_CHECKING:
    from flowdev.defs.definitions import Definitions
    from flowdev.defs.executors import ExecutorChoice
    from flowdev.execution.plan import ExecutionPlan

Emit = Callable[[RunEvent], None]


def emit_all(emit: Emit, events: Sequence[RunEvent]) -> None:
    """Emit ``events`` in order: in one go when ``emit`` can take several (a ``many``
    method, as the worker's event writer has: one transaction for all of them)."""
    if not events:
        return
    many = getattr(emit, "many", None)
    if many is not None:
        many(events)
        return
    for event in events:
        emit(event)


@record
class RunSpec:
    """What any process needs to execute a step of a run: data only, never live objects.

    ``project`` is ``{"root", "module", "file"}`` as the run record keeps it (None for
    definitions built in memory, as `materialize()`'s: those steps run in this process
    or in processes forked from it). ``code_fingerprint`` is the code the run was
    launched with; a process that loads a different one refuses to run the step.
    ``log_dir`` is the run's compute-log directory: steps run in processes of their own
    write their output to a file each under it.
    """

    run_id: str
    project: Mapping[str, Any] | None = None
    code_fingerprint: str | None = None
    run_config: Mapping[str, Any] = EMPTY
    tags: Mapping[str, str] = EMPTY
    storage_dir: str | None = None
    log_dir: str | None = None
    cache_dir: str | None = None


@record
class RunControl:
    """The live hooks of the process driving a run: cancel checks and waits."""

    should_stop: Callable[[], bool] = lambda: False
    sleep: Callable[[float], object] = time.sleep  # may be an Event.wait, ended by a cancel


@record
class ExecutionOutcome:
    """How a plan's execution ended, and the values computed in this process."""

    success: bool
    values: Mapping[AssetKey, Any]
    errors: Mapping[str, BaseException]


class Executor(ABC):
    """Executes an `ExecutionPlan`; subclasses decide where and how many steps at once."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = dict(config or {})

    def describe(self) -> str:
        """How this executor runs steps, in a few words, for the run's log."""
        return f"the {type(self).__name__}"

    def check(self, plan: ExecutionPlan, defs: Definitions, run: RunSpec) -> None:
        """Refuse, before the run starts, a plan this executor cannot run.

        Raises:
            ExecutionError: what makes the plan impossible here, and what to change.
        """
        return  # most executors can run any plan

    @abstractmethod
    def execute(
        self,
        plan: ExecutionPlan,
        run: RunSpec,
        defs: Definitions,
        emit: Emit,
        control: RunControl | None = None,
    ) -> ExecutionOutcome:
        """Execute ``plan`` (built from ``defs``), calling ``emit`` with each event.

        A failed step skips only the steps downstream of it. Raises only what the
        run itself cannot go on from (the worker's cancel); step errors are events.
        """


def executor_of(choice: ExecutorChoice) -> Executor:
    """An instance of the executor ``choice`` names, with its config."""
    module_name, _, class_name = choice.definition.implementation.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as error:
        raise ExecutionError(
            f"the {choice.definition.name} executor cannot be loaded: {error}"
        ) from None
    executor: Executor = cls(choice.config)
    return executor
