"""flowdev: asset-first data orchestration with a live terminal dev environment.

The names and their semantics are Dagster's, so ``import flowdev as dg`` or
``from flowdev import asset`` reads like a Dagster project.

Public names are resolved on first use (PEP 562): every worker and loader process
imports this package, and loading all of the library up front would cost more than
the whole import budget (100 ms); a project that only defines assets never loads the
executor, the IO managers or the CLI. Nothing here imports Textual, networkx, SQLite
or Typer.

The modules live in subpackages named by layer (``flowdev.defs``, ``flowdev.execution``,
...; DESIGN.md draws them). No subpackage may share a public name: importing
``flowdev.<name>`` binds it on this package, above `__getattr__`, and would hide the
public object for good.
"""

from __future__ import annotations

import importlib

# Not `from typing import TYPE_CHECKING`: importing `typing` costs 3-4 ms here, more
# than `import flowdev`'s whole budget (2 ms over bare Python). Type checkers treat any
# name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from flowdev.defs.assets import (
        AssetOut,
        AssetsDefinition,
        AssetSpec,
        apply_freshness_policy,
        map_asset_specs,
    )
    from flowdev.defs.checks import (
        AssetCheckKey,
        AssetCheckResult,
        AssetChecksDefinition,
        AssetCheckSeverity,
        AssetCheckSpec,
        asset_check,
    )
    from flowdev.defs.decorators import asset, multi_asset
    from flowdev.defs.definitions import Definitions
    from flowdev.defs.executors import (
        ExecutorDefinition,
        in_process_executor,
        multiprocess_executor,
    )
    from flowdev.defs.jobs import (
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
    from flowdev.defs.loading import (
        load_asset_checks_from_modules,
        load_asset_checks_from_package_module,
        load_assets_from_current_module,
        load_assets_from_modules,
        load_assets_from_package_module,
        load_assets_from_package_name,
    )
    from flowdev.defs.metadata import (
        MetadataValue,
        TableColumn,
        TableColumnConstraints,
        TableColumnDep,
        TableColumnLineage,
        TableRecord,
        TableSchema,
    )
    from flowdev.defs.policies import Backoff, FreshnessPolicy, Jitter, RetryPolicy
    from flowdev.defs.results import (
        AssetMaterialization,
        Failure,
        MaterializeResult,
        Output,
        RetryRequested,
    )
    from flowdev.defs.schedules import (
        DefaultScheduleStatus,
        DefaultSensorStatus,
        RunRequest,
        ScheduleDefinition,
        SensorDefinition,
        SkipReason,
        schedule,
        sensor,
    )
    from flowdev.errors import FlowdevError
    from flowdev.execution.context import (
        AssetExecutionContext,
        OpExecutionContext,
        build_asset_context,
        build_op_context,
    )
    from flowdev.execution.materialize import ExecuteInProcessResult, materialize
    from flowdev.keys import AssetDep, AssetIn, AssetKey
    from flowdev.resources.config import Config, RunConfig
    from flowdev.resources.configurable import PrivateAttr
    from flowdev.resources.env import EnvVar
    from flowdev.resources.io import (
        ConfigurableIOManager,
        FilesystemIOManager,
        InMemoryIOManager,
        InputContext,
        IOManager,
        OutputContext,
        io_manager,
    )
    from flowdev.resources.resource import (
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
    from flowdev.selection.algebra import AssetSelection

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "AssetCheckKey": "flowdev.defs.checks",
    "AssetCheckResult": "flowdev.defs.checks",
    "AssetCheckSeverity": "flowdev.defs.checks",
    "AssetCheckSpec": "flowdev.defs.checks",
    "AssetChecksDefinition": "flowdev.defs.checks",
    "AssetDep": "flowdev.keys",
    "AssetExecutionContext": "flowdev.execution.context",
    "AssetIn": "flowdev.keys",
    "AssetKey": "flowdev.keys",
    "AssetMaterialization": "flowdev.defs.results",
    "AssetOut": "flowdev.defs.assets",
    "AssetSelection": "flowdev.selection.algebra",
    "AssetSpec": "flowdev.defs.assets",
    "AssetsDefinition": "flowdev.defs.assets",
    "Backoff": "flowdev.defs.policies",
    "Config": "flowdev.resources.config",
    "ConfigurableIOManager": "flowdev.resources.io",
    "ConfigurableResource": "flowdev.resources.resource",
    "ConfigurableResourceFactory": "flowdev.resources.resource",
    "DefaultScheduleStatus": "flowdev.defs.schedules",
    "DefaultSensorStatus": "flowdev.defs.schedules",
    "Definitions": "flowdev.defs.definitions",
    "EnvVar": "flowdev.resources.env",
    "ExecuteInProcessResult": "flowdev.execution.materialize",
    "ExecutorDefinition": "flowdev.defs.executors",
    "Failure": "flowdev.defs.results",
    "Field": "flowdev.resources.resource",
    "FilesystemIOManager": "flowdev.resources.io",
    "FlowdevError": "flowdev.errors",
    "FreshnessPolicy": "flowdev.defs.policies",
    "GraphDefinition": "flowdev.defs.jobs",
    "IOManager": "flowdev.resources.io",
    "In": "flowdev.defs.jobs",
    "InMemoryIOManager": "flowdev.resources.io",
    "InitResourceContext": "flowdev.resources.resource",
    "InputContext": "flowdev.resources.io",
    "Jitter": "flowdev.defs.policies",
    "JobDefinition": "flowdev.defs.jobs",
    "MaterializeResult": "flowdev.defs.results",
    "MetadataValue": "flowdev.defs.metadata",
    "OpDefinition": "flowdev.defs.jobs",
    "OpExecutionContext": "flowdev.execution.context",
    "Out": "flowdev.defs.jobs",
    "Output": "flowdev.defs.results",
    "OutputContext": "flowdev.resources.io",
    "PrivateAttr": "flowdev.resources.configurable",
    "ResourceDefinition": "flowdev.resources.resource",
    "ResourceDependency": "flowdev.resources.resource",
    "ResourceParam": "flowdev.resources.resource",
    "RetryPolicy": "flowdev.defs.policies",
    "RetryRequested": "flowdev.defs.results",
    "RunConfig": "flowdev.resources.config",
    "RunRequest": "flowdev.defs.schedules",
    "ScheduleDefinition": "flowdev.defs.schedules",
    "SensorDefinition": "flowdev.defs.schedules",
    "SkipReason": "flowdev.defs.schedules",
    "TableColumn": "flowdev.defs.metadata",
    "TableColumnConstraints": "flowdev.defs.metadata",
    "TableColumnDep": "flowdev.defs.metadata",
    "TableColumnLineage": "flowdev.defs.metadata",
    "TableRecord": "flowdev.defs.metadata",
    "TableSchema": "flowdev.defs.metadata",
    "apply_freshness_policy": "flowdev.defs.assets",
    "asset": "flowdev.defs.decorators",
    "asset_check": "flowdev.defs.checks",
    "build_asset_context": "flowdev.execution.context",
    "build_init_resource_context": "flowdev.resources.resource",
    "build_op_context": "flowdev.execution.context",
    "define_asset_job": "flowdev.defs.jobs",
    "in_process_executor": "flowdev.defs.executors",
    "multiprocess_executor": "flowdev.defs.executors",
    "graph": "flowdev.defs.jobs",
    "io_manager": "flowdev.resources.io",
    "job": "flowdev.defs.jobs",
    "load_asset_checks_from_modules": "flowdev.defs.loading",
    "load_asset_checks_from_package_module": "flowdev.defs.loading",
    "load_assets_from_current_module": "flowdev.defs.loading",
    "load_assets_from_modules": "flowdev.defs.loading",
    "load_assets_from_package_module": "flowdev.defs.loading",
    "load_assets_from_package_name": "flowdev.defs.loading",
    "map_asset_specs": "flowdev.defs.assets",
    "materialize": "flowdev.execution.materialize",
    "multi_asset": "flowdev.defs.decorators",
    "op": "flowdev.defs.jobs",
    "resource": "flowdev.resources.resource",
    "schedule": "flowdev.defs.schedules",
    "sensor": "flowdev.defs.schedules",
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
    "ExecutorDefinition",
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
    "in_process_executor",
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
    "multiprocess_executor",
    "op",
    "resource",
    "schedule",
    "sensor",
]
