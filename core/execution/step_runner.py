"""Executing one step in this process: inputs, outputs, retries, checks, and events.

`StepRunner.run_step` is what every executor calls, wherever the step runs: it computes
the step's assets, stores them with their IO managers, runs their checks and emits an
event for each thing that happens.

Failure semantics are Dagster's: a step that raises fails with its traceback and a
`RetryPolicy` (or `RetryRequested`) retries with its delay. A value is stored only after
the function returned, so a failed step never replaces the latest stored value.

Asset checks run in their asset's step, after its values are stored. A blocking check
that fails with severity ERROR fails the step (its value stays stored, as in Dagster), so
the steps downstream are skipped.

Every event passes through one `Redactor` on its way out: no secret value an `EnvVar`
supplied reaches a message or an event's data, whichever field it hides in.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from typing import Any

from flowdev.defs.assets import AssetsDefinition
from flowdev.defs.checks import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
)
from flowdev.defs.metadata import metadata_to_json, normalize_metadata
from flowdev.defs.results import RetryRequested
from flowdev.errors import ExecutionError
from flowdev.events import EventKind, RunEvent
from flowdev.execution.context import AssetExecutionContext, StepLog
from flowdev.execution.environment import StepEnvironment
from flowdev.execution.executor import Emit
from flowdev.execution.plan import Step
from flowdev.execution.step_outputs import StepOutputs, collect_outputs
from flowdev.frames import raised_at
from flowdev.keys import AssetKey
from flowdev.records import record
from flowdev.resources.config import config_for
from flowdev.resources.env import Redactor
from flowdev.resources.io import InputContext, IOManager, OutputContext


class StepRunner:
    """Runs steps of one run in this process, emitting their events."""

    def __init__(self, env: StepEnvironment, emit: Emit) -> None:
        self.env = env
        self._emit = emit
        self.values = env.values
        self.errors: dict[str, BaseException] = {}
        self.checks_by_asset: dict[AssetKey, list[AssetChecksDefinition]] = {}
        for check in env.defs.asset_checks:
            self.checks_by_asset.setdefault(check.spec.asset_key, []).append(check)
        self._redactor = Redactor(env.secrets)
        self._redacting = bool(self._redactor)
        # Where each step says it ran (a Dask worker, a forked process, the worker).
        self._host = socket.gethostname()
        # OutputContext's default logger, fetched once rather than per output.
        self._output_log = logging.getLogger("flowdev")

    def emit(self, kind: EventKind, step: Step | None = None, **fields: Any) -> None:
        """Emit an event of ``step`` (None: of the run), secrets redacted."""
        if self._redacting:
            if "message" in fields:
                fields["message"] = self._redactor.text(fields["message"])
            if "data" in fields:
                fields["data"] = self._redactor.data(fields["data"])
        self._emit(
            RunEvent(
                run_id=self.env.spec.run_id,
                kind=kind,
                step_key=None if step is None else step.key,
                **fields,
            )
        )

    # -- one step ------------------------------------------------------------------------

    def run_step(self, step: Step) -> bool:
        """Execute ``step`` (with its retries and checks); whether it succeeded."""
        assets_def = step.assets_def
        policy = assets_def.retry_policy
        attempt = 0
        while True:
            if attempt and self.env.control.should_stop():
                # Canceled while it waited to retry: no new attempt.
                self.emit(
                    EventKind.STEP_CANCELED,
                    step,
                    level="WARNING",
                    message=f"{step.key} canceled before retry {attempt}",
                    data={"asset_keys": [k.to_user_string() for k in step.asset_keys]},
                )
                return False
            self.emit(
                EventKind.STEP_START,
                step,
                message=f"started {step.key}" + (f" (retry {attempt})" if attempt else ""),
                data={
                    "asset_keys": [k.to_user_string() for k in step.asset_keys],
                    "attempt": attempt,
                    "host": self._host,
                    "pid": os.getpid(),
                },
            )
            started = time.perf_counter()
            try:
                outputs = self._compute(step, attempt)
                self._store(step, outputs, time.perf_counter() - started)
            except RetryRequested as request:
                if attempt < request.max_retries:
                    attempt += 1
                    self._retry(step, attempt, request.seconds_to_wait or 0, request)
                    continue
                self._fail(step, request, started)
                return False
            except Exception as error:
                allowed = policy is not None and getattr(error, "allow_retries", True)
                if allowed and attempt < policy.max_retries:
                    attempt += 1
                    self._retry(step, attempt, policy.delay_for(attempt), error)
                    continue
                self._fail(step, error, started)
                return False
            blocked_by = self._run_checks(step, outputs)
            if blocked_by:
                self._fail_blocked(step, blocked_by, started)
                return False
            duration = time.perf_counter() - started
            self.emit(
                EventKind.STEP_SUCCESS,
                step,
                message=f"{step.key} succeeded in {duration:.3f}s",
                data={"duration": duration},
            )
            return True

    def _retry(self, step: Step, attempt: int, delay: float, error: BaseException) -> None:
        self.emit(
            EventKind.STEP_UP_FOR_RETRY,
            step,
            level="WARNING",
            message=f"{step.key} failed ({type(error).__name__}: {error}); retry {attempt} "
            f"in {delay:.1f}s",
            data={"attempt": attempt, "delay": delay},
        )
        if delay > 0:
            self.env.control.sleep(delay)

    def _fail(
        self,
        step: Step,
        error: BaseException,
        started: float,
        source: tuple[str, int] | None = None,
    ) -> None:
        self.errors[step.key] = error
        frames = traceback.format_exception(type(error), error, error.__traceback__)
        where = source or raised_at(error)
        self.emit(
            EventKind.STEP_FAILURE,
            step,
            level="ERROR",
            message=f"{step.key} failed: {type(error).__name__}: {error}",
            data={
                "error_type": type(error).__name__,
                "error_message": str(error),
                "traceback": "".join(frames),
                "file": where[0] if where else None,
                "line": where[1] if where else None,
                "duration": time.perf_counter() - started,
                "metadata": metadata_to_json(normalize_metadata(getattr(error, "metadata", None))),
            },
        )

    def _fail_blocked(self, step: Step, failed: list[_CheckRun], started: float) -> None:
        names = ", ".join(repr(check.spec.key.to_user_string()) for check in failed)
        error = ExecutionError(
            f"the blocking asset check(s) {names} failed, so the assets downstream of "
            f"{step.key} were not materialized. Fix the data (or the check) and re-run."
        )
        self._fail(step, error, started, source=failed[0].source)

    def _compute(self, step: Step, attempt: int) -> StepOutputs:
        assets_def = step.assets_def
        env = self.env
        single_key = step.asset_keys[0] if len(step.asset_keys) == 1 else None
        context = AssetExecutionContext(
            run_id=env.spec.run_id,
            asset_keys=step.asset_keys,
            resources=env.resources,
            op_config=None,
            log=StepLog(
                lambda level, message: self.emit(
                    EventKind.LOG, step, asset_key=single_key, level=level, message=message
                )
            ),
            instance=None,
            run_tags=env.spec.tags,
            retry_number=attempt,
            op_name=step.key,
        )
        kwargs: dict[str, Any] = {}
        if assets_def.context_param:
            kwargs[assets_def.context_param] = context
        for param, resource_key in assets_def.resource_params.items():
            kwargs[param] = env.resources[resource_key]
        if assets_def.config_param is not None:
            param, config_cls = assets_def.config_param
            kwargs[param] = config_for(env.spec.run_config, step.key, config_cls)
            context.op_config = kwargs[param]
        for param, key in assets_def.input_keys.items():
            kwargs[param] = self._load_input(assets_def, param, key)
        result = assets_def.fn(**kwargs)
        return collect_outputs(
            step.key, assets_def, step.asset_keys, result, context.added_metadata
        )

    def _load_input(self, assets_def: AssetsDefinition, param: str, key: AssetKey) -> Any:
        if key in self.values:
            return self.values[key]
        manager_key = assets_def.input_manager_keys.get(param) or self._io_manager_key_of(key)
        context = InputContext(
            asset_key=key,
            name=param,
            resources=self.env.resources,
            storage_dir=self.env.spec.storage_dir,
        )
        return self._io_manager(manager_key).load_input(context)

    def _io_manager_key_of(self, key: AssetKey) -> str:
        defs = self.env.defs
        if defs.is_external(key):
            return "io_manager"
        assets_def = defs.get_assets_def(key)
        return assets_def.io_manager_keys[assets_def.keys.index(key)]

    def _io_manager(self, resource_key: str) -> IOManager:
        manager = self.env.resources.get(resource_key)
        if manager is None:
            raise ExecutionError(f"no IO manager bound to the resource key {resource_key!r}")
        return manager

    def _store(self, step: Step, outputs: StepOutputs, duration: float) -> None:
        assets_def = step.assets_def
        env = self.env
        for key, (value, metadata) in outputs.values.items():
            if key not in step.asset_keys:
                continue  # a subsettable multi-asset computed more than was selected
            index = assets_def.keys.index(key)
            context = OutputContext(
                asset_key=key,
                name=assets_def.output_names[index],
                run_id=env.spec.run_id,
                step_key=step.key,
                metadata=metadata,
                definition_metadata=assets_def.specs[index].metadata,
                resources=env.resources,
                log=self._output_log,
                storage_dir=env.spec.storage_dir,
            )
            self._io_manager(assets_def.io_manager_keys[index]).handle_output(context, value)
            self.values[key] = value
            # What the asset says about itself wins over what its IO manager adds.
            stored = normalize_metadata({**context.added_metadata, **metadata})
            self.emit(
                EventKind.ASSET_MATERIALIZATION,
                step,
                asset_key=key,
                message=f"materialized {key.to_user_string()}",
                data={
                    "metadata": metadata_to_json(stored),
                    "code_version": assets_def.code_version_of(key),
                    "duration": duration,
                },
            )

    # -- checks --------------------------------------------------------------------------

    def _run_checks(self, step: Step, outputs: StepOutputs) -> list[_CheckRun]:
        """Record the step's check results and run the checks on its assets; return the
        blocking checks that failed."""
        runs = [
            _CheckRun(spec, check_result, source=step.assets_def.source)
            for spec, check_result in outputs.check_results
            if spec.asset_key in step.asset_keys
        ]
        for key in step.asset_keys:
            if key in outputs.values:
                runs += [self._evaluate(check) for check in self.checks_by_asset.get(key, ())]
        for check_run in runs:
            self._record(step, check_run)
        return [check_run for check_run in runs if check_run.blocks]

    def _evaluate(self, check: AssetChecksDefinition) -> _CheckRun:
        kwargs: dict[str, Any] = {}
        env = self.env
        if check.context_param:
            kwargs[check.context_param] = AssetExecutionContext(
                run_id=env.spec.run_id, asset_keys=(check.spec.asset_key,), resources=env.resources
            )
        if check.asset_param:
            kwargs[check.asset_param] = self.values.get(check.spec.asset_key)
        for param, resource_key in check.resource_params.items():
            kwargs[param] = env.resources[resource_key]
        code = check.fn.__code__
        source = (code.co_filename, code.co_firstlineno)
        try:
            outcome = check.fn(**kwargs)
        except Exception as error:
            outcome = AssetCheckResult(passed=False, description=f"the check raised {error!r}")
        if not isinstance(outcome, AssetCheckResult):
            outcome = AssetCheckResult(
                passed=False, description=f"the check returned {outcome!r}, not AssetCheckResult"
            )
        return _CheckRun(check.spec, outcome, source)

    def _record(self, step: Step, check_run: _CheckRun) -> None:
        spec, outcome = check_run.spec, check_run.result
        self.emit(
            EventKind.ASSET_CHECK_EVALUATION,
            step,
            asset_key=spec.asset_key,
            level="INFO" if outcome.passed else "WARNING",
            message=f"check {spec.name} {'passed' if outcome.passed else 'failed'}",
            data={
                "check_name": spec.name,
                "passed": outcome.passed,
                "severity": outcome.severity.value,
                "blocking": spec.blocking,
                "description": outcome.description,
                "metadata": metadata_to_json(normalize_metadata(outcome.metadata)),
            },
        )


@record
class _CheckRun:
    """One check's result in a step, and where the check is defined."""

    spec: AssetCheckSpec
    result: AssetCheckResult
    source: tuple[str, int]

    @property
    def blocks(self) -> bool:
        """Whether this result stops the assets downstream (Dagster: blocking and ERROR)."""
        return (
            self.spec.blocking
            and not self.result.passed
            and self.result.severity is AssetCheckSeverity.ERROR
        )
