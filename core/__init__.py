"""flowdev: asset-first data orchestration with a live terminal dev environment.

The names and their semantics are Dagster's, so ``import flowdev as dg`` or
``from flowdev import asset`` reads like a Dagster project. Importing this package
loads only the definitions layer: no Textual, networkx, SQLite or CLI code.
"""

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
from flowdev.config import Config, EnvVar, PrivateAttr, RunConfig
from flowdev.context import (
    AssetExecutionContext,
    OpExecutionContext,
    build_asset_context,
    build_op_context,
)
from flowdev.decorators import asset, multi_asset
from flowdev.definitions import Definitions
from flowdev.errors import FlowdevError
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
from flowdev.materialize import ExecuteInProcessResult, materialize
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
from flowdev.results import AssetMaterialization, Failure, MaterializeResult, Output, RetryRequested
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
