"""Resources: `ConfigurableResource`, `@resource`, and what a run does with them.

`Definitions(resources=...)` takes any mix of `ConfigurableResource` instances,
``X.configure_at_launch()`` placeholders, `@resource` definitions and plain objects (passed
through as they are). The executor, at run start and end::

    resolved = resolve_resources(defs.resources, run_config=run_config)  # EnvVars read here
    secrets = secret_values(defs.resources, run_config=run_config)       # for redact()
    with resource_lifecycle(resolved, run_id=run_id) as live:
        ...  # hand live[key] to assets; teardown runs on exit, even when a step failed

Set-up runs depth-first (a resource's nested resources first), each object once;
teardown runs in reverse order.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Annotated, Any, Generic, Self, TypeVar, cast

from flowdev.config import (
    MISSING,
    Config,
    IntEnvVar,
    RunConfig,
    _check,
    _Configurable,
    _describe,
    _Resolution,
    _resolve_fields,
    run_config_dict,
    to_config_value,
)
from flowdev.config import EnvVar as EnvVar  # re-exported: flowdev.resources is Dagster's home
from flowdev.config import PrivateAttr as PrivateAttr
from flowdev.config import config_for as config_for
from flowdev.errors import (
    ConfigError,
    ExecutionError,
    FlowdevError,
    InvalidDefinitionError,
    MissingResourceError,
    close_matches,
    did_you_mean,
)

T = TypeVar("T")
TResValue = TypeVar("TResValue")

# Dagster's annotations for resources that are plain objects, in a resource or an asset.
ResourceDependency = Annotated[T, "flowdev.ResourceDependency"]
ResourceParam = Annotated[T, "flowdev.ResourceParam"]


def _default_logger() -> Any:
    import logging  # only runs need it; keeps `import flowdev` light

    return logging.getLogger("flowdev.resources")


@dataclass(frozen=True, slots=True, kw_only=True)
class InitResourceContext:
    """What a resource gets when it is set up for a run (Dagster's `InitResourceContext`)."""

    resource_config: Any = None
    resources: Any = field(default_factory=SimpleNamespace)
    instance: Any = None
    run_id: str | None = None
    log: Any = field(default_factory=_default_logger)
    resource_def: Any = None


def build_init_resource_context(
    config: Any = None, resources: Mapping[str, Any] | None = None, instance: Any = None
) -> InitResourceContext:
    """A context for calling a resource function or ``setup_for_execution`` in a test."""
    return InitResourceContext(
        resource_config=config, resources=SimpleNamespace(**resources or {}), instance=instance
    )


class ConfigurableResourceFactory(_Configurable, Generic[TResValue]):
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


def _schema_annotation(schema: Any) -> Any:
    """A legacy schema as an annotation: ``[str]`` is ``list[str]``, a dict a `Config` class."""
    if isinstance(schema, Field):
        return _schema_annotation(schema.config)
    if isinstance(schema, list) and len(schema) == 1:
        return list[_schema_annotation(schema[0])]  # type: ignore[misc]
    if not isinstance(schema, Mapping):
        return Any if schema is None else schema
    annotations, defaults = {}, {}
    for name, spec in schema.items():
        spec = spec if isinstance(spec, Field) else Field(spec)
        annotations[name] = _schema_annotation(spec)
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
                f"ResourceDefinition needs a function, got {_describe(resource_fn)}"
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


class _Bound:
    """A `ResourceDefinition` with its run's config, waiting for `resource_lifecycle`."""

    __slots__ = ("config", "definition")

    def __init__(self, definition: ResourceDefinition, config: Any) -> None:
        self.definition = definition
        self.config = config

    def __repr__(self) -> str:
        return f"{self.definition!r} (configured)"  # the config may hold secrets

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ExecutionError(
            f"{self.definition!r} is not set up: use the objects `resource_lifecycle(resolved)`"
            " yields, not `resolve_resources`' result, for @resource definitions"
        )


class _ResourceResolution(_Resolution):
    """Resolves one run's resources, depth-first, each original object once."""

    def __init__(
        self, resources: Mapping[str, Any], env: Mapping[str, str], configs: Mapping[str, Any]
    ) -> None:
        super().__init__(env, self._describe)
        self.resources = resources
        self.configs = configs
        self.key_of = {id(v): k for k, v in reversed(list(resources.items()))}
        self.done: dict[int, Any] = {}
        self.key = ""

    def _describe(self, path: str) -> str:
        return f"resource {self.key!r} field {path!r}"

    def top(self, key: str) -> Any:
        original = self.resources[key]
        if id(original) not in self.done:
            outer, self.key = self.key, key
            try:
                self.done[id(original)] = self._resolve(original, key, "")
            finally:
                self.key = outer
        return self.done[id(original)]

    def nested(self, value: Any, path: str) -> Any:
        if not isinstance(value, ConfigurableResourceFactory | PartialResource):
            return super().nested(value, path)  # a Config inside a resource
        if id(value) in self.key_of:
            return self.top(self.key_of[id(value)])  # shared with a top-level key
        if isinstance(value, PartialResource):
            raise ConfigError(
                f"resource {self.key!r} field {path!r} is {value!r}, which gets config at launch"
                " only as a top-level resource: add that object to Definitions(resources=...)"
                " under its own key too."
            )
        if id(value) not in self.done:
            self.done[id(value)] = self._resolve(value, self.key, path)
        return self.done[id(value)]

    def _resolve(self, original: Any, key: str, prefix: str) -> Any:
        run_values = self.configs.get(key) if not prefix else None
        where = f"run_config resources.{key}.config"
        if isinstance(original, PartialResource | ConfigurableResourceFactory):
            if isinstance(original, PartialResource):
                cls, given = original.resource_class, original.values
            else:
                cls, given = type(original), original._flowdev_values()
            if run_values is not None and not isinstance(run_values, Mapping):
                raise ConfigError(f"{where}: expected a dict, got {_describe(run_values)}")
            if isinstance(original, PartialResource) or run_values:
                merged = {**given, **(run_values or {})}
                original = cls._flowdev_construct(cls._flowdev_validate(merged, where))
            return _resolve_fields(original, self, prefix)
        if isinstance(original, ResourceDefinition):
            schema = original.config_schema
            annotation = _schema_annotation(schema)
            raw = {} if run_values is None and isinstance(schema, Mapping) else run_values
            checked = _check(raw, annotation, where)
            field_path = "" if isinstance(schema, Mapping) else "config"  # fields name themselves
            return _Bound(original, to_config_value(_check(checked, annotation, field_path, self)))
        if run_values is not None:
            raise ConfigError(
                f"{where}: resource {key!r} is a plain {type(original).__name__} object and"
                " takes no config. Remove this entry, or make it a ConfigurableResource."
            )
        return original


def _resource_configs(run_config: Any, keys: Iterable[str]) -> dict[str, Any]:
    """Each resource key's ``config`` from run config, rejecting keys no resource has."""
    section = run_config_dict(run_config).get("resources") or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"run_config resources: expected a dict, got {_describe(section)}")
    known = list(keys)
    configs = {}
    for key, entry in section.items():
        if key not in known:
            hint = did_you_mean(close_matches(str(key), known))
            raise ConfigError(
                f"run_config resources.{key}: no resource has this key.{hint} Resource keys:"
                f" {', '.join(sorted(known)) or 'none'}."
            )
        if not isinstance(entry, Mapping) or any(k != "config" for k in entry):
            raise ConfigError(
                f"run_config resources.{key}: expected {{'config': {{...}}}}, got"
                f" {_describe(entry)}"
            )
        if "config" in entry:
            configs[key] = entry["config"]
    return configs


def resolve_resources(
    resources: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    *,
    run_config: Mapping[str, Any] | RunConfig | None = None,
) -> dict[str, Any]:
    """The run-ready resources: config from run config applied, EnvVars read, all validated.

    Call it when a run starts, before any step, so a missing variable fails the run at once.
    `ConfigurableResource`s come back as new instances (nested resources resolved first; an
    object used in several places resolves once); ``configure_at_launch()`` placeholders get
    their config from ``run_config["resources"][key]["config"]``; plain objects pass through.
    Hand the result to `resource_lifecycle`, which sets them up and yields what assets get.

    Args:
        resources: resource key to resource, as given to ``Definitions(resources=...)``.
        env: where `EnvVar`s are read; ``os.environ`` when None.
        run_config: a Dagster-shaped dict or `RunConfig`; only its ``resources`` are read.

    Raises:
        EnvVarError: a field reads an environment variable that is not set.
        ConfigError: run config or a variable's value does not fit a field.
    """
    configs = _resource_configs(run_config, resources)
    resolution = _ResourceResolution(resources, os.environ if env is None else env, configs)
    return {key: resolution.top(key) for key in resources}


def _nested_resources(value: Any) -> Iterator[ConfigurableResourceFactory[Any]]:
    """The resources held in ``value``'s fields, at any depth of lists, dicts and Configs."""
    children: Iterable[Any] = ()
    if isinstance(value, _Configurable):
        children = value._flowdev_values().values()
    elif isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, list | tuple):
        children = value
    for child in children:
        if isinstance(child, ConfigurableResourceFactory):
            yield child
        else:
            yield from _nested_resources(child)


def _open(make: Callable[[], Any], key: str, opened: list[tuple[str, Any]], *, enter: bool) -> Any:
    """The value ``make()`` provides: a generator's one yield, or (``enter``) a context's."""
    try:
        handle = make()
        if isinstance(handle, types.GeneratorType):
            generator = handle
            handle = contextlib.contextmanager(lambda: generator)()
        elif hasattr(handle, "__aenter__") and not hasattr(handle, "__enter__"):
            raise ExecutionError(
                f"resource {key!r} has an async yield_for_execution, which flowdev does not run"
                " yet: make it a plain @contextmanager."
            )
        elif not (enter and hasattr(handle, "__enter__")):
            return handle
        value = handle.__enter__()
    except FlowdevError:
        raise
    except Exception as exc:
        raise ExecutionError(f"resource {key!r} failed to set up: {exc!r}") from exc
    opened.append((key, handle))
    return value


def _close(opened: list[tuple[str, Any]], failure: BaseException | None) -> None:
    """Tear down in reverse; a run's own error is never passed to a resource (as in Dagster)."""
    errors: list[tuple[str, Exception]] = []
    while opened:
        key, handle = opened.pop()
        try:
            handle.__exit__(None, None, None)
        except Exception as exc:
            errors.append((key, exc))
    if failure is not None:
        for failed_key, error in errors:
            failure.add_note(f"Also, tearing down resource {failed_key!r} failed: {error!r}")
    elif errors:
        failed_key, error = errors[0]
        raise ExecutionError(f"resource {failed_key!r} failed to tear down: {error!r}") from error


@contextlib.contextmanager
def resource_lifecycle(
    resolved: Mapping[str, Any],
    *,
    run_id: str | None = None,
    instance: Any = None,
    log: Any = None,
) -> Iterator[dict[str, Any]]:
    """Set up the resolved resources for a run; yield key -> the object assets receive.

    Nested resources are set up before the resources holding them, `@resource` definitions
    after their ``required_resource_keys``; each object once. On exit every resource that was
    set up is torn down in reverse order, even if the run failed.

    Raises:
        ExecutionError: a resource failed to set up or tear down (the cause is chained).
        MissingResourceError: a `@resource` requires a key that ``resolved`` lacks.
    """
    opened: list[tuple[str, Any]] = []
    live_by_id: dict[int, Any] = {}
    entering: set[int] = set()
    key_of = {id(v): k for k, v in reversed(list(resolved.items()))}
    logger = log if log is not None else _default_logger()

    def context(config: Any, resources: Mapping[str, Any], definition: Any) -> InitResourceContext:
        return InitResourceContext(
            resource_config=config,
            resources=SimpleNamespace(**resources),
            instance=instance,
            run_id=run_id,
            log=logger,
            resource_def=definition,
        )

    def enter(value: Any, key: str) -> Any:
        if id(value) in live_by_id:
            return live_by_id[id(value)]
        if id(value) in entering:
            raise InvalidDefinitionError(
                f"resource {key!r} requires itself through other resources"
            )
        entering.add(id(value))
        if isinstance(value, ConfigurableResourceFactory):
            for nested in _nested_resources(value):
                enter(nested, key_of.get(id(nested), key))
            init = context(to_config_value(value), {}, value)
            value.__dict__["_flowdev_context"] = init
            resource = value
            live = _open(lambda: resource.yield_for_execution(init), key, opened, enter=True)
        elif isinstance(value, _Bound):
            needed = {}
            for name in sorted(value.definition.required_resource_keys):
                if name not in resolved:
                    hint = did_you_mean(close_matches(name, resolved))
                    raise MissingResourceError(
                        f"resource {key!r} requires resource {name!r}, which Definitions"
                        f"(resources=...) does not provide.{hint}"
                    )
                needed[name] = enter(resolved[name], name)
            init = context(value.config, needed, value.definition)
            definition = value.definition
            live = _open(lambda: definition(init), key, opened, enter=False)
        else:
            live = value
        live_by_id[id(value)] = live
        return live

    try:
        live = {key: enter(value, key) for key, value in resolved.items()}
    except BaseException as exc:
        _close(opened, exc)
        raise
    try:
        yield live
    except BaseException as exc:
        _close(opened, exc)
        raise
    _close(opened, None)


def _env_names(value: Any, seen: set[int]) -> Iterator[str]:
    if isinstance(value, EnvVar | IntEnvVar):
        yield value.env_var_name
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    children: Iterable[Any] = ()
    if isinstance(value, _Configurable):
        # Resolved instances keep the EnvVars their values came from.
        shown = value.__dict__.get("_flowdev_shown", {})
        children = [*shown.values(), *value._flowdev_values().values()]
    elif isinstance(value, PartialResource):
        children = value.values.values()
    elif isinstance(value, RunConfig):
        children = [value.to_config_dict()]
    elif isinstance(value, Mapping):
        if len(value) == 1 and isinstance(value.get("env"), str):
            yield value["env"]
            return
        children = value.values()
    elif isinstance(value, list | tuple | set | frozenset):
        children = value
    for child in children:
        yield from _env_names(child, seen)


def secret_values(
    resources: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    *,
    run_config: Mapping[str, Any] | RunConfig | None = None,
) -> set[str]:
    """Every value a run reads through an `EnvVar`, for `redact` to hide from logs.

    Walks the resources (as given, or as resolved) and the run config for `EnvVar`s and
    ``{"env": NAME}`` entries, and returns the non-empty values those variables have in
    ``env`` (``os.environ`` when None), plus the int form of numeric ones.
    """
    env = os.environ if env is None else env
    secrets = set()
    for name in _env_names([resources, run_config], set()):
        text = env.get(name)
        if not text:
            continue
        secrets.add(text)
        with contextlib.suppress(ValueError):
            secrets.add(str(int(text)))
    return secrets


class Redactor:
    """Replaces secret values with ``***``, in text and in JSON-able data.

    Build one per run: the secrets are compiled into one pattern, longer secrets first so
    that a secret containing another is hidden whole.
    """

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str]) -> None:
        ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return text if self._pattern is None else self._pattern.sub("***", text)

    def data(self, value: Any) -> Any:
        """``value`` with every secret replaced in its strings, keys and numbers.

        A number whose digits hold a secret (a port, a PIN) becomes the redacted string.
        """
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            digits = str(value)
            hidden = self.text(digits)
            return value if hidden == digits else hidden
        return value


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by ``***`` (longer secrets first)."""
    return Redactor(secrets).text(text)
