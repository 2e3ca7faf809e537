"""Asset checks: functions that test an asset's latest materialization."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

from flowdev.defs.descriptions import description_of
from flowdev.errors import InvalidDefinitionError, refuse_unsupported
from flowdev.keys import AssetKey, to_asset_key, to_dep_key
from flowdev.records import EMPTY, builder, freeze, record


class AssetCheckSeverity(Enum):
    """How bad a failed check is: ``WARN`` shows, ``ERROR`` marks the asset check-failed."""

    WARN = "WARN"
    ERROR = "ERROR"


@record
class AssetCheckKey:
    """The identity of a check: the asset it checks and its name."""

    asset_key: AssetKey
    name: str

    def to_user_string(self) -> str:
        """``"asset/key:check_name"``."""
        return f"{self.asset_key.to_user_string()}:{self.name}"


@record(init=False)
class AssetCheckSpec:
    """A declared check on an asset."""

    name: str
    asset_key: AssetKey
    description: str | None = None
    blocking: bool = False
    additional_deps: tuple[AssetKey, ...] = ()

    def __new__(
        cls,
        name: str,
        *,
        asset: Any,
        description: str | None = None,
        blocking: bool = False,
        additional_deps: Iterable[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AssetCheckSpec:
        asset_key = to_dep_key(asset)
        refuse_unsupported(
            f"AssetCheckSpec {name!r} on {asset_key.to_user_string()!r}", metadata=metadata
        )
        return _new_check_spec(
            name=name,
            asset_key=asset_key,
            description=description,
            blocking=blocking,
            additional_deps=tuple(to_dep_key(d) for d in additional_deps or ()),
        )

    @property
    def key(self) -> AssetCheckKey:
        """This check's identity."""
        return AssetCheckKey(self.asset_key, self.name)


_new_check_spec = builder(AssetCheckSpec)


@record(init=False)
class AssetCheckResult:
    """The outcome of one check; return it from an `@asset_check` function."""

    passed: bool
    asset_key: AssetKey | None = None
    check_name: str | None = None
    metadata: Mapping[str, Any] = EMPTY
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    description: str | None = None

    def __new__(
        cls,
        *,
        passed: bool,
        asset_key: Any = None,
        check_name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
        description: str | None = None,
    ) -> AssetCheckResult:
        return _new_check_result(
            passed=bool(passed),
            asset_key=None if asset_key is None else to_asset_key(asset_key),
            check_name=check_name,
            metadata=freeze(metadata),
            severity=severity,
            description=description,
        )


_new_check_result = builder(AssetCheckResult)


@record
class AssetChecksDefinition:
    """A function that evaluates one asset check."""

    fn: Callable[..., Any]
    spec: AssetCheckSpec
    context_param: str | None
    asset_param: str | None
    required_resource_keys: frozenset[str] = frozenset()
    resource_params: Mapping[str, str] = EMPTY

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def check_key(self) -> AssetCheckKey:
        """The check's identity."""
        return self.spec.key

    @property
    def check_specs(self) -> tuple[AssetCheckSpec, ...]:
        """The specs this definition evaluates (one)."""
        return (self.spec,)


def asset_check(
    *,
    asset: Any,
    name: str | None = None,
    description: str | None = None,
    blocking: bool = False,
    additional_deps: Iterable[Any] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    additional_ins: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], AssetChecksDefinition]:
    """Declare a check on ``asset``; the function returns an `AssetCheckResult`.

    A parameter named after the asset (its key's last part) receives its value.

    Raises:
        UnsupportedArgumentError: ``additional_ins=`` was given; flowdev does not
            implement it yet (``additional_deps=`` orders the check after other assets).
    """
    from flowdev.resources.resource import ConfigurableResource

    def decorate(fn: Callable[..., Any]) -> AssetChecksDefinition:
        refuse_unsupported(f"@asset_check {name or fn.__name__!r}", additional_ins=additional_ins)
        spec = AssetCheckSpec(
            name or fn.__name__,
            asset=asset,
            description=description_of(fn, description),
            blocking=blocking,
            additional_deps=additional_deps,
        )
        code = fn.__code__
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        annotations = getattr(fn, "__annotations__", {})
        context_param = asset_param = None
        resources: dict[str, str] = {}
        for position, param in enumerate(names):
            annotation = annotations.get(param)
            if position == 0 and param == "context":
                context_param = param
            elif isinstance(annotation, type) and issubclass(annotation, ConfigurableResource):
                resources[param] = param
            elif asset_param is None and param == spec.asset_key.name:
                asset_param = param
            else:
                raise InvalidDefinitionError(
                    f"@asset_check {fn.__name__!r}: parameter {param!r} is neither context, "
                    f"a resource, nor the checked asset {spec.asset_key.name!r}"
                )
        return AssetChecksDefinition(
            fn=fn,
            spec=spec,
            context_param=context_param,
            asset_param=asset_param,
            required_resource_keys=frozenset(required_resource_keys or ())
            | frozenset(resources.values()),
            resource_params=freeze(resources),
        )

    return decorate
