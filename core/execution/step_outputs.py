"""What a step's asset function returned, sorted into values per asset and check results.

An asset function may return its value, an `Output` or a `MaterializeResult` (whose
``check_results`` hold the results of the checks declared with ``check_specs=``); a
multi-asset may return a tuple of values in the order of its outputs; either may yield
any of these, and `AssetCheckResult`s, one by one. `collect_outputs` reads all of that
the same way and refuses what does not fit the definition, saying what to return instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import GeneratorType
from typing import Any

from flowdev.defs.assets import AssetsDefinition
from flowdev.defs.checks import AssetCheckResult, AssetCheckSpec
from flowdev.defs.results import MaterializeResult, Output
from flowdev.errors import ExecutionError, close_matches, did_you_mean
from flowdev.keys import AssetKey
from flowdev.records import is_record


@dataclass(frozen=True, slots=True)
class StepOutputs:
    """One call's values (with their metadata) by asset key, and its check results."""

    values: Mapping[AssetKey, tuple[Any, dict[str, Any]]]
    check_results: tuple[tuple[AssetCheckSpec, AssetCheckResult], ...]


def collect_outputs(
    step_key: str,
    assets_def: AssetsDefinition,
    selected: tuple[AssetKey, ...],
    result: Any,
    added_metadata: Mapping[AssetKey, Mapping[str, Any]],
) -> StepOutputs:
    """Sort ``result`` (what ``assets_def``'s function returned) into `StepOutputs`.

    Args:
        step_key: the step's name, for messages.
        assets_def: the definition whose function ran.
        selected: the keys this step materializes (all of ``assets_def``'s, or a subset).
        result: the return value, or the generator the function returned.
        added_metadata: what the function attached through ``context.add_output_metadata``.

    Raises:
        ExecutionError: the result does not fit the definition (a missing or doubled value,
            an unknown output name, a check result for an undeclared or unnamed check).
    """
    single = selected[0] if len(assets_def.specs) == 1 else None
    items = _items(step_key, assets_def, result)
    values: dict[AssetKey, tuple[Any, dict[str, Any]]] = {}
    checks: dict[AssetCheckSpec, AssetCheckResult] = {}

    def add_check(check_result: AssetCheckResult, default_key: AssetKey | None) -> None:
        spec = _check_spec_for(step_key, assets_def, check_result, default_key)
        if spec in checks:
            raise ExecutionError(f"{step_key} returned two results for the check {spec.name!r}")
        checks[spec] = check_result

    for item in items:
        if isinstance(item, AssetCheckResult):
            add_check(item, single)
            continue
        key, value, metadata = _unpack(step_key, assets_def, item, single)
        if key in values:
            raise ExecutionError(f"{step_key} returned two values for {key.to_user_string()!r}")
        values[key] = (value, metadata)
        if isinstance(item, MaterializeResult):
            for check_result in item.check_results:
                add_check(check_result, key)
    for key, added in added_metadata.items():
        if key in values:
            values[key][1].update(added)
    _require_values(step_key, assets_def, selected, values)
    _require_check_results(step_key, assets_def, selected, values, checks)
    return StepOutputs(values=values, check_results=tuple(checks.items()))


def _items(step_key: str, assets_def: AssetsDefinition, result: Any) -> list[Any]:
    if isinstance(result, GeneratorType):
        return list(result)
    outputs = assets_def.output_names
    if isinstance(result, tuple) and not is_record(result) and len(outputs) > 1:
        if len(result) != len(outputs):
            raise ExecutionError(
                f"{step_key} returned {len(result)} values for {len(outputs)} outputs"
            )
        return [Output(value, name) for value, name in zip(result, outputs, strict=True)]
    return [result]


def _unpack(
    step_key: str, assets_def: AssetsDefinition, item: Any, single: AssetKey | None
) -> tuple[AssetKey, Any, dict[str, Any]]:
    if isinstance(item, MaterializeResult):
        key = item.asset_key or single
        if key is None:
            raise ExecutionError(f"{step_key}: a multi-asset's MaterializeResult needs asset_key=")
        return key, item.value, dict(item.metadata or {})
    if isinstance(item, Output):
        by_output = dict(zip(assets_def.output_names, assets_def.keys, strict=True))
        key = by_output.get(item.output_name) or single
        if key is None:
            raise ExecutionError(
                f"{step_key}: no output named {item.output_name!r} (outputs: {list(by_output)})"
            )
        return key, item.value, dict(item.metadata or {})
    if single is None:
        raise ExecutionError(
            f"{step_key} materializes several assets; return a tuple or yield Output / "
            "MaterializeResult per asset"
        )
    return single, item, {}


def _check_spec_for(
    step_key: str,
    assets_def: AssetsDefinition,
    check_result: AssetCheckResult,
    default_key: AssetKey | None,
) -> AssetCheckSpec:
    """The declared check a result belongs to, by its name and asset (either may be implied
    when only one declared check fits)."""
    key = check_result.asset_key or default_key
    name = check_result.check_name
    fitting = [
        spec
        for spec in assets_def.check_specs
        if (key is None or spec.asset_key == key) and (name is None or spec.name == name)
    ]
    if len(fitting) == 1:
        return fitting[0]
    declared = [spec.name for spec in assets_def.check_specs]
    if not fitting and name is not None:
        hint = did_you_mean(close_matches(name, declared))
        raise ExecutionError(
            f"{step_key} returned a result for the check {name!r}, which its check_specs= do "
            f"not declare (declared: {', '.join(declared) or 'none'}).{hint} Add "
            f"AssetCheckSpec({name!r}, asset=...) to check_specs=."
        )
    if not fitting:
        raise ExecutionError(
            f"{step_key} returned an AssetCheckResult, but declares no check for it; add an "
            "AssetCheckSpec to check_specs=, or return the result from an @asset_check"
        )
    raise ExecutionError(
        f"{step_key} returned an AssetCheckResult without check_name=, and several checks "
        f"fit ({', '.join(spec.name for spec in fitting)}); name the check it belongs to"
    )


def _require_values(
    step_key: str,
    assets_def: AssetsDefinition,
    selected: tuple[AssetKey, ...],
    values: Mapping[AssetKey, Any],
) -> None:
    specs = assets_def.specs_by_key
    required = [k for k in selected if k not in values and not specs[k].skippable]
    if required:
        raise ExecutionError(
            f"{step_key} did not return a value for {[k.to_user_string() for k in required]}; "
            "yield a MaterializeResult(asset_key=...) or Output(output_name=...) for each"
        )


def _require_check_results(
    step_key: str,
    assets_def: AssetsDefinition,
    selected: tuple[AssetKey, ...],
    values: Mapping[AssetKey, Any],
    checks: Mapping[AssetCheckSpec, AssetCheckResult],
) -> None:
    # As in Dagster, an asset that declares a check must report it whenever it materializes.
    produced = {key for key in selected if key in values}
    missing = [
        spec for spec in assets_def.check_specs if spec.asset_key in produced and spec not in checks
    ]
    if missing:
        names = ", ".join(repr(spec.name) for spec in missing)
        raise ExecutionError(
            f"{step_key} declares the check(s) {names} in check_specs= but returned no result "
            "for them; return MaterializeResult(check_results=[AssetCheckResult(check_name="
            "..., passed=...)]) or yield the AssetCheckResult"
        )
