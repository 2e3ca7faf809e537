"""`@asset` and `@multi_asset`: turn functions into `AssetsDefinition`s.

A parameter's role is read from its name and annotation, as in Dagster:

- ``context`` (first, or annotated with an execution context): the run context;
- annotated with a `ConfigurableResource` subclass: the resource of that name;
- annotated with a `Config` subclass: this asset's run config;
- anything else: the value of an upstream asset, ``AssetKey([name])`` unless ``ins=``
  says otherwise.

Decoration is on every project load's hot path (10,000 assets: 10,000 calls), so it
reads ``__code__`` and ``__annotations__`` directly instead of building an
`inspect.Signature`, resolves a string annotation by name before falling back to
``eval``, imports the resource and config classes only when an annotation may be one,
and builds its records by keyword (`AssetsDefinition` and `new_spec`). The arguments of
``@asset(...)`` travel as one `AssetDecoratorArgs`, as in Dagster. An `@asset`'s spec is
made when it is first read (`_made_later`): a load needs only keys and dependencies.
Every argument is still checked when the decorator runs.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from flowdev.defs.assets import (
    DEFAULT_IO_MANAGER_KEY,
    DEFAULT_IO_MANAGER_KEYS,
    AssetsDefinition,
    AssetSpec,
    LazyParts,
    new_spec,
    to_deps,
)
from flowdev.defs.descriptions import description_of
from flowdev.defs.parameters import label, parameter_roles, plain_parameters
from flowdev.errors import InvalidDefinitionError, refuse_unsupported
from flowdev.keys import AssetKey, dep_on, named_key, to_asset_key
from flowdev.records import EMPTY, builder, freeze, record, values_builder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from flowdev.defs.assets import AssetOut
    from flowdev.defs.parameters import Roles
    from flowdev.defs.policies import FreshnessPolicy, RetryPolicy
    from flowdev.keys import AssetDep, AssetIn

_RESULT = ("result",)
_NO_KEYS: frozenset[str] = frozenset()
# The fast build (see `flowdev.records`): a definition is made once per asset per load.
_new_assets_def = builder(AssetsDefinition)


def _prefix(key_prefix: str | Sequence[str] | None) -> tuple[str, ...]:
    if key_prefix is None:
        return ()
    return (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix)


def _build(
    fn: Callable[..., Any],
    roles: Roles,
    where: tuple[str, AssetKey | str],
    *,
    op_name: str,
    specs: tuple[AssetSpec, ...],
    output_names: tuple[str, ...],
    io_manager_keys: tuple[str, ...],
    required_resource_keys: Iterable[str] | None,
    resource_defs: Mapping[str, Any] | None,
    retry_policy: RetryPolicy | None,
    can_subset: bool,
    check_specs: Sequence[Any] | None,
    op_tags: Mapping[str, str] | None,
    pool: str | None,
) -> AssetsDefinition:
    """The definition `@multi_asset` returns; ``where`` is what `label` names it by in
    errors."""
    context, inputs, resources, input_managers, config = roles
    keys = tuple(spec.key for spec in specs)
    if check_specs:
        check_specs = tuple(check_specs)
        _validate_check_specs(check_specs, keys, label(*where))
    return _new_assets_def(
        fn=fn,
        op_name=op_name,
        keys=keys,
        parents=tuple(spec.dep_keys for spec in specs),
        lazy=LazyParts(specs=specs, input_keys=freeze(inputs)),
        output_names=output_names,
        io_manager_keys=io_manager_keys,
        input_manager_keys=freeze(input_managers),
        context_param=context,
        resource_params=freeze(resources),
        config_param=config,
        required_resource_keys=_resource_keys(required_resource_keys, resources),
        resource_defs=freeze(resource_defs),
        retry_policy=retry_policy,
        can_subset=can_subset,
        check_specs=check_specs or (),
        op_tags=freeze(op_tags),
        pool=pool,
    )


def _resource_keys(
    required_resource_keys: Iterable[str] | None, resources: Mapping[str, str]
) -> frozenset[str]:
    if required_resource_keys or resources:
        return frozenset(required_resource_keys or ()) | frozenset(resources)
    return _NO_KEYS


def _validate_check_specs(checks: tuple[Any, ...], keys: tuple[AssetKey, ...], where: str) -> None:
    for check in checks:
        if check.asset_key not in keys:
            produced = ", ".join(repr(key.to_user_string()) for key in keys)
            raise InvalidDefinitionError(
                f"{where}: check_specs= declares {check.name!r} on "
                f"{check.asset_key.to_user_string()!r}, which this definition does not "
                f"materialize (it materializes {produced}). Point the AssetCheckSpec's "
                "asset= at one of these, or write the check as an @asset_check."
            )


@record
class AssetDecoratorArgs:
    """The arguments of one ``@asset(...)``, as the decorator keeps them until the
    function arrives (and its spec is made from them later: `_made_later`)."""

    name: str | None = None
    key_prefix: str | Sequence[str] | None = None
    key: Any = None
    ins: Mapping[str, AssetIn] | None = None
    deps: Sequence[Any] | None = None  # with ``non_argument_deps=`` added
    metadata: Mapping[str, Any] | None = None
    tags: Mapping[str, str] | None = None
    description: str | None = None
    required_resource_keys: Iterable[str] | None = None
    resource_defs: Mapping[str, Any] | None = None
    io_manager_key: str | None = None
    group_name: str | None = None
    code_version: str | None = None
    freshness_policy: FreshnessPolicy | None = None  # or ``legacy_freshness_policy=``
    retry_policy: RetryPolicy | None = None
    owners: Sequence[str] | None = None
    kinds: Iterable[str] | None = None
    check_specs: Sequence[Any] | None = None
    op_tags: Mapping[str, str] | None = None
    automation_condition: Any = None
    output_required: bool = True
    pool: str | None = None


_decorator_args = values_builder(AssetDecoratorArgs)


def asset(
    compute_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    key: Any = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Iterable[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    io_manager_key: str | None = None,
    group_name: str | None = None,
    code_version: str | None = None,
    freshness_policy: FreshnessPolicy | None = None,
    legacy_freshness_policy: FreshnessPolicy | None = None,
    retry_policy: RetryPolicy | None = None,
    owners: Sequence[str] | None = None,
    kinds: Iterable[str] | None = None,
    check_specs: Sequence[Any] | None = None,
    op_tags: Mapping[str, str] | None = None,
    automation_condition: Any = None,
    partitions_def: Any = None,
    non_argument_deps: Iterable[Any] | None = None,
    config_schema: Any = None,
    dagster_type: Any = None,
    output_required: bool = True,
    pool: str | None = None,
) -> Any:
    """Declare a software-defined asset: a function whose return value is the asset's data.

    Used bare (``@asset``) or with arguments (``@asset(group_name="ingest")``); the
    arguments and their meaning are Dagster's.

    Raises:
        UnsupportedArgumentError: ``partitions_def=``, ``config_schema=`` or
            ``dagster_type=`` was given; flowdev does not implement them yet.
    """
    if partitions_def or config_schema or dagster_type:
        unsupported = {
            "partitions_def": partitions_def,
            "config_schema": config_schema,
            "dagster_type": dagster_type,
        }
        if compute_fn is None and name is None and key is None:
            # Refused when the function arrives, so that the error can name it.
            return partial(_refuse_asset_arguments, unsupported, None)
        _refuse_asset_arguments(unsupported, name or key, compute_fn)
    all_deps = [*(deps or ()), *(non_argument_deps or ())] if deps or non_argument_deps else None
    # Every field in field order, each the argument of its name: `asset(...)` runs once
    # per asset per load, and a keyword build would cost as much again as the rest of it.
    args = _decorator_args(
        (
            name,
            key_prefix,
            key,
            ins,
            all_deps,
            metadata,
            tags,
            description,
            required_resource_keys,
            resource_defs,
            io_manager_key,
            group_name,
            code_version,
            freshness_policy or legacy_freshness_policy,
            retry_policy,
            owners,
            kinds,
            check_specs,
            op_tags,
            automation_condition,
            output_required,
            pool,
        )
    )
    # Most assets only describe themselves (group, description, metadata, ...): their
    # decorator takes the short path.
    decorate = (
        _decorate_plain
        if name is None
        and key_prefix is None
        and key is None
        and not ins
        and all_deps is None
        and required_resource_keys is None
        and resource_defs is None
        and io_manager_key is None
        and not check_specs
        and not op_tags
        and pool is None
        else _decorate_asset
    )
    if compute_fn is not None:
        return decorate(args, compute_fn)
    return partial(decorate, args)


def _refuse_asset_arguments(
    arguments: dict[str, Any], name: Any, fn: Callable[..., Any] | None
) -> Any:
    """Raise `UnsupportedArgumentError` for the first of ``arguments`` given to the
    `@asset` named ``name`` (a name or key) or, without one, of ``fn``."""
    named = name if name is not None else getattr(fn, "__name__", None)
    where = "@asset" if named is None else label("@asset", to_asset_key(named))
    refuse_unsupported(where, **arguments)


def _decorate_plain(args: AssetDecoratorArgs, fn: Callable[..., Any]) -> AssetsDefinition:
    """`_decorate_asset` for an `@asset` whose arguments leave its key, inputs and
    resources to the function, and whose parameters carry no annotations: each one (after
    a leading ``context``) is the upstream asset of its name. Once per asset per load."""
    parameters = plain_parameters(fn)
    if parameters is None:
        return _decorate_asset(args, fn)  # a resource, config or context parameter
    context, names = parameters
    key = named_key(fn.__name__)
    if args.metadata or args.tags or args.owners or args.kinds:
        _check_spec_arguments(key, args.metadata, args.tags, args.owners, args.kinds)
    parents = tuple(map(named_key, names))
    return _new_assets_def(
        fn=fn,
        op_name=fn.__name__,
        keys=(key,),
        parents=(parents,),
        lazy=LazyParts(_made_later, (fn, key, parents, args)),
        context_param=context,
        retry_policy=args.retry_policy,
    )


def _decorate_asset(args: AssetDecoratorArgs, fn: Callable[..., Any]) -> AssetsDefinition:
    name, key_prefix, key = args.name, args.key_prefix, args.key
    if key is not None:
        if name is not None or key_prefix is not None:
            raise InvalidDefinitionError(
                f"@asset on {fn.__name__!r}: pass key= or name=/key_prefix=, not both"
            )
        asset_key = to_asset_key(key)
    elif key_prefix is None:
        asset_key = named_key(name or fn.__name__)
    else:
        asset_key = AssetKey((*_prefix(key_prefix), name or fn.__name__))

    parameters = None if args.ins or args.deps else plain_parameters(fn)
    if parameters is not None:
        # Each parameter is the upstream asset of its name: the parameter-to-key
        # mapping and the spec are made when first read (`_made_later`).
        context, names = parameters
        parents = tuple(map(named_key, names))
        lazy = LazyParts(_made_later, (fn, asset_key, parents, args))
        resources: Mapping[str, str] = EMPTY
        input_managers: Mapping[str, str] = EMPTY
        config = None
    else:
        context, inputs, resources, input_managers, config = parameter_roles(
            fn, args.ins, "@asset", asset_key
        )
        inputs_by_name = freeze(inputs)
        parents = tuple(dep.asset for dep in _spec_deps(inputs, args.deps))
        lazy = LazyParts(
            _spec_made_later, (fn, asset_key, inputs_by_name, args), input_keys=inputs_by_name
        )
    if args.metadata or args.tags or args.owners or args.kinds:
        _check_spec_arguments(asset_key, args.metadata, args.tags, args.owners, args.kinds)
    check_specs = tuple(args.check_specs) if args.check_specs else ()
    if check_specs:
        _validate_check_specs(check_specs, (asset_key,), label("@asset", asset_key))
    path = asset_key.path
    return _new_assets_def(
        fn=fn,
        op_name=path[0] if len(path) == 1 else "__".join(path),
        keys=(asset_key,),
        parents=(parents,),
        lazy=lazy,
        io_manager_keys=(args.io_manager_key,) if args.io_manager_key else DEFAULT_IO_MANAGER_KEYS,
        input_manager_keys=freeze(input_managers),
        context_param=context,
        resource_params=freeze(resources),
        config_param=config,
        required_resource_keys=_resource_keys(args.required_resource_keys, resources),
        resource_defs=freeze(args.resource_defs),
        retry_policy=args.retry_policy,
        check_specs=check_specs,
        op_tags=freeze(args.op_tags),
        pool=args.pool,
    )


def _spec_deps(inputs: Mapping[str, AssetKey], deps: Iterable[Any] | None) -> tuple[AssetDep, ...]:
    # Two ins may name one upstream: `to_deps` keeps one dependency each.
    return to_deps([*inputs.values(), *deps] if deps else inputs.values())


def _spec_made_later(pending: Any) -> dict[str, Any]:
    """The spec of an `@asset` whose inputs are known, made on first read."""
    fn, key, inputs, args = pending
    return {"specs": (_asset_spec(fn, key, args, _spec_deps(inputs, args.deps)),)}


def _made_later(pending: Any) -> dict[str, Any]:
    """The spec of a plain `@asset` (every parameter the upstream asset of its name) and
    its mapping of parameters to keys, made on first read."""
    fn, key, parents, args = pending
    _context, names = plain_parameters(fn) or (None, ())
    return {
        "specs": (_asset_spec(fn, key, args, tuple(map(dep_on, parents))),),
        "input_keys": freeze(dict(zip(names, parents, strict=True))),
    }


def _asset_spec(
    fn: Callable[..., Any], key: AssetKey, args: AssetDecoratorArgs, deps: tuple[AssetDep, ...]
) -> AssetSpec:
    """The spec the `@asset` of ``fn`` with ``args`` declares."""
    return new_spec(
        key=key,
        deps=deps,
        description=description_of(fn, args.description),
        metadata=freeze(args.metadata),
        skippable=not args.output_required,
        group_name=args.group_name,
        code_version=args.code_version,
        freshness_policy=args.freshness_policy,
        automation_condition=args.automation_condition,
        owners=tuple(args.owners) if args.owners else (),
        tags=freeze(args.tags),
        kinds=frozenset(args.kinds) if args.kinds else frozenset(),
    )


def _check_spec_arguments(key: AssetKey, metadata: Any, tags: Any, owners: Any, kinds: Any) -> None:
    # The spec is made later; a wrong argument must still fail at the decorator.
    for argument, value, wanted in (
        ("metadata", metadata, "a mapping"),
        ("tags", tags, "a mapping of strings"),
    ):
        if value is not None and not hasattr(value, "keys"):
            raise InvalidDefinitionError(
                f"{label('@asset', key)}: {argument}= must be {wanted}, got {value!r}"
            )
    if tags and not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidDefinitionError(
            f"{label('@asset', key)}: tags= keys and values must be strings, got {tags!r}"
        )
    for argument, value in (("owners", owners), ("kinds", kinds)):
        if value is None:
            continue
        if isinstance(value, str) or not all(isinstance(item, str) for item in value):
            raise InvalidDefinitionError(
                f"{label('@asset', key)}: {argument}= must be a list of strings, got {value!r}"
            )


def multi_asset(
    *,
    specs: Sequence[AssetSpec] | None = None,
    outs: Mapping[str, AssetOut] | None = None,
    name: str | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Iterable[Any] | None = None,
    description: str | None = None,
    can_subset: bool = False,
    required_resource_keys: Iterable[str] | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    group_name: str | None = None,
    retry_policy: RetryPolicy | None = None,
    code_version: str | None = None,
    internal_asset_deps: Mapping[str, Iterable[AssetKey]] | None = None,
    check_specs: Sequence[Any] | None = None,
    op_tags: Mapping[str, str] | None = None,
    config_schema: Any = None,
    partitions_def: Any = None,
    pool: str | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """Declare one function that materializes several assets (``specs=`` or ``outs=``).

    The function yields or returns one `MaterializeResult` (or `Output`) per asset; with
    ``outs=`` it may also return a tuple of values in the order of ``outs``.

    Raises:
        UnsupportedArgumentError: ``partitions_def=`` or ``config_schema=`` was given;
            flowdev does not implement them yet.
    """
    if (specs is None) == (outs is None):
        raise InvalidDefinitionError("@multi_asset needs exactly one of specs= or outs=")

    def decorate(fn: Callable[..., Any]) -> AssetsDefinition:
        op_name = name or fn.__name__
        refuse_unsupported(
            label("@multi_asset", op_name),
            partitions_def=partitions_def,
            config_schema=config_schema,
        )

        roles = parameter_roles(fn, ins, "@multi_asset", op_name)
        shared_deps = to_deps([*roles[1].values(), *(deps or ())])
        if outs is not None:
            output_names = tuple(outs)
            built = [out.to_spec(out_name, group_name) for out_name, out in outs.items()]
            io_keys = tuple(out.io_manager_key or DEFAULT_IO_MANAGER_KEY for out in outs.values())
        else:
            built = [
                spec
                if spec.group_name or not group_name
                else spec.replace_attributes(group_name=group_name)
                for spec in specs or ()
            ]
            output_names = tuple("__".join(spec.key.path) for spec in built)
            io_keys = tuple(DEFAULT_IO_MANAGER_KEY for _ in built)
        if not built:
            raise InvalidDefinitionError(
                f"{label('@multi_asset', op_name)}: declare at least one spec or out"
            )
        restricted = dict(internal_asset_deps or {})
        final_specs = []
        for out_name, spec in zip(output_names, built, strict=True):
            if out_name in restricted:
                spec = spec.replace_attributes(deps=restricted[out_name])
            elif not spec.deps:
                spec = spec.replace_attributes(deps=shared_deps)
            if code_version is not None and spec.code_version is None:
                spec = spec.replace_attributes(code_version=code_version)
            if spec.description is None and len(built) == 1:
                spec = spec.replace_attributes(description=description_of(fn, description))
            final_specs.append(spec)
        return _build(
            fn,
            roles,
            ("@multi_asset", op_name),
            op_name=op_name,
            specs=tuple(final_specs),
            output_names=output_names,
            io_manager_keys=io_keys,
            required_resource_keys=required_resource_keys,
            resource_defs=resource_defs,
            retry_policy=retry_policy,
            can_subset=can_subset,
            check_specs=check_specs,
            op_tags=op_tags,
            pool=pool,
        )

    return decorate
