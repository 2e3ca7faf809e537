"""`@asset` and `@multi_asset`: turn functions into `AssetsDefinition`s.

A parameter's role is read from its name and annotation, as in Dagster:

- ``context`` (first, or annotated with an execution context): the run context;
- annotated with a `ConfigurableResource` subclass: the resource of that name;
- annotated with a `Config` subclass: this asset's run config;
- anything else: the value of an upstream asset, ``AssetKey([name])`` unless ``ins=``
  says otherwise.

Decoration is on every project load's hot path, so it reads ``__code__`` and
``__annotations__`` directly instead of building an `inspect.Signature`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flowdev.assets import (
    DEFAULT_IO_MANAGER_KEY,
    AssetOut,
    AssetsDefinition,
    AssetSpec,
    to_deps,
)
from flowdev.descriptions import description_of
from flowdev.errors import InvalidDefinitionError
from flowdev.keys import AssetIn, AssetKey, to_asset_key
from flowdev.policies import FreshnessPolicy, RetryPolicy
from flowdev.resources import Config, ConfigurableResource

_CONTEXT_TYPE_NAMES = {"AssetExecutionContext", "OpExecutionContext", "AssetCheckExecutionContext"}


class _Params:
    """The roles of a function's parameters."""

    __slots__ = ("config", "context", "input_managers", "inputs", "resources")

    def __init__(self, fn: Callable[..., Any], ins: Mapping[str, AssetIn], where: str) -> None:
        code = fn.__code__
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        annotations = getattr(fn, "__annotations__", None)
        self.context: str | None = None
        self.config: tuple[str, type] | None = None
        self.resources: dict[str, str] = {}
        self.input_managers: dict[str, str] = {}
        if not annotations and not ins:
            # The common case, on every load's hot path: plain upstream parameters.
            if names and names[0] == "context":
                self.context, names = "context", names[1:]
            self.inputs = {name: AssetKey(name) for name in names}
            return
        annotations = annotations or {}
        self.inputs = {}
        for position, name in enumerate(names):
            annotation = _resolve(annotations.get(name), fn)
            if _is_context(name, position, annotation):
                self.context = name
            elif name in ins:
                self.inputs[name] = ins[name].resolve(name)
                if ins[name].input_manager_key:
                    self.input_managers[name] = ins[name].input_manager_key
            elif _is_subclass(annotation, ConfigurableResource):
                self.resources[name] = name
            elif _is_subclass(annotation, Config):
                if self.config is not None:
                    raise InvalidDefinitionError(
                        f"{where}: parameters {self.config[0]!r} and {name!r} are both Config; "
                        "an asset takes one config parameter"
                    )
                self.config = (name, annotation)
            else:
                self.inputs[name] = AssetKey(name)
        unknown = set(ins) - set(self.inputs)
        if unknown:
            raise InvalidDefinitionError(
                f"{where}: ins= names {sorted(unknown)} but the function has no such "
                f"parameter (it has {list(names)})"
            )


def _resolve(annotation: Any, fn: Callable[..., Any]) -> Any:
    # `from __future__ import annotations` leaves strings; only resolve them if needed.
    if isinstance(annotation, str):
        try:
            return eval(annotation, fn.__globals__)
        except Exception:
            return None
    return annotation


def _is_context(name: str, position: int, annotation: Any) -> bool:
    if getattr(annotation, "__name__", None) in _CONTEXT_TYPE_NAMES:
        return True
    return name == "context" and position == 0


def _is_subclass(annotation: Any, base: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, base)


def _prefix(key_prefix: str | Sequence[str] | None) -> tuple[str, ...]:
    if key_prefix is None:
        return ()
    return (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix)


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

    def decorate(fn: Callable[..., Any]) -> AssetsDefinition:
        if key is not None:
            if name is not None or key_prefix is not None:
                raise InvalidDefinitionError(
                    f"@asset on {fn.__name__!r}: pass key= or name=/key_prefix=, not both"
                )
            asset_key = to_asset_key(key)
        else:
            asset_key = AssetKey((*_prefix(key_prefix), name or fn.__name__))
        where = f"@asset {asset_key.to_user_string()!r}"
        params = _Params(fn, ins or {}, where)
        spec = AssetSpec(
            asset_key,
            deps=[*params.inputs.values(), *(deps or ()), *(non_argument_deps or ())],
            description=description_of(fn, description),
            metadata=metadata,
            skippable=not output_required,
            group_name=group_name,
            code_version=code_version,
            freshness_policy=freshness_policy or legacy_freshness_policy,
            automation_condition=automation_condition,
            owners=owners,
            tags=tags,
            kinds=kinds,
            partitions_def=partitions_def,
        )
        resource_keys = frozenset(required_resource_keys or ()) | frozenset(
            params.resources.values()
        )
        return AssetsDefinition(
            fn=fn,
            op_name="__".join(asset_key.path),
            specs=(spec,),
            output_names=("result",),
            io_manager_keys=(io_manager_key or DEFAULT_IO_MANAGER_KEY,),
            input_keys=params.inputs,
            input_manager_keys=params.input_managers,
            context_param=params.context,
            resource_params=params.resources,
            config_param=params.config,
            required_resource_keys=resource_keys,
            resource_defs=dict(resource_defs or {}),
            retry_policy=retry_policy,
            check_specs=tuple(check_specs or ()),
            op_tags=dict(op_tags or {}),
        )

    return decorate(compute_fn) if compute_fn is not None else decorate


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
        where = f"@multi_asset {op_name!r}"
        params = _Params(fn, ins or {}, where)
        shared_deps = to_deps([*params.inputs.values(), *(deps or ())])
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
            raise InvalidDefinitionError(f"{where}: declare at least one spec or out")
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
        resource_keys = frozenset(required_resource_keys or ()) | frozenset(
            params.resources.values()
        )
        return AssetsDefinition(
            fn=fn,
            op_name=op_name,
            specs=tuple(final_specs),
            output_names=output_names,
            io_manager_keys=io_keys,
            input_keys=params.inputs,
            input_manager_keys=params.input_managers,
            context_param=params.context,
            resource_params=params.resources,
            config_param=params.config,
            required_resource_keys=resource_keys,
            resource_defs=dict(resource_defs or {}),
            retry_policy=retry_policy,
            can_subset=can_subset,
            check_specs=tuple(check_specs or ()),
            op_tags=dict(op_tags or {}),
        )

    return decorate
