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
and builds its records through `new_spec` / `new_assets_def`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from flowdev.assets import (
    DEFAULT_IO_MANAGER_KEY,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    new_assets_def,
    new_spec,
    to_deps,
)
from flowdev.descriptions import description_of
from flowdev.errors import InvalidDefinitionError
from flowdev.keys import AssetIn, AssetKey, dep_on, named_key, to_asset_key

if TYPE_CHECKING:
    from flowdev.policies import FreshnessPolicy, RetryPolicy

_CONTEXT_TYPE_NAMES = {"AssetExecutionContext", "OpExecutionContext", "AssetCheckExecutionContext"}
_DEFAULT_IO_MANAGER_KEYS = (DEFAULT_IO_MANAGER_KEY,)
_NO_KEYS: frozenset[str] = frozenset()


# What `_roles` reads from a function's parameters: (context parameter, upstream inputs
# by parameter, resources by parameter, input managers by parameter, config parameter). A
# tuple, not an object: it is made once per asset on every load.
_Roles = tuple[
    str | None, dict[str, AssetKey], dict[str, str], dict[str, str], tuple[str, type] | None
]


def _roles(
    fn: Callable[..., Any], ins: Mapping[str, AssetIn] | None, where: Callable[[], str]
) -> _Roles:
    """The role of each of ``fn``'s parameters; ``where`` names the definition in errors."""
    code = fn.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    annotations = fn.__annotations__
    if not ins and (not annotations or (len(annotations) == 1 and "return" in annotations)):
        # The common case, on every load's hot path: plain upstream parameters.
        if names and names[0] == "context":
            return "context", {name: named_key(name) for name in names[1:]}, {}, {}, None
        return None, {name: named_key(name) for name in names}, {}, {}, None
    ins = ins or {}
    context: str | None = None
    inputs: dict[str, AssetKey] = {}
    resources: dict[str, str] = {}
    input_managers: dict[str, str] = {}
    config: tuple[str, type] | None = None
    for position, name in enumerate(names):
        annotation = _resolve(annotations.get(name), fn)
        if _is_context(name, position, annotation):
            context = name
        elif name in ins:
            inputs[name] = ins[name].resolve(name)
            manager_key = ins[name].input_manager_key
            if manager_key:
                input_managers[name] = manager_key
        elif _is_resource(annotation):
            resources[name] = name
        elif _is_config(annotation):
            if config is not None:
                raise InvalidDefinitionError(
                    f"{where()}: parameters {config[0]!r} and {name!r} are both Config; an "
                    "asset takes one config parameter"
                )
            config = (name, annotation)
        else:
            inputs[name] = named_key(name)
    unknown = set(ins) - set(inputs)
    if unknown:
        raise InvalidDefinitionError(
            f"{where()}: ins= names {sorted(unknown)} but the function has no such "
            f"parameter (it has {list(names)})"
        )
    return context, inputs, resources, input_managers, config


def _resolve(annotation: Any, fn: Callable[..., Any]) -> Any:
    # `from __future__ import annotations` leaves strings. A bare name is looked up (cheap);
    # only an expression such as "list[int]" is evaluated.
    if not isinstance(annotation, str):
        return annotation
    if annotation.isidentifier():
        found = fn.__globals__.get(annotation, _MISSING)
        return getattr(builtins, annotation, None) if found is _MISSING else found
    try:
        return eval(annotation, fn.__globals__)
    except Exception:
        return None


_MISSING = object()


def _is_context(name: str, position: int, annotation: Any) -> bool:
    if getattr(annotation, "__name__", None) in _CONTEXT_TYPE_NAMES:
        return True
    return name == "context" and position == 0


def _is_resource(annotation: Any) -> bool:
    if not isinstance(annotation, type) or annotation.__module__ == "builtins":
        return False
    from flowdev.resources import ConfigurableResource

    return issubclass(annotation, ConfigurableResource)


def _is_config(annotation: Any) -> bool:
    if not isinstance(annotation, type) or annotation.__module__ == "builtins":
        return False
    from flowdev.config import Config

    return issubclass(annotation, Config)


def _prefix(key_prefix: str | Sequence[str] | None) -> tuple[str, ...]:
    if key_prefix is None:
        return ()
    return (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix)


def _build(
    fn: Callable[..., Any],
    roles: _Roles,
    where: Callable[[], str],
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
) -> AssetsDefinition:
    """The definition both `@asset` and `@multi_asset` return."""
    context, inputs, resources, input_managers, config = roles
    if required_resource_keys or resources:
        resource_keys = frozenset(required_resource_keys or ()) | frozenset(resources)
    else:
        resource_keys = _NO_KEYS
    if check_specs:
        check_specs = tuple(check_specs)
        _validate_check_specs(check_specs, specs, where)
    return new_assets_def(
        fn,
        op_name,
        specs,
        output_names,
        io_manager_keys,
        inputs,
        input_managers,
        context,
        resources,
        config,
        resource_keys,
        dict(resource_defs) if resource_defs else {},
        retry_policy,
        can_subset,
        check_specs or (),
        dict(op_tags) if op_tags else {},
    )


def _validate_check_specs(
    checks: tuple[Any, ...], specs: tuple[AssetSpec, ...], where: Callable[[], str]
) -> None:
    keys = [spec.key for spec in specs]
    for check in checks:
        if check.asset_key not in keys:
            produced = ", ".join(repr(key.to_user_string()) for key in keys)
            raise InvalidDefinitionError(
                f"{where()}: check_specs= declares {check.name!r} on "
                f"{check.asset_key.to_user_string()!r}, which this definition does not "
                f"materialize (it materializes {produced}). Point the AssetCheckSpec's "
                "asset= at one of these, or write the check as an @asset_check."
            )


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
    """

    if partitions_def is not None:
        raise InvalidDefinitionError(
            f"@asset {name or key!r}: partitions are not supported by flowdev yet; remove "
            "partitions_def="
        )
    # A tuple and a partial rather than a closure: a closure over these arguments would
    # make a cell for each on every call, and `asset(...)` runs once per asset per load.
    options = (
        name,
        key_prefix,
        key,
        ins,
        [*(deps or ()), *(non_argument_deps or ())] if deps or non_argument_deps else None,
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
    )
    if compute_fn is not None:
        return _decorate_asset(options, compute_fn)
    return partial(_decorate_asset, options)


def _decorate_asset(options: tuple[Any, ...], fn: Callable[..., Any]) -> AssetsDefinition:
    (
        name,
        key_prefix,
        key,
        ins,
        deps,
        metadata,
        tags,
        description,
        required_resource_keys,
        resource_defs,
        io_manager_key,
        group_name,
        code_version,
        freshness_policy,
        retry_policy,
        owners,
        kinds,
        check_specs,
        op_tags,
        automation_condition,
        output_required,
    ) = options
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

    def where() -> str:
        return f"@asset {asset_key.to_user_string()!r}"

    roles = _roles(fn, ins, where)
    inputs = roles[1]
    if deps:
        spec_deps = to_deps([*inputs.values(), *deps])
    elif ins:
        spec_deps = to_deps(inputs.values())  # two ins may name one upstream
    else:
        spec_deps = tuple(map(dep_on, inputs.values()))
    spec = new_spec(
        asset_key,
        spec_deps,
        description_of(fn, description),
        dict(metadata) if metadata else {},
        not output_required,  # skippable
        group_name,
        code_version,
        freshness_policy,
        automation_condition,
        tuple(owners) if owners else (),
        dict(tags) if tags else {},
        frozenset(kinds) if kinds else frozenset(),
    )
    path = asset_key.path
    return _build(
        fn,
        roles,
        where,
        path[0] if len(path) == 1 else "__".join(path),  # op name
        (spec,),
        ("result",),  # output names
        (io_manager_key,) if io_manager_key else _DEFAULT_IO_MANAGER_KEYS,
        required_resource_keys,
        resource_defs,
        retry_policy,
        False,  # can_subset
        check_specs,
        op_tags,
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
    """
    if (specs is None) == (outs is None):
        raise InvalidDefinitionError("@multi_asset needs exactly one of specs= or outs=")
    if partitions_def is not None:
        raise InvalidDefinitionError("@multi_asset: partitions are not supported yet")

    def decorate(fn: Callable[..., Any]) -> AssetsDefinition:
        op_name = name or fn.__name__

        def where() -> str:
            return f"@multi_asset {op_name!r}"

        roles = _roles(fn, ins, where)
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
            raise InvalidDefinitionError(f"{where()}: declare at least one spec or out")
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
            where,
            op_name,
            tuple(final_specs),
            output_names,
            io_keys,
            required_resource_keys,
            resource_defs,
            retry_policy,
            can_subset,
            check_specs,
            op_tags,
        )

    return decorate
