"""`materialize()`: run assets in this process, for tests and notebooks."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowdev.defs.assets import AssetsDefinition, AssetSpec
from flowdev.defs.checks import AssetChecksDefinition
from flowdev.defs.definitions import Definitions
from flowdev.events import EventKind, RunEvent
from flowdev.execution.executor import RunSpec
from flowdev.execution.in_process import InProcessExecutor
from flowdev.execution.plan import ExecutionPlan
from flowdev.keys import AssetKey, to_asset_key
from flowdev.records import freeze
from flowdev.resources.config import run_config_dict


@dataclass(frozen=True)
class ExecuteInProcessResult:
    """The outcome of `materialize()`: success, events, and the computed values."""

    success: bool
    run_id: str
    all_events: tuple[RunEvent, ...]
    _values: Mapping[AssetKey, Any]

    def output_for(self, key: Any) -> Any:
        """The value computed for asset ``key`` in this run."""
        asset_key = to_asset_key(key)
        if asset_key not in self._values:
            computed = ", ".join(k.to_user_string() for k in self._values) or "nothing"
            raise KeyError(
                f"this run computed no value for {asset_key.to_user_string()!r} "
                f"(it computed: {computed})"
            )
        return self._values[asset_key]

    asset_value = output_for

    def get_asset_materialization_events(self) -> list[RunEvent]:
        """The materialization events, in order."""
        return [e for e in self.all_events if e.kind is EventKind.ASSET_MATERIALIZATION]

    def asset_materializations_for(self, key: Any) -> list[RunEvent]:
        """The materialization events of asset ``key``."""
        asset_key = to_asset_key(key)
        return [e for e in self.get_asset_materialization_events() if e.asset_key == asset_key]

    def get_step_failure_events(self) -> list[RunEvent]:
        """The step failure events, in order."""
        return [e for e in self.all_events if e.kind is EventKind.STEP_FAILURE]

    def get_asset_check_evaluations(self) -> list[RunEvent]:
        """The asset check evaluation events, in order."""
        return [e for e in self.all_events if e.kind is EventKind.ASSET_CHECK_EVALUATION]


def materialize(
    assets: Sequence[AssetsDefinition | AssetSpec | AssetChecksDefinition] | Definitions,
    *,
    resources: Mapping[str, Any] | None = None,
    selection: Any = None,
    run_config: Mapping[str, Any] | Any = None,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = True,
    storage_dir: str | None = None,
    run_id: str | None = None,
) -> ExecuteInProcessResult:
    """Materialize ``assets`` (or a ``selection`` of them) in this process.

    Values are stored with the default `FilesystemIOManager` in ``storage_dir`` unless
    ``resources`` binds ``io_manager``. Without ``storage_dir`` they go to a temporary
    directory that is removed when the call returns (the result keeps the values in
    memory: see `ExecuteInProcessResult.output_for`). With ``raise_on_error`` the first
    step's exception is raised after the run ends.
    """
    if isinstance(assets, Definitions):
        defs = Definitions.merge(assets, Definitions(resources=resources or {}))
    else:
        defs = Definitions(assets=list(assets), resources=resources)
    if storage_dir is not None:
        return _materialize(defs, selection, run_config, tags, raise_on_error, storage_dir, run_id)
    with tempfile.TemporaryDirectory(prefix="flowdev-materialize-") as storage:
        return _materialize(defs, selection, run_config, tags, raise_on_error, storage, run_id)


def _materialize(
    defs: Definitions,
    selection: Any,
    run_config: Mapping[str, Any] | Any,
    tags: Mapping[str, str] | None,
    raise_on_error: bool,
    storage: str,
    run_id: str | None,
) -> ExecuteInProcessResult:
    selected = _selected_keys(defs, selection)
    plan = ExecutionPlan.build(defs, selected)
    run = RunSpec(
        run_id=run_id or uuid.uuid4().hex,
        run_config=run_config_dict(run_config),
        tags=freeze(tags),
        storage_dir=storage,
    )
    events: list[RunEvent] = []
    outcome = InProcessExecutor().execute(plan, run, defs, events.append)
    if raise_on_error and outcome.errors:
        raise next(iter(outcome.errors.values()))
    return ExecuteInProcessResult(
        success=outcome.success, run_id=run.run_id, all_events=tuple(events), _values=outcome.values
    )


def _selected_keys(defs: Definitions, selection: Any) -> Iterable[AssetKey]:
    if selection is None:
        return [k for k in defs.asset_graph.keys if not defs.is_external(k)]
    from flowdev.selection.algebra import resolve_selection

    return resolve_selection(defs.asset_graph, selection)
