"""`Definitions`: everything a project defines, validated once when it is built."""

from __future__ import annotations

from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeGuard

from flowdev.defs.assets import (
    DEFAULT_GROUP,
    DEFAULT_IO_MANAGER_KEY,
    DEFAULT_IO_MANAGER_KEYS,
    AssetsDefinition,
    AssetSpec,
)
from flowdev.defs.executors import ExecutorDefinition, check_executor
from flowdev.errors import (
    DuplicateKeyError,
    InvalidDefinitionError,
    MissingResourceError,
    SelectionError,
    close_matches,
    did_you_mean,
    refuse_unsupported,
)
from flowdev.keys import AssetKey, is_valid_key, validate_key
from flowdev.selection.graph import AssetGraph, AssetNode

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    # Imported where they are used: a project without checks, jobs or schedules (and
    # every run's worker) never pays for loading them.
    from flowdev.defs.checks import AssetChecksDefinition
    from flowdev.defs.jobs import JobDefinition, UnresolvedAssetJobDefinition
    from flowdev.defs.schedules import ScheduleDefinition, SensorDefinition

# Provided by flowdev when a project does not bind them itself.
DEFAULT_RESOURCE_KEYS = frozenset({DEFAULT_IO_MANAGER_KEY})


def _where(definer: AssetsDefinition | AssetSpec) -> str:
    if isinstance(definer, AssetSpec):
        return f"AssetSpec({definer.key.to_user_string()!r})"
    filename, line = definer.source
    return f"{filename}:{line}"


def _describe(assets_def: AssetsDefinition) -> str:
    keys = ", ".join(repr(key.to_user_string()) for key in assets_def.keys)
    return f"asset {keys}" if len(assets_def.specs) == 1 else f"multi-asset ({keys})"


_keys_of = attrgetter("keys")
_parents_of = attrgetter("parents")


def _is_check(item: Any) -> bool:
    from flowdev.defs.checks import AssetChecksDefinition

    return isinstance(item, AssetChecksDefinition)


def _is_asset_job(job: Any) -> TypeGuard[UnresolvedAssetJobDefinition]:
    from flowdev.defs.jobs import UnresolvedAssetJobDefinition

    return isinstance(job, UnresolvedAssetJobDefinition)


class Definitions:
    """The assets, checks, jobs, schedules, sensors and resources of a project.

    Building one validates it: duplicate keys, cycles, invalid keys, missing resources,
    and jobs, schedules and sensors that point at nothing all raise a
    `DefinitionsError` that says what to change. A dependency on a key that nothing
    defines becomes an external asset, listed in ``undefined_dependency_keys``.
    """

    def __init__(
        self,
        assets: Iterable[Any] | None = None,
        asset_checks: Iterable[AssetChecksDefinition] | None = None,
        jobs: Iterable[JobDefinition | UnresolvedAssetJobDefinition] | None = None,
        schedules: Iterable[ScheduleDefinition] | None = None,
        sensors: Iterable[SensorDefinition] | None = None,
        resources: Mapping[str, Any] | None = None,
        executor: ExecutorDefinition | None = None,
        loggers: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        # Runs log to flowdev's instance.
        refuse_unsupported("Definitions", loggers=loggers)
        self.executor = check_executor("Definitions(executor=...)", executor)
        self.assets: tuple[AssetsDefinition, ...] = ()
        self.external_specs: tuple[AssetSpec, ...] = ()
        checks = list(asset_checks or ())
        items = list(assets or ())
        defined = [item for item in items if item.__class__ is AssetsDefinition]
        external: list[AssetSpec] = []
        if len(defined) != len(items):  # specs, checks, or something that is neither
            defined = []
            for item in items:
                if isinstance(item, AssetsDefinition):
                    defined.append(item)
                elif isinstance(item, AssetSpec):
                    external.append(item)
                elif _is_check(item):
                    checks.append(item)
                else:
                    raise InvalidDefinitionError(
                        f"Definitions(assets=...) got {item!r}; pass @asset / @multi_asset "
                        "definitions or AssetSpecs"
                    )
        self.assets = tuple(defined)
        self.external_specs = tuple(external)
        self.asset_checks: tuple[AssetChecksDefinition, ...] = tuple(checks)
        self.schedules = tuple(schedules or ())
        self.sensors = tuple(sensors or ())
        # As in Dagster, a job that a schedule or sensor targets is part of the project.
        all_jobs = list(jobs or ())
        targets: list[ScheduleDefinition | SensorDefinition] = [*self.schedules, *self.sensors]
        for target in targets:
            if target.job is not None and all(target.job is not j for j in all_jobs):
                all_jobs.append(target.job)
        self.jobs = tuple(all_jobs)
        self.resources: dict[str, Any] = dict(resources or {})
        self.metadata = dict(metadata or {})
        self.undefined_dependency_keys: tuple[AssetKey, ...] = ()
        self._assets_by_key: dict[AssetKey, AssetsDefinition] = {}
        # The specs of external assets; a defined asset's spec is its definition's.
        self._external_specs: dict[AssetKey, AssetSpec] = {}
        self.asset_graph, needs_resources = self._build_graph()
        self._validate_resources(needs_resources)
        self._validate_checks()
        self._validate_jobs()

    # -- lookups -------------------------------------------------------------------------

    def get_assets_def(self, key: Any) -> AssetsDefinition:
        """The definition that materializes ``key`` (KeyError for external assets)."""
        from flowdev.keys import to_asset_key

        return self._assets_by_key[to_asset_key(key)]

    def get_spec(self, key: AssetKey) -> AssetSpec:
        """The spec of ``key``, defined or external."""
        assets_def = self._assets_by_key.get(key)
        if assets_def is None:
            return self._external_specs[key]
        specs = assets_def.specs
        return specs[0] if len(specs) == 1 else assets_def.specs_by_key[key]

    def is_external(self, key: AssetKey) -> bool:
        """Whether flowdev never materializes ``key``."""
        return key not in self._assets_by_key

    def get_job_def(self, name: str) -> JobDefinition | UnresolvedAssetJobDefinition:
        """The job called ``name``."""
        for job in self.jobs:
            if job.name == name:
                return job
        hint = did_you_mean(close_matches(name, [j.name for j in self.jobs]))
        raise InvalidDefinitionError(f"no job named {name!r}.{hint}")

    @staticmethod
    def merge(*defs: Definitions) -> Definitions:
        """One `Definitions` holding everything in ``defs``."""
        resources: dict[str, Any] = {}
        for item in defs:
            resources.update(item.resources)
        return Definitions(
            assets=[a for d in defs for a in (*d.assets, *d.external_specs)],
            asset_checks=[c for d in defs for c in d.asset_checks],
            jobs=[j for d in defs for j in d.jobs],
            schedules=[s for d in defs for s in d.schedules],
            sensors=[s for d in defs for s in d.sensors],
            resources=resources,
            executor=next((d.executor for d in reversed(defs) if d.executor), None),
        )

    # -- validation ----------------------------------------------------------------------

    def _build_graph(self) -> tuple[AssetGraph, list[AssetsDefinition]]:
        """The graph, and the definitions that need more than the default IO manager."""
        # Runs once per asset on every load: plain loops of dict operations. The graph's
        # nodes (group, tags, ...) are made from the specs when first read.
        parents_by_key: dict[AssetKey, tuple[AssetKey, ...]] = {}
        assets_by_key = self._assets_by_key
        op_owners: dict[str, AssetsDefinition] = {}
        resources = self.resources
        # (key, parent) where the parent was not defined before the key: most projects
        # list upstream first, so this stays short and settles both undefined keys and
        # whether the graph can be cyclic at all.
        late: list[tuple[AssetKey, AssetKey]] = []
        assets = self.assets
        # One loop over every key with its parents and definition: a zip() per
        # definition would cost more than the loop's own work.
        keys = list(chain.from_iterable(map(_keys_of, assets)))
        owners = assets if len(keys) == len(assets) else [a for a in assets for _ in a.keys]
        all_parents = chain.from_iterable(map(_parents_of, assets))
        for key, parents, assets_def in zip(keys, all_parents, owners, strict=True):
            if key in parents_by_key:
                self._refuse_twice(key, assets_def)
            if not is_valid_key(key):
                validate_key(key, _where(assets_def))
            for parent in parents:
                if parent not in parents_by_key:
                    late.append((key, parent))
            parents_by_key[key] = parents
            assets_by_key[key] = assets_def
        needs_resources: list[AssetsDefinition] = []
        for assets_def in assets:
            owner = op_owners.setdefault(assets_def.op_name, assets_def)
            if owner is not assets_def:  # checked after the keys: a key clash says more
                self._refuse_op_name(owner, assets_def)
            if assets_def.resource_defs:  # bound by the asset itself (Dagster's resource_defs=)
                for resource_key, resource in assets_def.resource_defs.items():
                    resources.setdefault(resource_key, resource)
            if (
                assets_def.required_resource_keys
                or assets_def.input_manager_keys
                or assets_def.io_manager_keys != DEFAULT_IO_MANAGER_KEYS
            ):
                needs_resources.append(assets_def)
        external = self._external_specs
        for spec in self.external_specs:
            key = spec.key
            if key in parents_by_key:
                self._refuse_twice(key, spec)
            validate_key(key, _where(spec))
            external[key] = spec
            parents = parents_by_key[key] = spec.dep_keys
            late.extend((key, parent) for parent in parents)
        undefined: dict[AssetKey, None] = {}
        # Every parent came first or has no parents itself (so lies on no cycle): then
        # the graph is acyclic without a topological sort.
        in_order = True
        for key, parent in late:
            if parent in parents_by_key:
                in_order = in_order and not parents_by_key[parent]
            elif parent not in undefined:
                validate_key(parent, f"a dependency of {key.to_user_string()!r}")
                undefined[parent] = None
        for key in undefined:
            parents_by_key[key] = ()
            external[key] = AssetSpec(key)
        self.undefined_dependency_keys = tuple(sorted(undefined))
        graph = AssetGraph.from_parents(parents_by_key, self._node_of, acyclic=in_order)
        return graph, needs_resources

    def _node_of(self, key: AssetKey) -> AssetNode:
        spec = self.get_spec(key)
        return AssetNode(
            key=key,
            parents=spec.dep_keys,
            group_name=spec.group_name or DEFAULT_GROUP,
            tags=spec.tags,
            kinds=spec.kinds,
            owners=spec.owners,
            is_external=key not in self._assets_by_key,
        )

    def _refuse_twice(self, key: AssetKey, definer: AssetsDefinition | AssetSpec) -> None:
        first = self._assets_by_key.get(key) or self._external_specs[key]
        raise DuplicateKeyError(
            f"asset key {key.to_user_string()!r} is defined twice: at {_where(first)} and "
            f"at {_where(definer)}. Rename one (name=, key=) or give it a key_prefix=."
        )

    @staticmethod
    def _refuse_op_name(first: AssetsDefinition, second: AssetsDefinition) -> None:
        # A run's steps, their config (`ops.<name>`) and their logs are keyed by op name, so
        # two definitions sharing one would be one step; Dagster refuses this too.
        raise DuplicateKeyError(
            f"two asset definitions have the op name {first.op_name!r}: {_describe(first)} "
            f"at {_where(first)} and {_describe(second)} at {_where(second)}. An asset's op "
            "name is its key parts joined by '__' (a multi-asset's is its name=); rename "
            "one of them (name=, key=, or the function)."
        )

    def _validate_resources(self, needs_resources: list[AssetsDefinition]) -> None:
        available = DEFAULT_RESOURCE_KEYS | set(self.resources)
        for assets_def in needs_resources:  # the others use only the default IO manager
            needed = assets_def.required_resource_keys | set(assets_def.io_manager_keys)
            needed |= set(assets_def.input_manager_keys.values())
            for resource_key in sorted(needed - available):
                raise MissingResourceError(
                    f"asset {assets_def.keys[0].to_user_string()!r} ({_where(assets_def)}) "
                    f"requires the resource {resource_key!r}, which Definitions(resources=...) "
                    f"does not provide (it has: {', '.join(sorted(self.resources)) or 'none'})."
                    f"{did_you_mean(close_matches(resource_key, self.resources))} Add "
                    f"`{resource_key}=...` to `resources`."
                )
        for check in self.asset_checks:
            for resource_key in sorted(check.required_resource_keys - available):
                raise MissingResourceError(
                    f"asset check {check.check_key.to_user_string()!r} requires the resource "
                    f"{resource_key!r}; add `{resource_key}=...` to `resources`."
                )

    def _validate_checks(self) -> None:
        seen: set[Any] = set()
        for check in self.asset_checks:
            key = check.spec.asset_key
            if key not in self.asset_graph:
                known = [k.to_user_string() for k in self.asset_graph.keys]
                raise InvalidDefinitionError(
                    f"asset check {check.spec.name!r} targets {key.to_user_string()!r}, which no "
                    f"asset defines.{did_you_mean(close_matches(key.to_user_string(), known))}"
                )
            if check.check_key in seen:
                raise DuplicateKeyError(
                    f"asset check {check.check_key.to_user_string()!r} is defined twice"
                )
            seen.add(check.check_key)

    def _validate_jobs(self) -> None:
        names = [job.name for job in self.jobs]
        for name in names:
            if names.count(name) > 1:
                raise DuplicateKeyError(f"two jobs are named {name!r}; job names must be unique")
        for job in self.jobs:
            if _is_asset_job(job):
                from flowdev.selection.algebra import resolve_selection

                try:
                    resolve_selection(self.asset_graph, job.selection)
                except SelectionError as error:
                    raise InvalidDefinitionError(f"job {job.name!r}: {error}") from None
        job_names = set(names)
        for schedule in self.schedules:
            self._check_target("schedule", schedule.name, schedule.job_name, job_names)
        for sensor in self.sensors:
            self._check_target("sensor", sensor.name, sensor.job_name, job_names)
        for kind, items in (("schedule", self.schedules), ("sensor", self.sensors)):
            item_names = [item.name for item in items]
            for name in item_names:
                if item_names.count(name) > 1:
                    raise DuplicateKeyError(f"two {kind}s are named {name!r}")

    @staticmethod
    def _check_target(kind: str, name: str, job_name: str | None, job_names: set[str]) -> None:
        if job_name is not None and job_name not in job_names:
            raise InvalidDefinitionError(
                f"{kind} {name!r} targets the job {job_name!r}, which is not in "
                f"Definitions(jobs=...).{did_you_mean(close_matches(job_name, job_names))} "
                "Add the job to `jobs`."
            )
