"""Resources as definitions: `ConfigurableResource`, `@resource`, `ResourceDefinition`.

What a run does with them (resolving config and `EnvVar`s, set-up, teardown, the secret
values to redact) lives in `flowdev.resources.lifecycle`.
"""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from types import SimpleNamespace
from typing import Annotated, Any, Generic, Self, TypeVar, cast

from flowdev.errors import ExecutionError, InvalidDefinitionError
from flowdev.records import field, record
from flowdev.resources.config import Config
from flowdev.resources.configurable import MISSING, Configurable, describe_value
from flowdev.resources.configurable import PrivateAttr as PrivateAttr
from flowdev.resources.env import (
    EnvVar as EnvVar,  # re-exported: flowdev.resources.resource is Dagster's home
)

T = TypeVar("T")
TResValue = TypeVar("TResValue")

# Dagster's annotations for resources that are plain objects, in a resource or an asset.
ResourceDependency = Annotated[T, "flowdev.ResourceDependency"]
ResourceParam = Annotated[T, "flowdev.ResourceParam"]


def default_logger() -> Any:
    import logging  # only runs need it; keeps `import flowdev` light

    return logging.getLogger("flowdev.resources")


@record
class InitResourceContext:
    """What a resource gets when it is set up for a run (Dagster's `InitResourceContext`)."""

    resource_config: Any = None
    resources: Any = field(default_factory=SimpleNamespace)
    instance: Any = None
    run_id: str | None = None
    log: Any = field(default_factory=default_logger)
    resource_def: Any = None


def build_init_resource_context(
    config: Any = None, resources: Mapping[str, Any] | None = None, instance: Any = None
) -> InitResourceContext:
    """A context for calling a resource function or ``setup_for_execution`` in a test."""
    return InitResourceContext(
        resource_config=config, resources=SimpleNamespace(**resources or {}), instance=instance
    )


class ConfigurableResourceFactory(Configurable, Generic[TResValue]):
    """A typed-config resource whose run value is ``create_resource(context)``.

    Subclass with annotated fields; instances are immutable, validate on construction and
    never show secret values in ``repr``. Override ``create_resource`` to build the object
    assets receive, and the lifecycle hooks to open and close what it needs.
    """

    _flowdev_from_dict = False

    @classmethod
    def configure_at_launch(cls, **values: Any) -> PartialResource:
        """A placeholder whose remaining config comes from run config at launch.

        Supply it as ``{"resources": {key: {"config": {...}}}}`` when the run starts.
        """
        return PartialResource(cls, cls._flowdev_validate(values, cls.__name__, partial=True))

    @classmethod
    def from_resource_context(cls, context: InitResourceContext) -> Self:
        """An instance built from ``context.resource_config``."""
        return cls(**(context.resource_config or {}))

    @classmethod
    def _flowdev_accepts(cls, value: Any) -> bool:
        if isinstance(value, PartialResource):
            return issubclass(value.resource_class, cls)
        return isinstance(value, cls)

    def create_resource(self, context: InitResourceContext) -> TResValue:
        """The object assets receive for this resource."""
        raise NotImplementedError(
            f"{type(self).__name__} must define create_resource(self, context) to return the"
            " object assets receive"
        )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Called once before the run uses this resource. Does nothing by default."""

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Called after the run, even if a step failed; not if set-up failed."""

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[TResValue]:
        """Set up, yield the run value, tear down. Override for custom lifecycles."""
        self.setup_for_execution(context)
        try:
            yield self.create_resource(context)
        finally:
            self.teardown_after_execution(context)

    def get_resource_context(self) -> InitResourceContext:
        """The context this resource was set up with (only during a run)."""
        context = self.__dict__.get("_flowdev_context")
        if context is None:
            raise ExecutionError(
                f"{type(self).__name__}.get_resource_context() works only during a run, after the"
                " resource was set up: call it from an asset or a lifecycle hook."
            )
        return cast(InitResourceContext, context)


class ConfigurableResource(ConfigurableResourceFactory[TResValue]):
    """A resource with typed config; assets receive the instance itself (Dagster's name).

    Example::

        class Warehouse(ConfigurableResource):
            path: str
            schema_name: str = "main"

        Definitions(assets=[...], resources={"warehouse": Warehouse(path=EnvVar("WH_PATH"))})
    """

    def create_resource(self, context: InitResourceContext) -> TResValue:
        """This resource itself."""
        return cast(TResValue, self)


class PartialResource:
    """``X.configure_at_launch(...)``: a resource whose config is completed by run config."""

    __slots__ = ("resource_class", "values")

    def __init__(
        self, resource_class: type[ConfigurableResourceFactory[Any]], values: Mapping[str, Any]
    ) -> None:
        self.resource_class = resource_class
        self.values = dict(values)

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{self.resource_class.__name__}.configure_at_launch({given})"


class Field:
    """A field of a `@resource` ``config_schema`` dict (Dagster's legacy `Field`)."""

    def __init__(
        self,
        config: Any = Any,
        default_value: Any = MISSING,
        is_required: bool | None = None,
        description: str | None = None,
    ) -> None:
        self.config = config
        self.default_value = default_value
        self.is_required = default_value is MISSING if is_required is None else is_required
        self.description = description


def schema_annotation(schema: Any) -> Any:
    """A legacy schema as an annotation: ``[str]`` is ``list[str]``, a dict a `Config` class."""
    if isinstance(schema, Field):
        return schema_annotation(schema.config)
    if isinstance(schema, list) and len(schema) == 1:
        return list[schema_annotation(schema[0])]  # type: ignore[misc]
    if not isinstance(schema, Mapping):
        return Any if schema is None else schema
    annotations, defaults = {}, {}
    for name, spec in schema.items():
        spec = spec if isinstance(spec, Field) else Field(spec)
        annotations[name] = schema_annotation(spec)
        if spec.default_value is not MISSING or not spec.is_required:
            defaults[name] = None if spec.default_value is MISSING else spec.default_value
            annotations[name] = annotations[name] | None
    # Checked by the same machinery as a `Config` subclass written by hand.
    return type("ResourceConfig", (Config,), {"__annotations__": annotations, **defaults})


class ResourceDefinition:
    """A resource built by a function when a run starts (what `@resource` makes).

    The function takes an `InitResourceContext` (or nothing) and returns the resource, or
    yields it once: code after the ``yield`` runs at teardown.
    """

    def __init__(
        self,
        resource_fn: Callable[..., Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: AbstractSet[str] | None = None,
        version: str | None = None,
    ) -> None:
        if not callable(resource_fn):
            raise InvalidDefinitionError(
                f"ResourceDefinition needs a function, got {describe_value(resource_fn)}"
            )
        self.resource_fn = resource_fn
        self.config_schema = config_schema
        self.description = description
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self.version = version

    @staticmethod
    def hardcoded_resource(value: Any, description: str | None = None) -> ResourceDefinition:
        """A definition that always provides ``value``."""
        return ResourceDefinition(lambda: value, description=description)

    def __call__(self, context: InitResourceContext | None = None) -> Any:
        """Call the resource function directly (in tests), with ``context`` if it takes one."""
        if not inspect.signature(self.resource_fn).parameters:
            return self.resource_fn()
        return self.resource_fn(context if context is not None else build_init_resource_context())

    def __repr__(self) -> str:
        return f"ResourceDefinition({getattr(self.resource_fn, '__name__', self.resource_fn)})"


def resource(
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: AbstractSet[str] | None = None,
    version: str | None = None,
) -> Any:
    """Make a `ResourceDefinition` from a function (Dagster's `@resource`).

    Use bare (``@resource``) or with arguments (``@resource(config_schema={"path": str})``);
    the function reads its validated config from ``context.resource_config``.
    """
    if isinstance(config_schema, types.FunctionType):  # bare @resource: a type is not a function
        return ResourceDefinition(config_schema)

    def decorate(fn: Callable[..., Any]) -> ResourceDefinition:
        return ResourceDefinition(fn, config_schema, description, required_resource_keys, version)

    return decorate


# `flowdev.resources.lifecycle` owns these; they resolve from here too, for callers that
# import everything about resources from one module. Only on first use: that module
# imports this one.
_LIFECYCLE = frozenset({"resolve_resources", "resource_lifecycle", "secret_values"})


def __getattr__(name: str) -> Any:
    if name in _LIFECYCLE:
        from flowdev.resources import lifecycle as resource_lifecycle

        return getattr(resource_lifecycle, name)
    raise AttributeError(f"module 'flowdev.resources.resource' has no attribute {name!r}")
