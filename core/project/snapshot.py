"""The loaded definitions as plain data: what the app, the CLI and statuses read.

A `DefinitionsSnapshot` is built where the user's code was imported (the loader's child
process, or a worker) and crosses process boundaries as JSON. It holds no functions,
resources or secret values: only names, keys, policies, code versions and where each
definition lives, so the process that reads it never has to import user code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowdev.keys import AssetKey
from flowdev.records import EMPTY, freeze, record
from flowdev.selection.graph import AssetGraph, AssetNode

if TYPE_CHECKING:
    from flowdev.defs.definitions import Definitions

SNAPSHOT_VERSION = 1


@record
class AssetSnapshot:
    """One asset as the app shows it."""

    key: AssetKey
    deps: tuple[AssetKey, ...] = ()
    group: str = "default"
    description: str | None = None
    tags: Mapping[str, str] = EMPTY
    kinds: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = EMPTY
    is_external: bool = False
    op_name: str | None = None
    code_version: str | None = None
    source_file: str | None = None
    source_line: int | None = None
    freshness_policy: Mapping[str, Any] | None = None
    retry_policy: Mapping[str, Any] | None = None
    io_manager_key: str | None = None
    checks: tuple[str, ...] = ()
    required_resource_keys: tuple[str, ...] = ()

    @property
    def source(self) -> str | None:
        """``"path:line"`` of the function that defines it, if any."""
        if self.source_file is None:
            return None
        return f"{self.source_file}:{self.source_line}"

    def to_json(self) -> dict[str, Any]:
        """The JSON form (keys as ``"a/b"`` strings). Fields at their default are left
        out: at 10,000 assets that halves what crosses the pipe from the loader's child
        and the time to encode and decode it."""
        data: dict[str, Any] = {"key": self.key.to_user_string()}
        if self.deps:
            data["deps"] = [dep.to_user_string() for dep in self.deps]
        if self.group != "default":
            data["group"] = self.group
        for name in _OPTIONAL_JSON_FIELDS:
            value = getattr(self, name)
            if value:
                data[name] = value if value.__class__ in (str, int, bool) else _plain(value)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssetSnapshot:
        """Inverse of `to_json` (also reads the form that wrote every field)."""
        get = data.get
        key_of = AssetKey.from_user_string
        return cls(
            key=key_of(data["key"]),
            deps=tuple(map(key_of, get("deps", ()))),
            group=get("group", "default"),
            description=get("description"),
            tags=freeze(get("tags")),
            kinds=tuple(get("kinds", ())),
            owners=tuple(get("owners", ())),
            metadata=freeze(get("metadata")),
            is_external=get("is_external", False),
            op_name=get("op_name"),
            code_version=get("code_version"),
            source_file=get("source_file"),
            source_line=get("source_line"),
            freshness_policy=freeze(get("freshness_policy")) or None,
            retry_policy=freeze(get("retry_policy")) or None,
            io_manager_key=get("io_manager_key"),
            checks=tuple(get("checks", ())),
            required_resource_keys=tuple(get("required_resource_keys", ())),
        )


# Written only when set (falsy values are their defaults); `to_json` writes the others.
_OPTIONAL_JSON_FIELDS = (
    "description",
    "tags",
    "kinds",
    "owners",
    "metadata",
    "is_external",
    "op_name",
    "code_version",
    "source_file",
    "source_line",
    "freshness_policy",
    "retry_policy",
    "io_manager_key",
    "checks",
    "required_resource_keys",
)


def _plain(value: Any) -> Any:
    """A JSON-ready copy: tuples and sets as lists, mappings as dicts."""
    if isinstance(value, Mapping):
        return dict(value)
    return list(value)


@record
class CheckSnapshot:
    """One asset check."""

    asset_key: AssetKey
    name: str
    description: str | None = None
    blocking: bool = False
    source_file: str | None = None
    source_line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "asset_key": self.asset_key.to_user_string(),
            "name": self.name,
            "description": self.description,
            "blocking": self.blocking,
            "source_file": self.source_file,
            "source_line": self.source_line,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckSnapshot:
        """Inverse of `to_json`."""
        return cls(**{**data, "asset_key": AssetKey.from_user_string(data["asset_key"])})


@record
class JobSnapshot:
    """A job: ``asset_keys`` for asset jobs, empty for op jobs."""

    name: str
    description: str | None = None
    asset_keys: tuple[AssetKey, ...] = ()
    tags: Mapping[str, str] = EMPTY

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "description": self.description,
            "asset_keys": [key.to_user_string() for key in self.asset_keys],
            "tags": dict(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSnapshot:
        """Inverse of `to_json`."""
        keys = tuple(AssetKey.from_user_string(key) for key in data["asset_keys"])
        return cls(**{**data, "asset_keys": keys, "tags": freeze(data.get("tags"))})


@record
class ScheduleSnapshot:
    """A schedule (``cron_schedule``) or a sensor (``interval_seconds``) and its job."""

    name: str
    kind: str  # "schedule" or "sensor"
    job_name: str | None = None
    cron_schedule: str | None = None
    timezone: str | None = None
    interval_seconds: int | None = None
    default_status: str = "STOPPED"
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "kind": self.kind,
            "job_name": self.job_name,
            "cron_schedule": self.cron_schedule,
            "timezone": self.timezone,
            "interval_seconds": self.interval_seconds,
            "default_status": self.default_status,
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScheduleSnapshot:
        """Inverse of `to_json`."""
        return cls(**data)


@dataclass(frozen=True, slots=True, kw_only=True)
class DefinitionsSnapshot:
    """Everything known about a project's definitions, without its code.

    ``assets`` are in topological order. ``undefined_dependency_keys`` are the external
    assets that exist only because something depends on them (``flowdev check`` warns
    about each). ``load_seconds`` is how long importing the definitions took.
    ``config_schemas`` maps each op that takes a `Config` to its fields, and
    ``resource_config_schemas`` each resource key to the config it takes (see
    `flowdev.resources.schema`), so run config is checked before a run is launched.
    """

    assets: tuple[AssetSnapshot, ...]
    checks: tuple[CheckSnapshot, ...] = ()
    jobs: tuple[JobSnapshot, ...] = ()
    schedules: tuple[ScheduleSnapshot, ...] = ()
    resource_keys: tuple[str, ...] = ()
    undefined_dependency_keys: tuple[AssetKey, ...] = ()
    load_seconds: float = 0.0
    config_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    resource_config_schemas: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    _index: dict[AssetKey, AssetSnapshot] = field(default_factory=dict, repr=False, compare=False)
    _graph: list[AssetGraph] = field(default_factory=list, repr=False, compare=False)
    _strings: list[tuple[tuple[str, tuple[str, ...]], ...]] = field(
        default_factory=list, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._index.update((asset.key, asset) for asset in self.assets)

    def __len__(self) -> int:
        return len(self.assets)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """Every asset key, in topological order."""
        return tuple(asset.key for asset in self.assets)

    @property
    def key_strings(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Each asset's ``"a/b"`` key and its deps' keys, aligned with ``assets``.

        Computed once per snapshot: statuses look assets up by these strings on every
        refresh, and string keys hash in C where `AssetKey` hashes in Python.
        """
        if not self._strings:
            self._strings.append(
                tuple(
                    (asset.key.to_user_string(), tuple(d.to_user_string() for d in asset.deps))
                    for asset in self.assets
                )
            )
        return self._strings[0]

    def get(self, key: AssetKey) -> AssetSnapshot:
        """The asset ``key`` (KeyError if there is none)."""
        return self._index[key]

    @property
    def asset_graph(self) -> AssetGraph:
        """The dependency graph, for selections and layout (built once)."""
        if not self._graph:
            self._graph.append(
                AssetGraph(
                    AssetNode(
                        key=asset.key,
                        parents=asset.deps,
                        group_name=asset.group,
                        tags=asset.tags,
                        kinds=frozenset(asset.kinds),
                        owners=asset.owners,
                        is_external=asset.is_external,
                    )
                    for asset in self.assets
                )
            )
        return self._graph[0]

    @property
    def code_fingerprint(self) -> str:
        """A short hash of every asset's key and code version: what a run was launched with."""
        return _fingerprint((asset.key, asset.code_version) for asset in self.assets)

    def to_json(self) -> dict[str, Any]:
        """The JSON form that crosses process boundaries."""
        return {
            "version": SNAPSHOT_VERSION,
            "assets": [asset.to_json() for asset in self.assets],
            "checks": [check.to_json() for check in self.checks],
            "jobs": [job.to_json() for job in self.jobs],
            "schedules": [schedule.to_json() for schedule in self.schedules],
            "resource_keys": list(self.resource_keys),
            "undefined_dependency_keys": [
                key.to_user_string() for key in self.undefined_dependency_keys
            ],
            "load_seconds": self.load_seconds,
            "config_schemas": dict(self.config_schemas),
            "resource_config_schemas": dict(self.resource_config_schemas),
        }

    def validate_run_config(self, run_config: Mapping[str, Any], asset_keys: Iterable[str]) -> None:
        """Check ``run_config`` for a run of ``asset_keys`` (``"a/b"`` strings), before it
        is launched.

        Raises:
            ConfigError: every problem, one per line, each with its run-config path.
        """
        from flowdev.resources.schema import validate_run_config

        op_names = {a.op_name for a in self.assets if a.op_name is not None}
        selected = {self.get(AssetKey.from_user_string(key)).op_name for key in asset_keys}
        validate_run_config(
            run_config,
            {name: self.config_schemas.get(name) for name in op_names},
            {key: self.resource_config_schemas.get(key) for key in self.resource_keys},
            {name for name in selected if name is not None},
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DefinitionsSnapshot:
        """Inverse of `to_json`."""
        return cls(
            assets=tuple(AssetSnapshot.from_json(asset) for asset in data["assets"]),
            checks=tuple(CheckSnapshot.from_json(check) for check in data["checks"]),
            jobs=tuple(JobSnapshot.from_json(job) for job in data["jobs"]),
            schedules=tuple(ScheduleSnapshot.from_json(s) for s in data["schedules"]),
            resource_keys=tuple(data["resource_keys"]),
            undefined_dependency_keys=tuple(
                AssetKey.from_user_string(key) for key in data["undefined_dependency_keys"]
            ),
            load_seconds=data["load_seconds"],
            config_schemas=data.get("config_schemas", {}),
            resource_config_schemas=data.get("resource_config_schemas", {}),
        )


def fingerprint_of(defs: Definitions) -> str:
    """`DefinitionsSnapshot.code_fingerprint` of ``defs``, without building the snapshot."""
    return _fingerprint(
        (key, None if defs.is_external(key) else defs.get_assets_def(key).code_version_of(key))
        for key in defs.asset_graph.keys
    )


def _fingerprint(versions: Iterable[tuple[AssetKey, str | None]]) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for key, version in sorted(versions, key=lambda pair: pair[0]):
        digest.update(f"{key.to_user_string()}={version}\n".encode())
    return digest.hexdigest()[:12]


def build_snapshot(defs: Definitions, *, load_seconds: float = 0.0) -> DefinitionsSnapshot:
    """Describe ``defs`` as plain data (run where the user's code was imported)."""
    from flowdev.defs.metadata import metadata_to_json, normalize_metadata

    graph = defs.asset_graph
    checks_by_asset: dict[AssetKey, list[str]] = {}
    checks = []
    for check in defs.asset_checks:
        check_spec = check.spec
        checks_by_asset.setdefault(check_spec.asset_key, []).append(check_spec.name)
        code = getattr(check.fn, "__code__", None)
        checks.append(
            CheckSnapshot(
                asset_key=check_spec.asset_key,
                name=check_spec.name,
                description=check_spec.description,
                blocking=check_spec.blocking,
                source_file=code.co_filename if code else None,
                source_line=code.co_firstlineno if code else None,
            )
        )
    assets = []
    config_schemas: dict[str, dict[str, Any]] = {}
    for key in graph.keys:
        node = graph.node(key)
        spec = defs.get_spec(key)
        common: dict[str, Any] = {
            "key": key,
            "deps": node.parents,
            "group": node.group_name,
            "description": spec.description,
            "tags": freeze(spec.tags),
            "kinds": tuple(sorted(spec.kinds)),
            "owners": spec.owners,
            "metadata": freeze(metadata_to_json(normalize_metadata(spec.metadata))),
            "freshness_policy": freeze(spec.freshness_policy.to_json())
            if spec.freshness_policy
            else None,
            "checks": tuple(checks_by_asset.get(key, ())),
        }
        if defs.is_external(key):
            assets.append(AssetSnapshot(is_external=True, **common))
            continue
        assets_def = defs.get_assets_def(key)
        if assets_def.config_param is not None and assets_def.op_name not in config_schemas:
            from flowdev.resources.schema import class_schema

            config_schemas[assets_def.op_name] = class_schema(assets_def.config_param[1])
        source_file, source_line = assets_def.source
        retry = assets_def.retry_policy
        assets.append(
            AssetSnapshot(
                op_name=assets_def.op_name,
                code_version=assets_def.code_version_of(key),
                source_file=source_file,
                source_line=source_line,
                retry_policy=freeze(retry.to_json()) if retry is not None else None,
                io_manager_key=assets_def.io_manager_keys[assets_def.keys.index(key)],
                required_resource_keys=tuple(sorted(assets_def.required_resource_keys)),
                **common,
            )
        )
    return DefinitionsSnapshot(
        assets=tuple(assets),
        checks=tuple(checks),
        jobs=tuple(_job_snapshot(defs, job) for job in defs.jobs),
        schedules=tuple(_schedule_snapshots(defs)),
        resource_keys=tuple(sorted(defs.resources)),
        undefined_dependency_keys=tuple(defs.undefined_dependency_keys),
        load_seconds=load_seconds,
        config_schemas=config_schemas,
        resource_config_schemas=_resource_config_schemas(defs),
    )


def _resource_config_schemas(defs: Definitions) -> dict[str, dict[str, Any] | None]:
    from flowdev.resources.schema import resource_schema

    return {key: resource_schema(resource) for key, resource in defs.resources.items()}


def _job_snapshot(defs: Definitions, job: Any) -> JobSnapshot:
    from flowdev.selection.algebra import coerce_selection

    selection = getattr(job, "selection", None)
    keys: tuple[AssetKey, ...] = ()
    if selection is not None:
        selected = coerce_selection(selection).resolve(defs.asset_graph)
        keys = tuple(defs.asset_graph.toposort(selected))
    return JobSnapshot(
        name=job.name, description=job.description, asset_keys=keys, tags=freeze(job.tags)
    )


def _schedule_snapshots(defs: Definitions) -> list[ScheduleSnapshot]:
    found = []
    for schedule in defs.schedules:
        found.append(
            ScheduleSnapshot(
                name=schedule.name,
                kind="schedule",
                job_name=schedule.job_name or getattr(schedule.job, "name", None),
                cron_schedule=schedule.cron_schedule,
                timezone=schedule.execution_timezone,
                default_status=schedule.default_status.value,
                description=schedule.description,
            )
        )
    for sensor in defs.sensors:
        found.append(
            ScheduleSnapshot(
                name=sensor.name,
                kind="sensor",
                job_name=sensor.job_name or getattr(sensor.job, "name", None),
                interval_seconds=sensor.minimum_interval_seconds,
                default_status=sensor.default_status.value,
                description=sensor.description,
            )
        )
    return found


@record
class SnapshotDiff:
    """What changed between two snapshots, asset by asset (each in the new topological
    order; removed ones in the old order). ``edited`` assets kept their key but not
    their code version."""

    added: tuple[AssetKey, ...] = ()
    removed: tuple[AssetKey, ...] = ()
    edited: tuple[AssetKey, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.edited)


def diff_snapshots(old: DefinitionsSnapshot, new: DefinitionsSnapshot) -> SnapshotDiff:
    """The assets added, removed and edited (code version changed) from ``old`` to ``new``.

    An asset that turns external, or stops being external, counts as edited.
    """
    added = []
    edited = []
    for asset in new.assets:
        if asset.key not in old:
            added.append(asset.key)
            continue
        before = old.get(asset.key)
        if (before.code_version, before.is_external) != (asset.code_version, asset.is_external):
            edited.append(asset.key)
    removed = tuple(asset.key for asset in old.assets if asset.key not in new)
    return SnapshotDiff(added=tuple(added), removed=removed, edited=tuple(edited))
