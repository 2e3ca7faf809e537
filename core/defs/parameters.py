"""What each parameter of a decorated function is: the context, an upstream asset, a
resource, or the run's config (read from names and annotations, as Dagster does).

Read once per asset on every load: plain functions (no annotations) take the fast path
`plain_parameters`; the rest are read by `parameter_roles`.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from flowdev.errors import InvalidDefinitionError
from flowdev.keys import AssetKey, named_key

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flowdev.keys import AssetIn

_CONTEXT_TYPE_NAMES = {"AssetExecutionContext", "OpExecutionContext", "AssetCheckExecutionContext"}


def label(kind: str, name: AssetKey | str) -> str:
    """How an error names a definition: ``@asset 'a/b'``."""
    return f"{kind} {name if isinstance(name, str) else name.to_user_string()!r}"


if TYPE_CHECKING:
    # What `parameter_roles` reads from a function's parameters: (context parameter, upstream inputs
    # by parameter, resources by parameter, input managers by parameter, config
    # parameter). A tuple, not an object: it is made once per asset on every load.
    Roles = tuple[
        str | None,
        dict[str, AssetKey],
        Mapping[str, str],
        Mapping[str, str],
        tuple[str, type] | None,
    ]


def plain_parameters(fn: Callable[..., Any]) -> tuple[str | None, tuple[str, ...]] | None:
    """``(context parameter or None, the other parameters)`` when each of ``fn``'s
    parameters after a leading ``context`` is the upstream asset of its name, which is
    so when none carries an annotation; None otherwise (then `parameter_roles` reads them)."""
    annotations = fn.__annotations__
    if annotations and not (len(annotations) == 1 and "return" in annotations):
        return None
    code = fn.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    if names and names[0] == "context":
        return "context", names[1:]
    return None, names


def parameter_roles(
    fn: Callable[..., Any], ins: Mapping[str, AssetIn] | None, kind: str, name: AssetKey | str
) -> Roles:
    """The role of each of ``fn``'s parameters; ``kind`` and ``name`` name the definition
    in errors."""
    code = fn.__code__
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    annotations = fn.__annotations__
    ins = ins or {}
    context: str | None = None
    inputs: dict[str, AssetKey] = {}
    resources: dict[str, str] = {}
    input_managers: dict[str, str] = {}
    config: tuple[str, type] | None = None
    for position, parameter in enumerate(names):
        annotation = _resolve(annotations.get(parameter), fn)
        if _is_context(parameter, position, annotation):
            context = parameter
        elif parameter in ins:
            inputs[parameter] = ins[parameter].resolve(parameter)
            manager_key = ins[parameter].input_manager_key
            if manager_key:
                input_managers[parameter] = manager_key
        elif _is_resource(annotation):
            resources[parameter] = parameter
        elif _is_config(annotation):
            if config is not None:
                raise InvalidDefinitionError(
                    f"{label(kind, name)}: parameters {config[0]!r} and {parameter!r} are "
                    "both Config; an asset takes one config parameter"
                )
            config = (parameter, annotation)
        else:
            inputs[parameter] = named_key(parameter)
    unknown = set(ins) - set(inputs)
    if unknown:
        raise InvalidDefinitionError(
            f"{label(kind, name)}: ins= names {sorted(unknown)} but the function has no such "
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
    from flowdev.resources.resource import ConfigurableResource

    return issubclass(annotation, ConfigurableResource)


def _is_config(annotation: Any) -> bool:
    if not isinstance(annotation, type) or annotation.__module__ == "builtins":
        return False
    from flowdev.resources.config import Config

    return issubclass(annotation, Config)
