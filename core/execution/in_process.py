"""`in_process_executor`: every step in this process, one after another, in plan order.

Values pass from step to step in memory as well as through the IO managers, so a run
with an `InMemoryIOManager` works here (and only here: other executors refuse it).
"""

from __future__ import annotations

from flowdev.defs.definitions import Definitions
from flowdev.errors import ExecutionError
from flowdev.execution.environment import open_environment
from flowdev.execution.executor import Emit, ExecutionOutcome, Executor, RunControl, RunSpec
from flowdev.execution.plan import ExecutionPlan
from flowdev.execution.scheduling import CANCELED, StepQueue, skip_event
from flowdev.execution.step_runner import StepRunner


class InProcessExecutor(Executor):
    """Runs each step of a plan in turn, in this process."""

    def describe(self) -> str:
        """For the run's log."""
        return "the in-process executor: one step at a time, in the worker"

    def execute(
        self,
        plan: ExecutionPlan,
        run: RunSpec,
        defs: Definitions,
        emit: Emit,
        control: RunControl | None = None,
    ) -> ExecutionOutcome:
        """Execute ``plan``, calling ``emit`` with each event as it happens."""
        control = control or RunControl()
        queue = StepQueue(plan, max_concurrent=1)
        with open_environment(run, defs, control) as env:
            runner = StepRunner(env, emit)
            while not queue.done:
                if control.should_stop():
                    for skip in queue.skip_rest(CANCELED):
                        emit(skip_event(run.run_id, skip))
                    break
                step = queue.next_ready()
                if step is None:
                    raise ExecutionError("no step of the plan can start (a dependency cycle?)")
                queue.finish(step.key, runner.run_step(step))
                for skip in queue.take_skips():
                    emit(skip_event(run.run_id, skip))
        return ExecutionOutcome(
            success=not queue.failed, values=runner.values, errors=dict(runner.errors)
        )
