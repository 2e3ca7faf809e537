"""Executing a plan in this process: inputs, outputs, retries, failures, and events.

`InProcessExecutor.execute` takes an `ExecutionPlan` and a `RunResources` and calls
``emit`` for every event. It is what a run's worker process runs and what
`materialize()` runs in tests.

Failure semantics are Dagster's: a step that raises fails with its traceback, steps
downstream of it are skipped with the reason, independent branches still run, and a
`RetryPolicy` (or `RetryRequested`) retries with its delay. A value is stored only after
the function returned, so a failed step never replaces the latest stored value.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any

from flowdev.assets import AssetsDefinition
from flowdev.checks import AssetCheckResult, AssetChecksDefinition
from flowdev.context import AssetExecutionContext, StepLog
from flowdev.definitions import Definitions
from flowdev.errors import ExecutionError
from flowdev.events import EventKind, RunEvent
from flowdev.io import InputContext, IOManager, OutputContext
from flowdev.keys import AssetKey
from flowdev.metadata import metadata_to_json, normalize_metadata
from flowdev.plan import ExecutionPlan, Step
from flowdev.resources import config_for, redact
from flowdev.results import MaterializeResult, Output, RetryRequested

Emit = Callable[[RunEvent], None]


@dataclass(kw_only=True)
class RunResources:
    """Everything a run needs besides its plan: resolved resources, config, where to store."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    defs: Definitions
    resources: Mapping[str, Any]
    run_config: Mapping[str, Any] = field(default_factory=dict)
    storage_dir: str | None = None
    secrets: frozenset[str] = frozenset()
    run_tags: Mapping[str, str] = field(default_factory=dict)
    instance: Any = None
    sleep: Callable[[float], None] = time.sleep
    should_stop: Callable[[], bool] = lambda: False


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    """How a plan's execution ended, and the values it computed (kept for tests)."""

    success: bool
    values: Mapping[AssetKey, Any]
    errors: Mapping[str, BaseException]


class InProcessExecutor:
    """Runs each step of a plan in turn, in this process."""

    def execute(self, plan: ExecutionPlan, run: RunResources, emit: Emit) -> ExecutionOutcome:
        """Execute ``plan``, calling ``emit`` with each event as it happens."""
        runner = _Runner(run, emit)
        success = runner.run(plan)
        return ExecutionOutcome(success=success, values=runner.values, errors=runner.errors)


class _Runner:
    def __init__(self, run: RunResources, emit: Emit) -> None:
        self.run_resources = run
        self._emit = emit
        self.values: dict[AssetKey, Any] = {}
        self.failed_steps: dict[str, str] = {}  # step -> why it did not produce outputs
        self.errors: dict[str, BaseException] = {}
        self.checks_by_asset: dict[AssetKey, list[AssetChecksDefinition]] = {}
        for check in run.defs.asset_checks:
            self.checks_by_asset.setdefault(check.spec.asset_key, []).append(check)

    def emit(self, kind: EventKind, step: Step | None = None, **fields: Any) -> None:
        secrets = self.run_resources.secrets
        if secrets and "message" in fields:
            fields["message"] = redact(fields["message"], secrets)
        self._emit(
            RunEvent(
                run_id=self.run_resources.run_id,
                kind=kind,
                step_key=None if step is None else step.key,
                **fields,
            )
        )

    def run(self, plan: ExecutionPlan) -> bool:
        for step in plan.steps:
            blocked_by = [s for s in step.upstream_steps if s in self.failed_steps]
            if self.run_resources.should_stop():
                self.failed_steps[step.key] = "the run was canceled"
                self.emit(EventKind.STEP_SKIPPED, step, message="skipped: the run was canceled")
                continue
            if blocked_by:
                reason = f"upstream step {blocked_by[0]!r} did not succeed"
                self.failed_steps[step.key] = reason
                self.emit(
                    EventKind.STEP_SKIPPED,
                    step,
                    level="WARNING",
                    message=f"skipped {step.key}: {reason}",
                    data={"upstream": blocked_by},
                )
                continue
            if not self._run_step(step):
                self.failed_steps[step.key] = "failed"
        return not self.failed_steps

    # -- one step ------------------------------------------------------------------------

    def _run_step(self, step: Step) -> bool:
        assets_def = step.assets_def
        policy = assets_def.retry_policy
        attempt = 0
        while True:
            self.emit(
                EventKind.STEP_START,
                step,
                message=f"started {step.key}" + (f" (retry {attempt})" if attempt else ""),
                data={
                    "asset_keys": [k.to_user_string() for k in step.asset_keys],
                    "attempt": attempt,
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
            duration = time.perf_counter() - started
            self.emit(
                EventKind.STEP_SUCCESS,
                step,
                message=f"{step.key} succeeded in {duration:.3f}s",
                data={"duration": duration},
            )
            self._run_checks(step)
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
            self.run_resources.sleep(delay)

    def _fail(self, step: Step, error: BaseException, started: float) -> None:
        self.errors[step.key] = error
        frames = traceback.format_exception(type(error), error, error.__traceback__)
        text = "".join(frames)
        secrets = self.run_resources.secrets
        user_frame = _user_frame(error)
        self.emit(
            EventKind.STEP_FAILURE,
            step,
            level="ERROR",
            message=f"{step.key} failed: {type(error).__name__}: {error}",
            data={
                "error_type": type(error).__name__,
                "error_message": redact(str(error), secrets),
                "traceback": redact(text, secrets),
                "file": user_frame[0] if user_frame else None,
                "line": user_frame[1] if user_frame else None,
                "duration": time.perf_counter() - started,
                "metadata": metadata_to_json(normalize_metadata(getattr(error, "metadata", None))),
            },
        )

    def _compute(self, step: Step, attempt: int) -> dict[AssetKey, tuple[Any, dict[str, Any]]]:
        assets_def = step.assets_def
        run = self.run_resources
        single_key = step.asset_keys[0] if len(step.asset_keys) == 1 else None
        context = AssetExecutionContext(
            run_id=run.run_id,
            asset_keys=step.asset_keys,
            resources=run.resources,
            op_config=None,
            log=StepLog(
                lambda level, message: self.emit(
                    EventKind.LOG, step, asset_key=single_key, level=level, message=message
                )
            ),
            instance=run.instance,
            run_tags=run.run_tags,
            retry_number=attempt,
            op_name=step.key,
        )
        kwargs: dict[str, Any] = {}
        if assets_def.context_param:
            kwargs[assets_def.context_param] = context
        for param, resource_key in assets_def.resource_params.items():
            kwargs[param] = run.resources[resource_key]
        if assets_def.config_param is not None:
            param, config_cls = assets_def.config_param
            kwargs[param] = config_for(run.run_config, step.key, config_cls)
            context.op_config = kwargs[param]
        for param, key in assets_def.input_keys.items():
            kwargs[param] = self._load_input(assets_def, param, key)
        result = assets_def.fn(**kwargs)
        return self._collect(step, result, context)

    def _load_input(self, assets_def: AssetsDefinition, param: str, key: AssetKey) -> Any:
        if key in self.values:
            return self.values[key]
        manager_key = assets_def.input_manager_keys.get(param) or self._io_manager_key_of(key)
        context = InputContext(
            asset_key=key,
            name=param,
            resources=self.run_resources.resources,
            storage_dir=self.run_resources.storage_dir,
        )
        return self._io_manager(manager_key).load_input(context)

    def _io_manager_key_of(self, key: AssetKey) -> str:
        defs = self.run_resources.defs
        if defs.is_external(key):
            return "io_manager"
        assets_def = defs.get_assets_def(key)
        return assets_def.io_manager_keys[assets_def.keys.index(key)]

    def _io_manager(self, resource_key: str) -> IOManager:
        manager = self.run_resources.resources.get(resource_key)
        if manager is None:
            raise ExecutionError(f"no IO manager bound to the resource key {resource_key!r}")
        return manager

    def _collect(
        self, step: Step, result: Any, context: AssetExecutionContext
    ) -> dict[AssetKey, tuple[Any, dict[str, Any]]]:
        assets_def = step.assets_def
        by_output = dict(zip(assets_def.output_names, assets_def.keys, strict=True))
        outputs: dict[AssetKey, tuple[Any, dict[str, Any]]] = {}
        items = list(result) if isinstance(result, GeneratorType) else None
        if items is None and isinstance(result, tuple) and len(assets_def.keys) > 1:
            if len(result) != len(assets_def.keys):
                raise ExecutionError(
                    f"{step.key} returned {len(result)} values for {len(assets_def.keys)} outputs"
                )
            items = [
                Output(v, name) for v, name in zip(result, assets_def.output_names, strict=True)
            ]
        if items is None:
            items = [result]
        for item in items:
            key, value, metadata = self._unpack(step, item, by_output)
            if key in outputs:
                raise ExecutionError(f"{step.key} returned two values for {key.to_user_string()!r}")
            outputs[key] = (value, metadata)
        for key, added in context.added_metadata.items():
            if key in outputs:
                outputs[key][1].update(added)
        missing = [k for k in step.asset_keys if k not in outputs]
        required = [k for k in missing if not assets_def.specs_by_key[k].skippable]
        if required:
            raise ExecutionError(
                f"{step.key} did not return a value for {[k.to_user_string() for k in required]}; "
                "yield a MaterializeResult(asset_key=...) or Output(output_name=...) for each"
            )
        return outputs

    def _unpack(
        self, step: Step, item: Any, by_output: dict[str, AssetKey]
    ) -> tuple[AssetKey, Any, dict[str, Any]]:
        single = step.asset_keys[0] if len(step.assets_def.keys) == 1 else None
        if isinstance(item, MaterializeResult):
            key = item.asset_key or single
            if key is None:
                raise ExecutionError(
                    f"{step.key}: a multi-asset's MaterializeResult needs asset_key="
                )
            return key, item.value, dict(item.metadata or {})
        if isinstance(item, Output):
            key = by_output.get(item.output_name) or single
            if key is None:
                raise ExecutionError(
                    f"{step.key}: no output named {item.output_name!r} (outputs: {list(by_output)})"
                )
            return key, item.value, dict(item.metadata or {})
        if single is None:
            raise ExecutionError(
                f"{step.key} materializes several assets; return a tuple or yield Output / "
                "MaterializeResult per asset"
            )
        return single, item, {}

    def _store(
        self, step: Step, outputs: dict[AssetKey, tuple[Any, dict[str, Any]]], duration: float
    ) -> None:
        assets_def = step.assets_def
        run = self.run_resources
        for key, (value, metadata) in outputs.items():
            if key not in step.asset_keys:
                continue  # a subsettable multi-asset computed more than was selected
            output_name = assets_def.output_names[assets_def.keys.index(key)]
            context = OutputContext(
                asset_key=key,
                name=output_name,
                run_id=run.run_id,
                step_key=step.key,
                metadata=metadata,
                definition_metadata=assets_def.specs_by_key[key].metadata,
                resources=run.resources,
                storage_dir=run.storage_dir,
            )
            self._io_manager(self._io_manager_key_of(key)).handle_output(context, value)
            self.values[key] = value
            stored = normalize_metadata({**metadata, **context.added_metadata})
            self.emit(
                EventKind.ASSET_MATERIALIZATION,
                step,
                asset_key=key,
                message=f"materialized {key.to_user_string()}",
                data={
                    "metadata": _redacted_json(stored, run.secrets),
                    "code_version": assets_def.code_version_of(key),
                    "duration": duration,
                },
            )

    # -- checks --------------------------------------------------------------------------

    def _run_checks(self, step: Step) -> None:
        for key in step.asset_keys:
            for check in self.checks_by_asset.get(key, ()):
                self._run_check(step, check)

    def _run_check(self, step: Step, check: AssetChecksDefinition) -> None:
        kwargs: dict[str, Any] = {}
        run = self.run_resources
        if check.context_param:
            kwargs[check.context_param] = AssetExecutionContext(
                run_id=run.run_id, asset_keys=(check.spec.asset_key,), resources=run.resources
            )
        if check.asset_param:
            kwargs[check.asset_param] = self.values.get(check.spec.asset_key)
        for param, resource_key in check.resource_params.items():
            kwargs[param] = run.resources[resource_key]
        try:
            outcome = check.fn(**kwargs)
        except Exception as error:
            outcome = AssetCheckResult(passed=False, description=f"the check raised {error!r}")
        if not isinstance(outcome, AssetCheckResult):
            outcome = AssetCheckResult(
                passed=False, description=f"the check returned {outcome!r}, not AssetCheckResult"
            )
        self.emit(
            EventKind.ASSET_CHECK_EVALUATION,
            step,
            asset_key=check.spec.asset_key,
            level="INFO" if outcome.passed else "WARNING",
            message=f"check {check.spec.name} {'passed' if outcome.passed else 'failed'}",
            data={
                "check_name": check.spec.name,
                "passed": outcome.passed,
                "severity": outcome.severity.value,
                "description": outcome.description,
                "metadata": _redacted_json(normalize_metadata(outcome.metadata), run.secrets),
            },
        )


def _redacted_json(metadata: Mapping[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    stored = metadata_to_json(metadata)
    if not secrets:
        return stored
    import json

    return json.loads(redact(json.dumps(stored), secrets))


def _user_frame(error: BaseException) -> tuple[str, int] | None:
    """The innermost frame outside flowdev: where the user's code raised."""
    import flowdev

    package_dir = flowdev.__file__.rsplit("/", 1)[0]
    found = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        if not frame.f_code.co_filename.startswith(package_dir):
            found = (frame.f_code.co_filename, line)
    return found
