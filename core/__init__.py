"""flowdev: asset-first data orchestration with a live terminal dev environment.

The names and their semantics are Dagster's, so ``import flowdev as dg`` or
``from flowdev import asset`` reads like a Dagster project.

Public names are resolved on first use (PEP 562): every worker and loader process
imports this package, and loading all of the library up front would cost more than
the whole import budget (100 ms); a project that only defines assets never loads the
executor, the IO managers or the CLI. Nothing here imports Textual, networkx, SQLite
or Typer.

No submodule may share a public name: importing ``flowdev.<name>`` binds the module on
this package, above `__getattr__`, and would hide the public object for good. That is why
the asset graph lives in ``flowdev.asset_graph`` and `materialize` in ``flowdev.in_process``.
"""

from __future__ import annotations

import importlib

# `typing` (2 ms to import) stays off the load path, as in every module it imports.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from flowdev.assets import (
        AssetOut,
        AssetsDefinition,
        AssetSpec,
        apply_freshness_policy,
        map_asset_specs,
    )
    from flowdev.checks import (
        AssetCheckKey,
        AssetCheckResult,
        AssetChecksDefinition,
        AssetCheckSeverity,
        AssetCheckSpec,
        asset_check,
    )
    from flowdev.config import Config, RunConfig
    from flowdev.configurable import PrivateAttr
    from flowdev.context import (
        AssetExecutionContext,
        OpExecutionContext,
        build_asset_context,
        build_op_context,
    )
    from flowdev.decorators import asset, multi_asset
    from flowdev.definitions import Definitions
    from flowdev.env import EnvVar
    from flowdev.errors import FlowdevError
    from flowdev.in_process import ExecuteInProcessResult, materialize
    from flowdev.io import (
        ConfigurableIOManager,
        FilesystemIOManager,
        InMemoryIOManager,
        InputContext,
        IOManager,
        OutputContext,
        io_manager,
    )
    from flowdev.jobs import (
        GraphDefinition,
        In,
        JobDefinition,
        OpDefinition,
        Out,
        define_asset_job,
        graph,
        job,
        op,
    )
    from flowdev.keys import AssetDep, AssetIn, AssetKey
    from flowdev.loading import (
        load_asset_checks_from_modules,
        load_asset_checks_from_package_module,
        load_assets_from_current_module,
        load_assets_from_modules,
        load_assets_from_package_module,
        load_assets_from_package_name,
    )
    from flowdev.metadata import (
        MetadataValue,
        TableColumn,
        TableColumnConstraints,
        TableColumnDep,
        TableColumnLineage,
        TableRecord,
        TableSchema,
    )
    from flowdev.policies import Backoff, FreshnessPolicy, Jitter, RetryPolicy
    from flowdev.resources import (
        ConfigurableResource,
        ConfigurableResourceFactory,
        Field,
        InitResourceContext,
        ResourceDefinition,
        ResourceDependency,
        ResourceParam,
        build_init_resource_context,
        resource,
    )
    from flowdev.results import (
        AssetMaterialization,
        Failure,
        MaterializeResult,
        Output,
        RetryRequested,
    )
    from flowdev.schedules import (
        DefaultScheduleStatus,
        DefaultSensorStatus,
        RunRequest,
        ScheduleDefinition,
        SensorDefinition,
        SkipReason,
        schedule,
        sensor,
    )
    from flowdev.selection import AssetSelection

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "AssetCheckKey": "flowdev.checks",
    "AssetCheckResult": "flowdev.checks",
    "AssetCheckSeverity": "flowdev.checks",
    "AssetCheckSpec": "flowdev.checks",
    "AssetChecksDefinition": "flowdev.checks",
    "AssetDep": "flowdev.keys",
    "AssetExecutionContext": "flowdev.context",
    "AssetIn": "flowdev.keys",
    "AssetKey": "flowdev.keys",
    "AssetMaterialization": "flowdev.results",
    "AssetOut": "flowdev.assets",
    "AssetSelection": "flowdev.selection",
    "AssetSpec": "flowdev.assets",
    "AssetsDefinition": "flowdev.assets",
    "Backoff": "flowdev.policies",
    "Config": "flowdev.config",
    "ConfigurableIOManager": "flowdev.io",
    "ConfigurableResource": "flowdev.resources",
    "ConfigurableResourceFactory": "flowdev.resources",
    "DefaultScheduleStatus": "flowdev.schedules",
    "DefaultSensorStatus": "flowdev.schedules",
    "Definitions": "flowdev.definitions",
    "EnvVar": "flowdev.env",
    "ExecuteInProcessResult": "flowdev.in_process",
    "Failure": "flowdev.results",
    "Field": "flowdev.resources",
    "FilesystemIOManager": "flowdev.io",
    "FlowdevError": "flowdev.errors",
    "FreshnessPolicy": "flowdev.policies",
    "GraphDefinition": "flowdev.jobs",
    "IOManager": "flowdev.io",
    "In": "flowdev.jobs",
    "InMemoryIOManager": "flowdev.io",
    "InitResourceContext": "flowdev.resources",
    "InputContext": "flowdev.io",
    "Jitter": "flowdev.policies",
    "JobDefinition": "flowdev.jobs",
    "MaterializeResult": "flowdev.results",
    "MetadataValue": "flowdev.metadata",
    "OpDefinition": "flowdev.jobs",
    "OpExecutionContext": "flowdev.context",
    "Out": "flowdev.jobs",
    "Output": "flowdev.results",
    "OutputContext": "flowdev.io",
    "PrivateAttr": "flowdev.configurable",
    "ResourceDefinition": "flowdev.resources",
    "ResourceDependency": "flowdev.resources",
    "ResourceParam": "flowdev.resources",
    "RetryPolicy": "flowdev.policies",
    "RetryRequested": "flowdev.results",
    "RunConfig": "flowdev.config",
    "RunRequest": "flowdev.schedules",
    "ScheduleDefinition": "flowdev.schedules",
    "SensorDefinition": "flowdev.schedules",
    "SkipReason": "flowdev.schedules",
    "TableColumn": "flowdev.metadata",
    "TableColumnConstraints": "flowdev.metadata",
    "TableColumnDep": "flowdev.metadata",
    "TableColumnLineage": "flowdev.metadata",
    "TableRecord": "flowdev.metadata",
    "TableSchema": "flowdev.metadata",
    "apply_freshness_policy": "flowdev.assets",
    "asset": "flowdev.decorators",
    "asset_check": "flowdev.checks",
    "build_asset_context": "flowdev.context",
    "build_init_resource_context": "flowdev.resources",
    "build_op_context": "flowdev.context",
    "define_asset_job": "flowdev.jobs",
    "graph": "flowdev.jobs",
    "io_manager": "flowdev.io",
    "job": "flowdev.jobs",
    "load_asset_checks_from_modules": "flowdev.loading",
    "load_asset_checks_from_package_module": "flowdev.loading",
    "load_assets_from_current_module": "flowdev.loading",
    "load_assets_from_modules": "flowdev.loading",
    "load_assets_from_package_module": "flowdev.loading",
    "load_assets_from_package_name": "flowdev.loading",
    "map_asset_specs": "flowdev.assets",
    "materialize": "flowdev.in_process",
    "multi_asset": "flowdev.decorators",
    "op": "flowdev.jobs",
    "resource": "flowdev.resources",
    "schedule": "flowdev.schedules",
    "sensor": "flowdev.schedules",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flowdev' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "AssetCheckKey",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetCheckSpec",
    "AssetChecksDefinition",
    "AssetDep",
    "AssetExecutionContext",
    "AssetIn",
    "AssetKey",
    "AssetMaterialization",
    "AssetOut",
    "AssetSelection",
    "AssetSpec",
    "AssetsDefinition",
    "Backoff",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "ConfigurableResourceFactory",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "Definitions",
    "EnvVar",
    "ExecuteInProcessResult",
    "Failure",
    "Field",
    "FilesystemIOManager",
    "FlowdevError",
    "FreshnessPolicy",
    "GraphDefinition",
    "IOManager",
    "In",
    "InMemoryIOManager",
    "InitResourceContext",
    "InputContext",
    "Jitter",
    "JobDefinition",
    "MaterializeResult",
    "MetadataValue",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "Output",
    "OutputContext",
    "PrivateAttr",
    "ResourceDefinition",
    "ResourceDependency",
    "ResourceParam",
    "RetryPolicy",
    "RetryRequested",
    "RunConfig",
    "RunRequest",
    "ScheduleDefinition",
    "SensorDefinition",
    "SkipReason",
    "TableColumn",
    "TableColumnConstraints",
    "TableColumnDep",
    "TableColumnLineage",
    "TableRecord",
    "TableSchema",
    "__version__",
    "apply_freshness_policy",
    "asset",
    "asset_check",
    "build_asset_context",
    "build_init_resource_context",
    "build_op_context",
    "define_asset_job",
    "graph",
    "io_manager",
    "job",
    "load_asset_checks_from_modules",
    "load_asset_checks_from_package_module",
    "load_assets_from_current_module",
    "load_assets_from_modules",
    "load_assets_from_package_module",
    "load_assets_from_package_name",
    "map_asset_specs",
    "materialize",
    "multi_asset",
    "op",
    "resource",
    "schedule",
    "sensor",
]
