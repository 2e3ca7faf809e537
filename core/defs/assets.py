"""Asset definitions as data: `AssetSpec`, `AssetOut` and `AssetsDefinition`.

The decorators that build them live in `flowdev.defs.decorators`. Every project load
makes a definition per asset: `new_spec` is `AssetSpec`'s fast build (see
`flowdev.records`), which skips its normalisation, and an `@asset`'s spec (its
description, metadata, tags, ...) and its inputs by parameter are made the first time
they are read (`LazyParts`): a load validates a project from keys and dependencies
alone, and a run's worker reads the specs of the assets it runs.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any

from flowdev.errors import InvalidDefinitionError, refuse_unsupported
from flowdev.keys import AssetDep, AssetKey, dep_on, to_asset_key, to_dep_key
from flowdev.records import EMPTY, builder, freeze, record, replace

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from flowdev.defs.policies import FreshnessPolicy

DEFAULT_GROUP = "default"
DEFAULT_IO_MANAGER_KEY = "io_manager"
DEFAULT_IO_MANAGER_KEYS = (DEFAULT_IO_MANAGER_KEY,)  # the io_manager_keys of most definitions
_NO_KEYS: frozenset[str] = frozenset()


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


@record(init=False)
class AssetSpec:
    """A description of one asset: its key and everything about it except how to compute it.

    Alone in ``Definitions(assets=[...])`` it declares an external asset: flowdev never
    materializes it, but other assets may depend on it.
    """

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

    def __new__(
        cls,
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
    ) -> AssetSpec:
        asset_key = to_asset_key(key)
        refuse_unsupported(
            f"AssetSpec {asset_key.to_user_string()!r}", partitions_def=partitions_def
        )
        return new_spec(
            key=asset_key,
            deps=to_deps(deps),
            description=description,
            metadata=freeze(metadata),
            skippable=skippable,
            group_name=group_name,
            code_version=code_version,
            freshness_policy=freshness_policy or legacy_freshness_policy,
            automation_condition=automation_condition,
            owners=_tuple_of_strings(owners),
            tags=freeze(tags),
            kinds=frozenset(kinds) if kinds else frozenset(),
        )

    def replace_attributes(self, **changes: Any) -> AssetSpec:
        """A copy with ``changes`` applied (Dagster's name)."""
        if "deps" in changes:
            changes["deps"] = to_deps(changes["deps"])
        if "key" in changes:
            changes["key"] = to_asset_key(changes["key"])
        for name in ("metadata", "tags"):
            if name in changes:
                changes[name] = freeze(changes[name])
        if "owners" in changes:
            changes["owners"] = _tuple_of_strings(changes["owners"])
        if "kinds" in changes:
            changes["kinds"] = frozenset(changes["kinds"] or ())
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
            metadata=freeze({**self.metadata, **(metadata or {})}),
            owners=self.owners + tuple(o for o in owners or () if o not in self.owners),
            tags=freeze({**self.tags, **(tags or {})}),
            kinds=self.kinds | frozenset(kinds or ()),
            deps=to_deps([*self.deps, *(deps or ())]),
        )

    @property
    def dep_keys(self) -> tuple[AssetKey, ...]:
        """The keys this asset depends on."""
        return tuple(map(_asset_of, self.deps))


_asset_of = attrgetter("asset")
_build_spec = builder(AssetSpec)


def new_spec(
    *,
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
) -> AssetSpec:
    """An `AssetSpec` of values already in the form `AssetSpec` keeps them (a key, a
    tuple of deps, frozen mappings, ...): the fast build, which checks nothing."""
    return _build_spec(
        key=key,
        deps=deps,
        description=description,
        metadata=metadata,
        skippable=skippable,
        group_name=group_name,
        code_version=code_version,
        freshness_policy=freshness_policy,
        automation_condition=automation_condition,
        owners=owners,
        tags=tags,
        kinds=kinds,
    )


@record(init=False)
class AssetOut:
    """One output of a `multi_asset` written with ``outs={"name": AssetOut(...)}``."""

    key: AssetKey | None
    key_prefix: tuple[str, ...] | None
    group_name: str | None
    description: str | None
    metadata: Mapping[str, Any] | None
    io_manager_key: str | None
    is_required: bool
    code_version: str | None
    freshness_policy: FreshnessPolicy | None
    owners: tuple[str, ...] | None
    tags: Mapping[str, str] | None
    kinds: frozenset[str] | None
    deps: tuple[Any, ...] | None

    def __new__(
        cls,
        key: Any = None,
        *,
        key_prefix: str | Sequence[str] | None = None,
        group_name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        io_manager_key: str | None = None,
        is_required: bool = True,
        code_version: str | None = None,
        freshness_policy: FreshnessPolicy | None = None,
        owners: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] | None = None,
        deps: Iterable[Any] | None = None,
        dagster_type: Any = None,
    ) -> AssetOut:
        asset_key = None if key is None else to_asset_key(key)
        where = "AssetOut" if asset_key is None else f"AssetOut {asset_key.to_user_string()!r}"
        refuse_unsupported(where, dagster_type=dagster_type)
        prefix = (key_prefix,) if isinstance(key_prefix, str) else key_prefix
        return _build_out(
            key=asset_key,
            key_prefix=None if prefix is None else tuple(prefix),
            group_name=group_name,
            description=description,
            metadata=None if metadata is None else freeze(metadata),
            io_manager_key=io_manager_key,
            is_required=is_required,
            code_version=code_version,
            freshness_policy=freshness_policy,
            owners=None if owners is None else tuple(owners),
            tags=None if tags is None else freeze(tags),
            kinds=None if kinds is None else frozenset(kinds),
            deps=None if deps is None else tuple(deps),
        )

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


_build_out = builder(AssetOut)


class LazyParts:
    """The parts of an `AssetsDefinition` that may be made when first read: its specs and
    its inputs by parameter. ``make(pending)`` returns those it was left to make, by name.

    Filled once, then never changed; equal when what they hold (or will) is equal.
    """

    __slots__ = ("specs", "input_keys", "_make", "_pending")
    specs: tuple[AssetSpec, ...]
    input_keys: Mapping[str, AssetKey]

    def __init__(
        self,
        make: Callable[[Any], dict[str, Any]] | None = None,
        pending: Any = None,
        *,
        specs: tuple[AssetSpec, ...] | None = None,
        input_keys: Mapping[str, AssetKey] | None = None,
    ) -> None:
        self._make = make
        self._pending = pending
        if specs is not None:
            self.specs = specs
        if input_keys is not None:
            self.input_keys = input_keys

    def __getattr__(self, name: str) -> Any:
        # Reached only for a slot that is not set: a part still to be made.
        if name in ("specs", "input_keys") and self._make is not None:
            for part, value in self._make(self._pending).items():
                if not self.is_made(part):
                    object.__setattr__(self, part, value)
            return object.__getattribute__(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def is_made(self, name: str) -> bool:
        """Whether the part ``name`` has been given or made."""
        try:
            object.__getattribute__(self, name)
        except AttributeError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyParts):
            return NotImplemented
        return self.specs == other.specs and self.input_keys == other.input_keys

    def __hash__(self) -> int:
        return hash((self.specs, freeze(self.input_keys)))

    def __repr__(self) -> str:
        made = {name: getattr(self, name) for name in ("specs", "input_keys") if self.is_made(name)}
        return f"LazyParts({', '.join(f'{k}={v!r}' for k, v in made.items()) or '...'})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_made_parts, (self.specs, self.input_keys))


def _made_parts(specs: tuple[AssetSpec, ...], input_keys: Mapping[str, AssetKey]) -> LazyParts:
    return LazyParts(specs=specs, input_keys=input_keys)


@record
class AssetsDefinition:
    """A function that materializes one or more assets, with everything known about them.

    Call it like the function it wraps to test it with plain arguments.
    """

    fn: Callable[..., Any]
    op_name: str
    keys: tuple[AssetKey, ...]  # the keys this definition materializes
    # The keys each asset depends on, in the order of `keys`: what validation and the
    # graph read, without making the specs.
    parents: tuple[tuple[AssetKey, ...], ...]
    lazy: LazyParts  # the specs and inputs by parameter (see `specs`, `input_keys`)
    output_names: tuple[str, ...] = ("result",)
    io_manager_keys: tuple[str, ...] = DEFAULT_IO_MANAGER_KEYS
    input_manager_keys: Mapping[str, str] = EMPTY
    context_param: str | None = None
    resource_params: Mapping[str, str] = EMPTY
    config_param: tuple[str, type] | None = None
    required_resource_keys: frozenset[str] = _NO_KEYS
    resource_defs: Mapping[str, Any] = EMPTY
    retry_policy: Any = None
    can_subset: bool = False
    check_specs: tuple[Any, ...] = ()
    op_tags: Mapping[str, str] = EMPTY
    pool: str | None = None  # steps of one pool run one at a time (see execution.scheduling)

    @property
    def specs(self) -> tuple[AssetSpec, ...]:
        """The spec of each asset, in the order of `keys`."""
        return self.lazy.specs

    @property
    def input_keys(self) -> Mapping[str, AssetKey]:
        """The upstream key whose value each parameter receives."""
        return self.lazy.input_keys

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
        parts = LazyParts(specs=new_specs, input_keys=self.input_keys)
        return replace(self, lazy=parts, parents=_parents_of(new_specs))

    def with_attributes(
        self,
        *,
        asset_key_map: Mapping[AssetKey, AssetKey] | None = None,
        group_name: str | None = None,
    ) -> AssetsDefinition:
        """A copy with keys renamed by ``asset_key_map`` (its own, its inputs' and its
        deps') and, when given, every asset moved to ``group_name``."""
        key_map = asset_key_map or {}
        if not self.lazy.is_made("specs"):
            # `load_assets_from_modules(group_name=..., key_prefix=...)` runs this once
            # per asset on every load of many projects: the specs (and a plain asset's
            # inputs) are moved when first read, from this definition's.
            return _moved_later(self, key_map, group_name)
        new_specs = _moved_specs(self.specs, key_map, group_name)
        new_inputs = freeze({name: key_map.get(key, key) for name, key in self.input_keys.items()})
        return replace(
            self,
            keys=tuple(spec.key for spec in new_specs),
            parents=_parents_of(new_specs),
            lazy=LazyParts(specs=new_specs, input_keys=new_inputs),
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


def _moved_later(
    source: AssetsDefinition, key_map: Mapping[AssetKey, AssetKey], group_name: str | None
) -> AssetsDefinition:
    """`AssetsDefinition.with_attributes` for a ``source`` whose specs are not made:
    keys and parents are moved now, the rest by `_made_from_source` when first read."""

    def moved(key: AssetKey) -> AssetKey:
        return key_map.get(key, key)

    source_parts = source.lazy
    input_keys = None
    if source_parts.is_made("input_keys"):
        input_keys = freeze({name: moved(key) for name, key in source.input_keys.items()})
    return replace(
        source,
        keys=tuple(map(moved, source.keys)),
        parents=tuple(tuple(map(moved, parents)) for parents in source.parents),
        lazy=LazyParts(
            _made_from_source, (source_parts, key_map, group_name), input_keys=input_keys
        ),
    )


def _made_from_source(pending: Any) -> dict[str, Any]:
    source_parts, key_map, group_name = pending
    return {
        "specs": _moved_specs(source_parts.specs, key_map, group_name),
        "input_keys": freeze(
            {name: key_map.get(key, key) for name, key in source_parts.input_keys.items()}
        ),
    }


def _parents_of(specs: Iterable[AssetSpec]) -> tuple[tuple[AssetKey, ...], ...]:
    return tuple(spec.dep_keys for spec in specs)


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
