"""Asset definitions as data: `AssetSpec`, `AssetOut` and `AssetsDefinition`.

The decorators that build them live in `flowdev.defs.decorators`. They build through
`new_spec` and `new_assets_def`, which skip the public constructors' normalisation
(see `flowdev.records`): every project load makes a definition per asset. An `@asset`'s
spec (its description, metadata, tags, ...) is made the first time it is read: a load
validates a project from keys and dependencies alone, and a run's worker reads the
specs of the assets it runs.
"""

from __future__ import annotations

from operator import attrgetter

from flowdev.errors import InvalidDefinitionError
from flowdev.keys import AssetDep, AssetKey, dep_on, to_asset_key, to_dep_key
from flowdev.records import building, fields, record, replace

# `typing` (2 ms to import) stays off the load path: see `flowdev.records`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Any

    from flowdev.defs.policies import FreshnessPolicy

DEFAULT_GROUP = "default"
DEFAULT_IO_MANAGER_KEY = "io_manager"
DEFAULT_IO_MANAGER_KEYS = (DEFAULT_IO_MANAGER_KEY,)  # the io_manager_keys of most definitions


def _tuple_of_strings(value: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(value) if value else ()


def to_deps(values: Iterable[Any] | None) -> tuple[AssetDep, ...]:
    """Normalise a ``deps=`` argument, refusing duplicates."""
    if not values:
        return ()
    deps: dict[AssetKey, AssetDep] = {}
    for value in values:
        key = to_dep_key(value)
        deps[key] = value if isinstance(value, AssetDep) else dep_on(key)
    return tuple(deps.values())


@record
class AssetSpec:
    """A description of one asset: its key and everything about it except how to compute it.

    Alone in ``Definitions(assets=[...])`` it declares an external asset: flowdev never
    materializes it, but other assets may depend on it.
    """

    __slots__ = (
        "key",
        "deps",
        "description",
        "metadata",
        "skippable",
        "group_name",
        "code_version",
        "freshness_policy",
        "automation_condition",
        "owners",
        "tags",
        "kinds",
    )
    key: AssetKey
    deps: tuple[AssetDep, ...]
    description: str | None
    metadata: Mapping[str, Any]
    skippable: bool
    group_name: str | None
    code_version: str | None
    freshness_policy: FreshnessPolicy | None
    automation_condition: Any
    owners: tuple[str, ...]
    tags: Mapping[str, str]
    kinds: frozenset[str]

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
        return replace(self, **changes)

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
        return replace(
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
        return tuple(map(_asset_of, self.deps))


_asset_of = attrgetter("asset")
_BuildingSpec = building(AssetSpec)


def new_spec(
    key: AssetKey,
    deps: tuple[AssetDep, ...],
    description: str | None,
    metadata: Mapping[str, Any],
    skippable: bool,
    group_name: str | None,
    code_version: str | None,
    freshness_policy: FreshnessPolicy | None,
    automation_condition: Any,
    owners: tuple[str, ...],
    tags: Mapping[str, str],
    kinds: frozenset[str],
    /,
) -> AssetSpec:
    """An `AssetSpec` of values already in the form `AssetSpec.__init__` gives them.

    Positional only, in field order: keyword matching alone costs more than building the
    record (see `flowdev.records`).
    """
    spec = object.__new__(_BuildingSpec)
    spec.key = key
    spec.deps = deps
    spec.description = description
    spec.metadata = metadata
    spec.skippable = skippable
    spec.group_name = group_name
    spec.code_version = code_version
    spec.freshness_policy = freshness_policy
    spec.automation_condition = automation_condition
    spec.owners = owners
    spec.tags = tags
    spec.kinds = kinds
    spec.__class__ = AssetSpec
    return spec


@record
class AssetOut:
    """One output of a `multi_asset` written with ``outs={"name": AssetOut(...)}``."""

    __slots__ = (
        "key",
        "key_prefix",
        "group_name",
        "description",
        "metadata",
        "io_manager_key",
        "is_required",
        "code_version",
        "freshness_policy",
        "owners",
        "tags",
        "kinds",
        "deps",
    )
    key: AssetKey | None
    key_prefix: tuple[str, ...] | None
    group_name: str | None
    description: str | None
    metadata: Mapping[str, Any] | None
    io_manager_key: str | None
    is_required: bool
    code_version: str | None
    freshness_policy: FreshnessPolicy | None
    owners: Sequence[str] | None
    tags: Mapping[str, str] | None
    kinds: Iterable[str] | None
    deps: Iterable[Any] | None

    def __init__(self, key: Any = None, **kwargs: Any) -> None:
        prefix = kwargs.pop("key_prefix", None)
        object.__setattr__(self, "key", None if key is None else to_asset_key(key))
        object.__setattr__(
            self, "key_prefix", (prefix,) if isinstance(prefix, str) else prefix and tuple(prefix)
        )
        for name in fields(AssetOut)[2:]:
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


@record
class AssetsDefinition:
    """A function that materializes one or more assets, with everything known about them.

    Call it like the function it wraps to test it with plain arguments.
    """

    __slots__ = (
        "fn",
        "op_name",
        "keys",
        # The keys each asset depends on, in the order of `keys`: what validation and
        # the graph read, without making the specs.
        "parents",
        "specs",
        "output_names",
        "io_manager_keys",
        "input_keys",
        "input_manager_keys",
        "context_param",
        "resource_params",
        "config_param",
        "required_resource_keys",
        "resource_defs",
        "retry_policy",
        "can_subset",
        "check_specs",
        "op_tags",
        # While fields are still to be made: ``_make(self, _pending)`` returns them by
        # name (see `new_assets_def`).
        "_make",
        "_pending",
    )
    fn: Callable[..., Any]
    op_name: str
    keys: tuple[AssetKey, ...]  # the keys this definition materializes
    parents: tuple[tuple[AssetKey, ...], ...]
    specs: tuple[AssetSpec, ...]
    output_names: tuple[str, ...]
    io_manager_keys: tuple[str, ...]
    input_keys: Mapping[str, AssetKey]
    input_manager_keys: Mapping[str, str]
    context_param: str | None
    resource_params: Mapping[str, str]
    config_param: tuple[str, type] | None
    required_resource_keys: frozenset[str]
    resource_defs: Mapping[str, Any]
    retry_policy: Any
    can_subset: bool
    check_specs: tuple[Any, ...]
    op_tags: Mapping[str, str]
    _make: Callable[[AssetsDefinition, Any], dict[str, Any]]
    _pending: Any

    def __getattr__(self, name: str) -> Any:
        # Reached only for a slot that is not set: a field still to be made.
        if name in _MADE_LATER:
            made = object.__getattribute__(self, "_make")(self, self._pending)
            for field, value in made.items():
                object.__setattr__(self, field, value)
            return object.__getattribute__(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def key(self) -> AssetKey:
        """The key of a single-asset definition."""
        if len(self.keys) != 1:
            raise InvalidDefinitionError(
                f"{self.op_name!r} materializes {len(self.keys)} assets; use .keys"
            )
        return self.keys[0]

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
        if declared is not None:
            return declared
        from flowdev.defs.code_version import function_code_version

        return function_code_version(self.fn)

    def map_specs(self, change: Callable[[AssetSpec], AssetSpec]) -> AssetsDefinition:
        """A copy whose specs went through ``change`` (keys stay: use `with_attributes`)."""
        new_specs = tuple(change(spec) for spec in self.specs)
        for old, new in zip(self.specs, new_specs, strict=True):
            if old.key != new.key:
                raise InvalidDefinitionError(
                    f"cannot rename asset {old.key.to_user_string()!r} to "
                    f"{new.key.to_user_string()!r} through its spec; use key_prefix= or key="
                )
        return replace(self, specs=new_specs, parents=_parents_of(new_specs))

    def with_attributes(
        self,
        *,
        asset_key_map: Mapping[AssetKey, AssetKey] | None = None,
        group_name: str | None = None,
    ) -> AssetsDefinition:
        """A copy with keys renamed by ``asset_key_map`` (its own, its inputs' and its
        deps') and, when given, every asset moved to ``group_name``."""
        key_map = asset_key_map or {}
        if not _is_set(self, "specs"):
            # `load_assets_from_modules(group_name=..., key_prefix=...)` runs this once
            # per asset on every load of many projects: the specs (and a plain asset's
            # inputs) are moved when first read, from this definition's.
            return _moved_later(self, key_map, group_name)
        new_specs = _moved_specs(self.specs, key_map, group_name)
        new_inputs = {name: key_map.get(key, key) for name, key in self.input_keys.items()}
        return replace(
            self,
            keys=tuple(spec.key for spec in new_specs),
            parents=_parents_of(new_specs),
            specs=new_specs,
            input_keys=new_inputs,
        )


def _moved_specs(
    specs: Iterable[AssetSpec], key_map: Mapping[AssetKey, AssetKey], group_name: str | None
) -> tuple[AssetSpec, ...]:
    return tuple(
        spec.replace_attributes(
            key=key_map.get(spec.key, spec.key),
            deps=[key_map.get(k, k) for k in spec.dep_keys],
            group_name=group_name or spec.group_name,
        )
        for spec in specs
    )


def _is_set(assets_def: AssetsDefinition, name: str) -> bool:
    try:
        object.__getattribute__(assets_def, name)
    except AttributeError:
        return False
    return True


def _moved_later(
    source: AssetsDefinition, key_map: Mapping[AssetKey, AssetKey], group_name: str | None
) -> AssetsDefinition:
    """`AssetsDefinition.with_attributes` for a ``source`` whose specs are not made:
    keys and parents are moved now, the rest by `_made_from_source` when first read."""

    def moved(key: AssetKey) -> AssetKey:
        return key_map.get(key, key)

    clone = object.__new__(_BuildingAssetsDefinition)
    for name in AssetsDefinition.__slots__:
        if _is_set(source, name):
            setattr(clone, name, object.__getattribute__(source, name))
    clone.keys = tuple(map(moved, source.keys))
    clone.parents = tuple(tuple(map(moved, parents)) for parents in source.parents)
    if _is_set(source, "input_keys"):
        clone.input_keys = {name: moved(key) for name, key in source.input_keys.items()}
    clone._make = _made_from_source
    clone._pending = (source, key_map, group_name)
    clone.__class__ = AssetsDefinition
    return clone


def _made_from_source(assets_def: AssetsDefinition, pending: Any) -> dict[str, Any]:
    source, key_map, group_name = pending
    return {
        "specs": _moved_specs(source.specs, key_map, group_name),
        "input_keys": {name: key_map.get(key, key) for name, key in source.input_keys.items()},
    }


def _parents_of(specs: Iterable[AssetSpec]) -> tuple[tuple[AssetKey, ...], ...]:
    return tuple(spec.dep_keys for spec in specs)


_BuildingAssetsDefinition = building(AssetsDefinition)
# The fields `new_assets_def` may leave to ``pending``.
_MADE_LATER = frozenset({"specs", "input_keys"})


def new_assets_def(
    fn: Callable[..., Any],
    op_name: str,
    keys: tuple[AssetKey, ...],
    parents: tuple[tuple[AssetKey, ...], ...],
    specs: tuple[AssetSpec, ...] | None,
    make: Callable[[AssetsDefinition, Any], dict[str, Any]] | None,
    pending: Any,
    output_names: tuple[str, ...],
    io_manager_keys: tuple[str, ...],
    input_keys: Mapping[str, AssetKey] | None,
    input_manager_keys: Mapping[str, str],
    context_param: str | None,
    resource_params: Mapping[str, str],
    config_param: tuple[str, type] | None,
    required_resource_keys: frozenset[str],
    resource_defs: Mapping[str, Any],
    retry_policy: Any,
    can_subset: bool,
    check_specs: tuple[Any, ...],
    op_tags: Mapping[str, str],
    /,
) -> AssetsDefinition:
    """An `AssetsDefinition` built the fast way (see `flowdev.records`); positional only,
    like `new_spec`.

    ``parents`` holds each key's dependencies, in the order of ``keys``. ``specs`` and
    ``input_keys`` may be None, to be made when one is first read: then
    ``make(assets_def, pending)`` returns them by name.
    Most of a load never reads them, and a run's worker reads them only for the assets
    it runs.
    """
    assets_def = object.__new__(_BuildingAssetsDefinition)
    assets_def.fn = fn
    assets_def.op_name = op_name
    assets_def.keys = keys
    assets_def.parents = parents
    if specs is not None:
        assets_def.specs = specs
    if input_keys is not None:
        assets_def.input_keys = input_keys
    if make is not None:
        assets_def._make = make
        assets_def._pending = pending
    assets_def.output_names = output_names
    assets_def.io_manager_keys = io_manager_keys
    assets_def.input_manager_keys = input_manager_keys
    assets_def.context_param = context_param
    assets_def.resource_params = resource_params
    assets_def.config_param = config_param
    assets_def.required_resource_keys = required_resource_keys
    assets_def.resource_defs = resource_defs
    assets_def.retry_policy = retry_policy
    assets_def.can_subset = can_subset
    assets_def.check_specs = check_specs
    assets_def.op_tags = op_tags
    assets_def.__class__ = AssetsDefinition
    return assets_def


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
