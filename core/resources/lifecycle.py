"""What a run does with its resources: resolve them, set them up, tear them down.

`Definitions(resources=...)` takes any mix of `ConfigurableResource` instances,
``X.configure_at_launch()`` placeholders, `@resource` definitions and plain objects (passed
through as they are); `flowdev.resources.resource` defines those. The executor, at run
start and end::

    resolved = resolve_resources(defs.resources, run_config=run_config)  # EnvVars read here
    secrets = secret_values(defs.resources, run_config=run_config)       # for a Redactor
    with resource_lifecycle(resolved, run_id=run_id) as live:
        ...  # hand live[key] to assets; teardown runs on exit, even when a step failed

Set-up runs depth-first (a resource's nested resources first), each object once;
teardown runs in reverse order.
"""

from __future__ import annotations

import contextlib
import os
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

from flowdev.errors import (
    ConfigError,
    ExecutionError,
    FlowdevError,
    InvalidDefinitionError,
    MissingResourceError,
    close_matches,
    did_you_mean,
)
from flowdev.records import is_record
from flowdev.resources.config import RunConfig, run_config_dict
from flowdev.resources.configurable import (
    Configurable,
    Resolution,
    check_value,
    describe_value,
    resolve_fields,
    to_config_value,
)
from flowdev.resources.env import EnvVar, IntEnvVar
from flowdev.resources.resource import (
    ConfigurableResourceFactory,
    InitResourceContext,
    PartialResource,
    ResourceDefinition,
    default_logger,
    schema_annotation,
)


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


class _ResourceResolution(Resolution):
    """Resolves one run's resources, depth-first, each original object once."""

    def __init__(
        self, resources: Mapping[str, Any], env: Mapping[str, str], configs: Mapping[str, Any]
    ) -> None:
        super().__init__(env, self.describe_value)
        self.resources = resources
        self.configs = configs
        self.key_of = {id(v): k for k, v in reversed(list(resources.items()))}
        self.done: dict[int, Any] = {}
        self.key = ""

    def describe_value(self, path: str) -> str:
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
                raise ConfigError(f"{where}: expected a dict, got {describe_value(run_values)}")
            if isinstance(original, PartialResource) or run_values:
                merged = {**given, **(run_values or {})}
                original = cls._flowdev_construct(cls._flowdev_validate(merged, where))
            return resolve_fields(original, self, prefix)
        if isinstance(original, ResourceDefinition):
            schema = original.config_schema
            annotation = schema_annotation(schema)
            raw = {} if run_values is None and isinstance(schema, Mapping) else run_values
            checked = check_value(raw, annotation, where)
            field_path = "" if isinstance(schema, Mapping) else "config"  # fields name themselves
            return _Bound(
                original, to_config_value(check_value(checked, annotation, field_path, self))
            )
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
        raise ConfigError(f"run_config resources: expected a dict, got {describe_value(section)}")
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
                f" {describe_value(entry)}"
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
    if isinstance(value, Configurable):
        children = value._flowdev_values().values()
    elif isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, list | tuple) and not is_record(value):
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
    logger = log if log is not None else default_logger()

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
    if isinstance(value, Configurable):
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
    elif isinstance(value, list | tuple | set | frozenset) and not is_record(value):
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
