"""Asset definitions as data: `AssetSpec`, `AssetOut` and `AssetsDefinition`.

The decorators that build them live in `flowdev.decorators`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowdev.code_version import function_code_version
from flowdev.errors import InvalidDefinitionError
from flowdev.keys import AssetDep, AssetKey, to_asset_key, to_dep_key
from flowdev.policies import FreshnessPolicy

DEFAULT_GROUP = "default"
DEFAULT_IO_MANAGER_KEY = "io_manager"


def _tuple_of_strings(value: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(value) if value else ()


def to_deps(values: Iterable[Any] | None) -> tuple[AssetDep, ...]:
    """Normalise a ``deps=`` argument, refusing duplicates."""
    if not values:
        return ()
    deps: dict[AssetKey, AssetDep] = {}
    for value in values:
        key = to_dep_key(value)
        deps[key] = value if isinstance(value, AssetDep) else AssetDep(key)
    return tuple(deps.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetSpec:
    """A description of one asset: its key and everything about it except how to compute it.

    Alone in ``Definitions(assets=[...])`` it declares an external asset: flowdev never
    materializes it, but other assets may depend on it.
    """

    key: AssetKey
    deps: tuple[AssetDep, ...] = ()
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    skippable: bool = False
    group_name: str | None = None
    code_version: str | None = None
    freshness_policy: FreshnessPolicy | None = None
    automation_condition: Any = None
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    kinds: frozenset[str] = frozenset()

    def __init__(
        self,
        key: Any,
        *,
        deps: Iterable[Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        skippable: bool = False,
        group_name: str | None = None,
        code_version: str | None = None,
        freshness_policy: FreshnessPolicy | None = None,
        legacy_freshness_policy: FreshnessPolicy | None = None,
        automation_condition: Any = None,
        owners: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] | None = None,
        partitions_def: Any = None,
    ) -> None:
        if partitions_def is not None:
            raise InvalidDefinitionError(
                f"asset {to_asset_key(key).to_user_string()!r}: partitions are not supported "
                "by flowdev yet; remove partitions_def="
            )
        setattr_ = object.__setattr__
        setattr_(self, "key", to_asset_key(key))
        setattr_(self, "deps", to_deps(deps))
        setattr_(self, "description", description)
        setattr_(self, "metadata", dict(metadata) if metadata else {})
        setattr_(self, "skippable", skippable)
        setattr_(self, "group_name", group_name)
        setattr_(self, "code_version", code_version)
        setattr_(self, "freshness_policy", freshness_policy or legacy_freshness_policy)
        setattr_(self, "automation_condition", automation_condition)
        setattr_(self, "owners", _tuple_of_strings(owners))
        setattr_(self, "tags", dict(tags) if tags else {})
        setattr_(self, "kinds", frozenset(kinds) if kinds else frozenset())

    def replace_attributes(self, **changes: Any) -> AssetSpec:
        """A copy with ``changes`` applied (Dagster's name)."""
        if "deps" in changes:
            changes["deps"] = to_deps(changes["deps"])
        if "key" in changes:
            changes["key"] = to_asset_key(changes["key"])
        return _replace(self, **changes)

    def merge_attributes(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        owners: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] | None = None,
        deps: Iterable[Any] | None = None,
    ) -> AssetSpec:
        """A copy with these added to what the spec already has (Dagster's name)."""
        return _replace(
            self,
            metadata={**self.metadata, **(metadata or {})},
            owners=self.owners + tuple(o for o in owners or () if o not in self.owners),
            tags={**self.tags, **(tags or {})},
            kinds=self.kinds | frozenset(kinds or ()),
            deps=to_deps([*self.deps, *(deps or ())]),
        )

    @property
    def dep_keys(self) -> tuple[AssetKey, ...]:
        """The keys this asset depends on."""
        return tuple(dep.asset for dep in self.deps)


def _replace(spec: AssetSpec, **changes: Any) -> AssetSpec:
    # dataclasses.replace would call our custom __init__ with field names; copy instead.
    clone = object.__new__(AssetSpec)
    for f in dataclasses.fields(AssetSpec):
        object.__setattr__(clone, f.name, changes.get(f.name, getattr(spec, f.name)))
    return clone


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetOut:
    """One output of a `multi_asset` written with ``outs={"name": AssetOut(...)}``."""

    key: AssetKey | None = None
    key_prefix: tuple[str, ...] | None = None
    group_name: str | None = None
    description: str | None = None
    metadata: Mapping[str, Any] | None = None
    io_manager_key: str | None = None
    is_required: bool = True
    code_version: str | None = None
    freshness_policy: FreshnessPolicy | None = None
    owners: Sequence[str] | None = None
    tags: Mapping[str, str] | None = None
    kinds: Iterable[str] | None = None
    deps: Iterable[Any] | None = None

    def __init__(self, key: Any = None, **kwargs: Any) -> None:
        prefix = kwargs.pop("key_prefix", None)
        object.__setattr__(self, "key", None if key is None else to_asset_key(key))
        object.__setattr__(
            self, "key_prefix", (prefix,) if isinstance(prefix, str) else prefix and tuple(prefix)
        )
        names = {f.name for f in dataclasses.fields(AssetOut)}
        for name in names - {"key", "key_prefix"}:
            object.__setattr__(self, name, kwargs.pop(name, AssetOut._defaults[name]))
        kwargs.pop("dagster_type", None)
        if kwargs:
            raise InvalidDefinitionError(f"AssetOut got unknown arguments: {sorted(kwargs)}")

    _defaults = {
        "group_name": None,
        "description": None,
        "metadata": None,
        "io_manager_key": None,
        "is_required": True,
        "code_version": None,
        "freshness_policy": None,
        "owners": None,
        "tags": None,
        "kinds": None,
        "deps": None,
    }

    def to_spec(self, output_name: str, default_group: str | None) -> AssetSpec:
        """The spec of this output, named after its key or the output name."""
        key = self.key or AssetKey(output_name)
        if self.key_prefix:
            key = key.with_prefix(self.key_prefix)
        return AssetSpec(
            key,
            deps=self.deps,
            description=self.description,
            metadata=self.metadata,
            skippable=not self.is_required,
            group_name=self.group_name or default_group,
            code_version=self.code_version,
            freshness_policy=self.freshness_policy,
            owners=self.owners,
            tags=self.tags,
            kinds=self.kinds,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetsDefinition:
    """A function that materializes one or more assets, with everything known about them.

    Call it like the function it wraps to test it with plain arguments.
    """

    fn: Callable[..., Any]
    op_name: str
    specs: tuple[AssetSpec, ...]
    output_names: tuple[str, ...]
    io_manager_keys: tuple[str, ...]
    input_keys: Mapping[str, AssetKey]
    input_manager_keys: Mapping[str, str] = field(default_factory=dict)
    context_param: str | None = None
    resource_params: Mapping[str, str] = field(default_factory=dict)
    config_param: tuple[str, type] | None = None
    required_resource_keys: frozenset[str] = frozenset()
    resource_defs: Mapping[str, Any] = field(default_factory=dict)
    retry_policy: Any = None
    can_subset: bool = False
    check_specs: tuple[Any, ...] = ()
    op_tags: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """The keys this definition materializes."""
        return tuple(spec.key for spec in self.specs)

    @property
    def key(self) -> AssetKey:
        """The key of a single-asset definition."""
        if len(self.specs) != 1:
            raise InvalidDefinitionError(
                f"{self.op_name!r} materializes {len(self.specs)} assets; use .keys"
            )
        return self.specs[0].key

    @property
    def specs_by_key(self) -> dict[AssetKey, AssetSpec]:
        """Each spec by its key."""
        return {spec.key: spec for spec in self.specs}

    @property
    def source(self) -> tuple[str, int]:
        """The file and first line of the function (its first decorator)."""
        code = self.fn.__code__
        return code.co_filename, code.co_firstlineno

    @property
    def group_names_by_key(self) -> dict[AssetKey, str]:
        """Each key's group."""
        return {spec.key: spec.group_name or DEFAULT_GROUP for spec in self.specs}

    def code_version_of(self, key: AssetKey) -> str:
        """The declared code version of ``key``, or the hash of the function's source."""
        declared = self.specs_by_key[key].code_version
        return declared if declared is not None else function_code_version(self.fn)

    def map_specs(self, change: Callable[[AssetSpec], AssetSpec]) -> AssetsDefinition:
        """A copy whose specs went through ``change`` (keys stay: use `with_attributes`)."""
        new_specs = tuple(change(spec) for spec in self.specs)
        for old, new in zip(self.specs, new_specs, strict=True):
            if old.key != new.key:
                raise InvalidDefinitionError(
                    f"cannot rename asset {old.key.to_user_string()!r} to "
                    f"{new.key.to_user_string()!r} through its spec; use key_prefix= or key="
                )
        return dataclasses.replace(self, specs=new_specs)

    def with_attributes(
        self,
        *,
        asset_key_map: Mapping[AssetKey, AssetKey] | None = None,
        group_name: str | None = None,
    ) -> AssetsDefinition:
        """A copy with keys renamed by ``asset_key_map`` (its own, its inputs' and its
        deps') and, when given, every asset moved to ``group_name``."""
        key_map = asset_key_map or {}

        def change(spec: AssetSpec) -> AssetSpec:
            return spec.replace_attributes(
                key=key_map.get(spec.key, spec.key),
                deps=[key_map.get(k, k) for k in spec.dep_keys],
                group_name=group_name or spec.group_name,
            )

        new_inputs = {name: key_map.get(key, key) for name, key in self.input_keys.items()}
        return dataclasses.replace(
            self, specs=tuple(change(s) for s in self.specs), input_keys=new_inputs
        )


def map_asset_specs(change: Callable[[AssetSpec], AssetSpec], assets: Iterable[Any]) -> list[Any]:
    """Apply ``change`` to every spec of ``assets`` (definitions or specs), as Dagster does."""
    mapped: list[Any] = []
    for item in assets:
        if isinstance(item, AssetSpec):
            mapped.append(change(item))
        elif isinstance(item, AssetsDefinition):
            mapped.append(item.map_specs(change))
        else:
            mapped.append(item)
    return mapped


def apply_freshness_policy(
    assets: Iterable[Any], policy: FreshnessPolicy, *, overwrite_existing: bool = True
) -> list[Any]:
    """Give every asset in ``assets`` the freshness ``policy``."""

    def change(spec: AssetSpec) -> AssetSpec:
        if spec.freshness_policy is not None and not overwrite_existing:
            return spec
        return spec.replace_attributes(freshness_policy=policy)

    return map_asset_specs(change, assets)
