"""Config schemas as plain data, and run config checked against them before a run starts.

Dagster keeps every op's and resource's config schema in the definitions snapshot, so
the process that launches a run validates its config without importing user code. The
snapshot here does the same: where the definitions are loaded, `class_schema` describes
a `Config` or resource class's fields as JSON; where a run is launched,
`validate_run_config` rebuilds those fields as annotations and checks the run config
with `flowdev.resources.configurable`'s own checker, so the messages are the ones a worker would
give, only earlier, and all of them at once.

A type is written as ``"int"``, ``"float"``, ``"str"``, ``"bool"``, ``"none"`` or
``"any"`` (anything flowdev cannot describe, checked only when the run starts), or one
of ``{"list": T}``, ``{"set": T}``, ``{"tuple": [T, ...]}``, ``{"tuple_of": T}``,
``{"dict": [K, V]}``, ``{"union": [T, ...]}``, ``{"literal": [values]}``,
``{"enum": name, "members": {name: value}}``, ``{"config": name, "fields": {...}}``.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

from flowdev.errors import ConfigError, close_matches, did_you_mean
from flowdev.resources.configurable import MISSING, Configurable, check_value, describe_value

__all__ = ["class_schema", "resource_schema", "validate_run_config"]

_SCALARS: dict[Any, str] = {int: "int", float: "float", str: "str", bool: "bool"}
_SCALAR_TYPES = {name: kind for kind, name in _SCALARS.items()}
_TOP_LEVEL = ("ops", "resources", "loggers", "execution")
_OP_ENTRY = ("config", "inputs", "outputs")
# Far beyond any real run config; deeper data would exhaust the checker's recursion.
MAX_CONFIG_DEPTH = 100


def class_schema(cls: type[Configurable], given: Iterable[str] = ()) -> dict[str, Any]:
    """``cls``'s fields as JSON: each field's type and whether run config must supply it
    (``given`` fields are set already, as in ``configure_at_launch(path=...)``)."""
    given = set(given)
    return {
        "name": cls.__name__,
        "fields": {
            name: {
                "type": type_schema(field.annotation),
                "required": field.default is MISSING
                and field.factory is None
                and name not in given,
            }
            for name, field in cls._flowdev_fields().items()
        },
    }


def resource_schema(resource: Any) -> dict[str, Any] | None:
    """What run config a resource takes: its class's fields, ``{"any": True}`` for a
    `@resource` with a config schema, or None for an object that takes no config."""
    from flowdev.resources.resource import (
        ConfigurableResourceFactory,
        PartialResource,
        ResourceDefinition,
    )

    if isinstance(resource, PartialResource):
        return class_schema(resource.resource_class, given=resource.values)
    if isinstance(resource, ConfigurableResourceFactory):
        return class_schema(type(resource), given=type(resource)._flowdev_fields())
    if isinstance(resource, ResourceDefinition):
        return {"any": True} if resource.config_schema is not None else None
    return None


def type_schema(annotation: Any) -> Any:
    """``annotation`` as JSON (see the module docstring)."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if annotation is None or annotation is type(None):
        return "none"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is not None and getattr(origin, "__name__", "") == "Annotated":
        return type_schema(args[0])
    if origin is Union or origin is types.UnionType:
        return {"union": [type_schema(a) for a in args]}
    if origin is Literal and all(isinstance(a, str | int | bool) for a in args):
        return {"literal": list(args)}
    if origin in (list, Sequence) or annotation is list:
        return {"list": type_schema(args[0]) if args else "any"}
    if origin in (set, frozenset) or annotation in (set, frozenset):
        return {"set": type_schema(args[0]) if args else "any"}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"tuple_of": type_schema(args[0])}
        return {"tuple": [type_schema(a) for a in args]}
    if origin in (dict, Mapping) or annotation is dict:
        key, value = args if len(args) == 2 else (Any, Any)
        return {"dict": [type_schema(key), type_schema(value)]}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        members = {m.name: m.value for m in annotation}
        if all(isinstance(v, str | int | float | bool) for v in members.values()):
            return {"enum": annotation.__name__, "members": members}
        return {"enum": annotation.__name__, "members": {name: name for name in members}}
    from_dict = getattr(annotation, "_flowdev_from_dict", False)  # Config yes, resources no
    if isinstance(annotation, type) and issubclass(annotation, Configurable) and from_dict:
        return {"config": annotation.__name__, **class_schema(annotation)}
    return "any"  # a class of the user's own: only the worker can check it


def _annotation(schema: Any) -> Any:
    """The annotation `type_schema` described, for `flowdev.resources.configurable.check_value`."""
    if isinstance(schema, str):
        return _SCALAR_TYPES.get(schema, type(None) if schema == "none" else Any)
    if "list" in schema:
        return list[_annotation(schema["list"])]  # type: ignore[misc]
    if "set" in schema:
        return set[_annotation(schema["set"])]  # type: ignore[misc]
    if "tuple_of" in schema:
        return tuple[_annotation(schema["tuple_of"]), ...]  # type: ignore[misc]
    if "tuple" in schema:
        return tuple[tuple(_annotation(s) for s in schema["tuple"])]  # type: ignore[misc]
    if "dict" in schema:
        key, value = schema["dict"]
        return dict[_annotation(key), _annotation(value)]  # type: ignore[misc]
    if "union" in schema:
        return Union[tuple(_annotation(s) for s in schema["union"])]  # noqa: UP007
    if "literal" in schema:
        return Literal[tuple(schema["literal"])]
    if "enum" in schema:
        return enum.Enum(schema["enum"], schema["members"])
    if "config" in schema:
        return _config_class(schema)
    return Any


def _config_class(schema: Mapping[str, Any]) -> type[Configurable]:
    """A stand-in `Config` class with the described fields (defaults stand for "optional")."""
    from flowdev.resources.config import Config

    namespace: dict[str, Any] = {
        "__annotations__": {name: _annotation(f["type"]) for name, f in schema["fields"].items()}
    }
    namespace.update({name: None for name, f in schema["fields"].items() if not f["required"]})
    return type(schema["name"], (Config,), namespace)


def validate_run_config(
    run_config: Mapping[str, Any],
    op_schemas: Mapping[str, Mapping[str, Any] | None],
    resource_schemas: Mapping[str, Mapping[str, Any] | None],
    selected_ops: Iterable[str],
) -> None:
    """Check ``run_config`` against the definitions before a run of ``selected_ops``.

    Args:
        run_config: Dagster's shape, ``{"ops": {name: {"config": {...}}}, "resources": ...}``.
        op_schemas: every op name of the definitions, with its config class's schema
            (None when it takes no config).
        resource_schemas: every resource key, with `resource_schema` of it.
        selected_ops: the ops the run executes: only these must have their required fields.

    Raises:
        ConfigError: one line per problem, each led by its path (``ops.x.config.n: ...``).
    """
    problems: list[str] = []
    deepest = _deeper_than(run_config, MAX_CONFIG_DEPTH)
    if deepest is not None:
        deepest = deepest if len(deepest) <= 80 else deepest[:77] + "..."
        raise ConfigError(
            f"run config does not fit the definitions:\n  {deepest}: nests deeper than"
            f" {MAX_CONFIG_DEPTH} levels; no config field takes data that deep"
        )
    for key in run_config:
        if key not in _TOP_LEVEL:
            hint = did_you_mean(close_matches(str(key), _TOP_LEVEL))
            problems.append(f"{key}: not a run config section.{hint} Use {', '.join(_TOP_LEVEL)}.")
    selected = set(selected_ops)
    ops = _section(run_config, "ops", problems)
    for name, entry in ops.items():
        if name not in op_schemas:
            hint = did_you_mean(close_matches(str(name), op_schemas))
            problems.append(f"ops.{name}: no op or asset has this name.{hint}")
            continue
        problems += _op_problems(name, entry, op_schemas[name], name in selected)
    for name in sorted(selected - set(ops)):
        schema = op_schemas.get(name)
        if schema is not None:
            problems += _field_problems(schema, {}, f"ops.{name}.config", required=True)
    resources = _section(run_config, "resources", problems)
    for key, entry in resources.items():
        if key not in resource_schemas:
            hint = did_you_mean(close_matches(str(key), resource_schemas))
            known = ", ".join(sorted(resource_schemas)) or "none"
            problems.append(f"resources.{key}: no resource has this key.{hint} Keys: {known}.")
            continue
        problems += _resource_problems(key, entry, resource_schemas[key])
    for key in sorted(set(resource_schemas) - set(resources)):
        schema = resource_schemas[key]
        if schema is not None and "fields" in schema:
            problems += _field_problems(schema, {}, f"resources.{key}.config", required=True)
    if problems:
        raise ConfigError(
            "run config does not fit the definitions:\n" + "\n".join(f"  {p}" for p in problems)
        )


def _section(run_config: Mapping[str, Any], name: str, problems: list[str]) -> Mapping[str, Any]:
    section = run_config.get(name) or {}
    if not isinstance(section, Mapping):
        problems.append(f"{name}: expected a dict keyed by name, got {describe_value(section)}")
        return {}
    return section


def _op_problems(
    name: str, entry: Any, schema: Mapping[str, Any] | None, selected: bool
) -> list[str]:
    if isinstance(entry, Configurable):
        return []  # a `RunConfig` object: validated when it was built
    if not isinstance(entry, Mapping):
        return [f"ops.{name}: expected {{'config': {{...}}}}, got {describe_value(entry)}"]
    problems = []
    for key in entry:
        if key not in _OP_ENTRY:
            hint = did_you_mean(close_matches(str(key), _OP_ENTRY))
            problems.append(f"ops.{name}.{key}: not an op setting.{hint} Values go under 'config'.")
    if "config" not in entry:
        if schema is not None:
            problems += _field_problems(schema, {}, f"ops.{name}.config", required=selected)
        return problems
    config = entry["config"]
    if schema is None:
        problems.append(
            f"ops.{name}.config: {name} takes no config (its function has no `config:`"
            " parameter typed with a Config class); remove this entry"
        )
    elif not isinstance(config, Mapping):
        problems.append(f"ops.{name}.config: expected a dict, got {describe_value(config)}")
    else:
        problems += _field_problems(schema, config, f"ops.{name}.config", required=selected)
    return problems


def _resource_problems(key: str, entry: Any, schema: Mapping[str, Any] | None) -> list[str]:
    if not isinstance(entry, Mapping) or any(k != "config" for k in entry):
        return [f"resources.{key}: expected {{'config': {{...}}}}, got {describe_value(entry)}"]
    config = entry.get("config")
    if schema is None:
        return [
            f"resources.{key}.config: resource {key!r} takes no config (it is a plain object,"
            " not a ConfigurableResource); remove this entry"
        ]
    if "any" in schema or config is None:
        return [] if "any" in schema else _field_problems(schema, {}, f"resources.{key}.config")
    if not isinstance(config, Mapping):
        return [f"resources.{key}.config: expected a dict, got {describe_value(config)}"]
    return _field_problems(schema, config, f"resources.{key}.config")


def _field_problems(
    schema: Mapping[str, Any], values: Mapping[str, Any], where: str, *, required: bool = True
) -> list[str]:
    fields = schema["fields"]
    problems = []
    for name, value in values.items():
        if name not in fields:
            hint = did_you_mean(close_matches(str(name), fields))
            known = ", ".join(fields) or "none"
            problems.append(
                f"{where}.{name}: {schema['name']} has no field {name!r}.{hint} Fields: {known}."
            )
            continue
        try:
            check_value(value, _annotation(fields[name]["type"]), f"{where}.{name}")
        except ConfigError as error:
            problems.append(str(error))
    if required:
        for name, field in fields.items():
            if field["required"] and name not in values:
                problems.append(
                    f"{where}.{name}: missing, and {schema['name']} has no default for it;"
                    f" add it under {where}"
                )
    return problems


def _deeper_than(value: Any, limit: int) -> str | None:
    """The path of the first value nested deeper than ``limit`` levels, or None
    (walked with a stack: the data may be deeper than Python's recursion limit)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > limit:
            return path or "the run config"
        if isinstance(item, Mapping):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
    return None
