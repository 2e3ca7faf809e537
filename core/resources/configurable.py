"""Typed fields without pydantic: the base of `Config` and `ConfigurableResource`.

Dagster builds its config classes on pydantic. flowdev keeps the names and the behaviour a
project relies on (keyword construction, errors that name the field, immutable instances,
`EnvVar` placeholders read when a run starts) with a small checker of its own, because every
worker process imports flowdev and pydantic alone costs more than flowdev's import budget.

A class's fields are read from its annotations on its first construction, not when the class
is defined, so importing a project with many config classes stays cheap.

`check_value` walks a value against an annotation. Without a `Resolution` it validates and keeps
`EnvVar`s as placeholders; with one (at run start) it also replaces them with values.
"""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin

from flowdev.errors import ConfigError, EnvVarError, close_matches, did_you_mean
from flowdev.records import record
from flowdev.resources.env import EnvVar, IntEnvVar

MISSING: Any = object()  # "no default"; None is a real default
_NONE_TYPE = type(None)
_ENV_TARGETS = (bool, int, float, str)  # bool first: it is also an int


class PrivateAttr:
    """Pydantic's `PrivateAttr`: ``_client: Client = PrivateAttr()``, set after construction."""

    def __init__(
        self, default: Any = MISSING, *, default_factory: Callable[[], Any] | None = None
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.name = "?"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        if self.default_factory is not None or self.default is not MISSING:
            value = self.default if self.default_factory is None else self.default_factory()
        else:
            raise AttributeError(
                f"{type(instance).__name__}.{self.name} is not set yet: assign it (for a resource,"
                " in setup_for_execution or yield_for_execution) before reading it"
            )
        instance.__dict__[self.name] = value
        return value


def _pydantic_default(value: Any) -> Any:
    return MISSING if type(value).__name__ == "PydanticUndefinedType" else value


@record
class _Field:
    name: str
    annotation: Any
    default: Any  # MISSING when required
    factory: Callable[[], Any] | None = None


class Configurable:
    """Keyword construction, validation, immutability and a safe repr, from annotations."""

    _flowdev_from_dict = True  # a dict may stand in for an instance in a parent's field
    _flowdev_localns: ClassVar[dict[str, Any] | None] = None
    _flowdev_field_cache: ClassVar[dict[str, _Field] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._flowdev_localns = _class_statement_locals(cls)
        for name, value in list(vars(cls).items()):
            # A Dagster project keeps `from pydantic import PrivateAttr`; make it behave like ours.
            if type(value).__name__ == "ModelPrivateAttr":
                private = PrivateAttr(
                    _pydantic_default(value.default), default_factory=value.default_factory
                )
                private.__set_name__(cls, name)
                setattr(cls, name, private)

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        self.__dict__.update(cls._flowdev_validate(values, cls.__name__))

    @classmethod
    def _flowdev_fields(cls) -> dict[str, _Field]:
        fields = cls.__dict__.get("_flowdev_field_cache")
        if fields is None:
            fields = _collect_fields(cls)
            cls._flowdev_field_cache = fields
        return fields

    @classmethod
    def _flowdev_accepts(cls, value: Any) -> bool:
        return isinstance(value, cls)

    @classmethod
    def _flowdev_validate(
        cls, values: Mapping[str, Any], where: str, *, partial: bool = False
    ) -> dict[str, Any]:
        """Checked field values; ``where`` starts every error ("Warehouse", "run_config ...")."""
        fields = cls._flowdev_fields()
        for name in values:
            if name not in fields:
                hint = did_you_mean(close_matches(str(name), fields))
                known = ", ".join(fields) or "none"
                raise ConfigError(
                    f"{where}: unknown field {name!r}.{hint} {cls.__name__} has fields: {known}."
                )
        checked: dict[str, Any] = {}
        missing = []
        for name, field in fields.items():
            if name in values:
                checked[name] = check_value(values[name], field.annotation, f"{where}.{name}")
            elif partial:
                continue  # configure_at_launch(): the rest comes from run config
            elif field.factory is not None:
                checked[name] = field.factory()
            elif field.default is not MISSING:
                default = field.default
                # Copy mutable defaults so instances never share one list.
                checked[name] = type(default)(default) if type(default) in (list, dict) else default
            else:
                missing.append(field)
        if missing:
            raise ConfigError(_missing_message(cls, where, missing))
        return checked

    @classmethod
    def _flowdev_construct(
        cls, values: Mapping[str, Any], shown: Mapping[str, Any] | None = None
    ) -> Self:
        """An instance from checked values; ``shown`` holds what repr shows instead (EnvVars)."""
        instance = cls.__new__(cls)
        instance.__dict__.update(values)
        if shown:
            instance.__dict__["_flowdev_shown"] = dict(shown)
        return instance

    def _flowdev_values(self) -> dict[str, Any]:
        return {name: self.__dict__[name] for name in type(self)._flowdev_fields()}

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        cls = type(self).__name__
        raise AttributeError(
            f"{cls} is immutable: cannot set {name!r}. Build a new one: {cls}(..., {name}=...)."
        )

    def __delattr__(self, name: str) -> None:
        if not name.startswith("_"):
            raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}.")
        object.__delattr__(self, name)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Configurable)
        return self._flowdev_values() == other._flowdev_values()

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._flowdev_values().values())))

    def __repr__(self) -> str:
        # Resolved instances remember the EnvVar each secret came from; show that instead.
        shown = self.__dict__.get("_flowdev_shown", {})
        fields = ", ".join(
            f"{name}={shown.get(name, value)!r}" for name, value in self._flowdev_values().items()
        )
        return f"{type(self).__name__}({fields})"


def _class_statement_locals(cls: type) -> dict[str, Any] | None:
    """The locals where a class is defined, for string annotations naming local classes."""
    if not any(isinstance(a, str) for a in inspect.get_annotations(cls).values()):
        return None
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_name in ("__new__", "__init_subclass__"):
        frame = frame.f_back  # metaclasses such as ABCMeta and user __init_subclass__ hooks
    return None if frame.f_locals is frame.f_globals else dict(frame.f_locals)


def _collect_fields(cls: type[Configurable]) -> dict[str, _Field]:
    localns: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        localns.update(klass.__dict__.get("_flowdev_localns") or {})
    try:
        hints = typing.get_type_hints(cls, localns=localns or None, include_extras=True)
    except NameError as exc:
        raise ConfigError(
            f"{cls.__qualname__}: cannot read a field's type ({exc}). Import that type at runtime"
            " (not only under TYPE_CHECKING)."
        ) from exc
    fields = {}
    for name, annotation in hints.items():
        if name.startswith("_") or annotation is ClassVar or get_origin(annotation) is ClassVar:
            continue
        default, factory = getattr(cls, name, MISSING), None
        if type(default).__name__ == "FieldInfo":  # pydantic's Field(...), still common
            default, factory = _pydantic_default(default.default), default.default_factory
        fields[name] = _Field(name, annotation, default, factory)
    return fields


def _missing_message(cls: type, where: str, missing: list[_Field]) -> str:
    names = ", ".join(f"{f.name!r} ({_type_name(f.annotation)})" for f in missing)
    noun, pronoun = ("field", "it") if len(missing) == 1 else ("fields", "them")
    if where.startswith("run_config "):
        fix = f"Add {pronoun} under {where.removeprefix('run_config ')} in the run config."
    else:
        fix = f"Pass {pronoun}: {cls.__name__}({', '.join(f'{f.name}=...' for f in missing)})."
    return f"{where}: missing required {noun} {names}. {fix}"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is _NONE_TYPE:
        return "None"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is None:
        return getattr(annotation, "__name__", None) or repr(annotation).replace("typing.", "")
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Union or origin is types.UnionType:
        return " | ".join(_type_name(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in args)
    return f"{getattr(origin, '__name__', origin)}[{inner}]"


def describe_value(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text if isinstance(value, str) else f"{type(value).__name__} ({text})"


def _mismatch(path: str, annotation: Any, value: Any) -> ConfigError:
    return ConfigError(f"{path}: expected {_type_name(annotation)}, got {describe_value(value)}")


def _env_target(annotation: Any, *, any_is_str: bool = True) -> type | None:
    """The scalar type an environment variable's text becomes in this field, if any."""
    if annotation is Any or annotation is object:
        return str if any_is_str else None
    origin = get_origin(annotation)
    if origin is Annotated:
        return _env_target(get_args(annotation)[0], any_is_str=any_is_str)
    if origin is Union or origin is types.UnionType:
        targets = [_env_target(a, any_is_str=any_is_str) for a in get_args(annotation)]
        return next((t for t in targets if t is not None), None)
    return annotation if annotation in _ENV_TARGETS else None


def _env_ref(value: Any, annotation: Any) -> EnvVar | IntEnvVar | None:
    """``value`` as an environment-variable reference this field can take, or None."""
    if isinstance(value, IntEnvVar):
        return value if _env_target(annotation) in (int, float) else None
    if isinstance(value, EnvVar):
        return value if _env_target(annotation) is not None else None
    # Dagster's run-config spelling, {"env": "NAME"}; an Any field keeps such a dict as data.
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("env"), str):
        return EnvVar(value["env"]) if _env_target(annotation, any_is_str=False) else None
    return None


_BARE = {list: list[Any], dict: dict[Any, Any], tuple: tuple[Any, ...], set: set[Any]}


def check_value(value: Any, annotation: Any, path: str, ctx: Resolution | None = None) -> Any:
    """``value`` checked against ``annotation`` (converted where lenient), else `ConfigError`."""
    ref = _env_ref(value, annotation)
    if ref is not None:
        return ref if ctx is None else ctx.read_env(ref, annotation, path)
    origin = get_origin(annotation)
    if origin is None:
        return _check_plain(value, annotation, path, ctx)
    args = get_args(annotation)
    if origin is Annotated:
        return check_value(value, args[0], path, ctx)
    if origin is Union or origin is types.UnionType:
        return _check_union(value, annotation, path, ctx)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _mismatch(path, annotation, value)
    if origin in (list, set, frozenset, Sequence):
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple | set | frozenset):
            raise _mismatch(path, annotation, value)
        item = args[0] if args else Any
        items = [check_value(v, item, f"{path}[{i}]", ctx) for i, v in enumerate(value)]
        return origin(items) if origin in (set, frozenset) else items
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _mismatch(path, annotation, value)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif len(args) != len(value):
            raise ConfigError(
                f"{path}: expected {len(args)} items ({_type_name(annotation)}), got {len(value)}"
            )
        return tuple(
            check_value(v, a, f"{path}[{i}]", ctx)
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _mismatch(path, annotation, value)
        key_type, item_type = args if len(args) == 2 else (Any, Any)
        return {
            check_value(k, key_type, f"{path} key {k!r}"): check_value(
                v, item_type, f"{path}[{k!r}]", ctx
            )
            for k, v in value.items()
        }
    if isinstance(origin, type) and not isinstance(value, origin):
        raise _mismatch(path, annotation, value)
    return value


def _check_union(value: Any, annotation: Any, path: str, ctx: Resolution | None) -> Any:
    members = get_args(annotation)
    if value is None and _NONE_TYPE in members:
        return None
    candidates = [m for m in members if m is not _NONE_TYPE]
    errors = []
    for member in candidates:
        try:
            checked = check_value(value, member, path)
        except ConfigError as exc:
            errors.append(exc)
            continue
        # Pick the member first, then resolve: a resolution error is not a type mismatch.
        return checked if ctx is None else check_value(value, member, path, ctx)
    if len(candidates) == 1 and isinstance(value, Mapping | list | tuple | Configurable):
        raise errors[0]  # keeps the nested field's own path and message
    raise _mismatch(path, annotation, value)


def _check_plain(value: Any, annotation: Any, path: str, ctx: Resolution | None) -> Any:
    if annotation is Any or annotation is object:
        return value
    if annotation is None or annotation is _NONE_TYPE:
        if value is None:
            return None
        raise _mismatch(path, annotation, value)
    if not isinstance(annotation, type):
        return value  # a TypeVar or other typing construct: nothing to check against
    if issubclass(annotation, Configurable):
        if annotation._flowdev_accepts(value):
            return value if ctx is None else ctx.nested(value, path)
        if isinstance(value, Mapping) and annotation._flowdev_from_dict:
            nested = annotation._flowdev_construct(annotation._flowdev_validate(value, path))
            return nested if ctx is None else ctx.nested(nested, path)
        raise _mismatch(path, annotation, value)
    if issubclass(annotation, enum.Enum):
        if isinstance(value, annotation):
            return value
        if isinstance(value, str) and value in annotation.__members__:
            return annotation[value]  # Dagster's run config names enum members
        try:
            return annotation(value)
        except ValueError:
            names = ", ".join(repr(n) for n in annotation.__members__)
            raise ConfigError(
                f"{path}: expected one of {annotation.__name__}'s members {names},"
                f" got {describe_value(value)}"
            ) from None
    if annotation in _BARE:
        return check_value(value, _BARE[annotation], path, ctx)
    if annotation in (int, float) and isinstance(value, bool):
        raise _mismatch(path, annotation, value)  # True is an int in Python, never in config
    if annotation is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, annotation):
        raise _mismatch(path, annotation, value)
    return value


_EXPECTED = {
    str: ("a string", "a value"),
    int: ("an int", "a whole number such as 5432"),
    float: ("a number", "a number such as 0.5"),
    bool: ("a boolean", "true or false"),
}


def _from_text(text: str, target: type) -> Any:
    if target is bool:
        word = text.strip().lower()
        if word in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return word in ("true", "1", "yes", "on")
        raise ValueError(word)
    return target(text)


class Resolution:
    """One pass over checked values that reads each `EnvVar` from ``env``.

    ``describe(path)`` words where a field is for error messages; ``reads`` counts the
    variables read so callers know which fields' reprs must show the `EnvVar` instead.
    """

    def __init__(self, env: Mapping[str, str], describe: Callable[[str], str]) -> None:
        self.env = env
        self.describe = describe
        self.reads = 0

    def read_env(self, ref: EnvVar | IntEnvVar, annotation: Any, path: str) -> Any:
        name = ref.env_var_name
        text = self.env.get(name)
        if text is None:
            raise EnvVarError(
                f"{self.describe(path)} reads the environment variable {name}, which is not set."
                " Set it, or give the field a value."
            )
        self.reads += 1
        target = _env_target(annotation) or str
        try:
            return _from_text(text, target)
        except ValueError:
            what, example = _EXPECTED[target]
            # `from None`: the ValueError quotes the value, which may be a secret.
            raise ConfigError(
                f"{self.describe(path)} reads the environment variable {name}, which is not"
                f" {what} (its value is not shown: it may be a secret). Set {name} to {example}."
            ) from None

    def nested(self, value: Any, path: str) -> Any:
        return resolve_fields(value, self, path)


def resolve_fields(instance: Configurable, ctx: Resolution, prefix: str) -> Any:
    """A copy of ``instance`` with every `EnvVar` in its fields (at any depth) read."""
    cls = type(instance)
    values: dict[str, Any] = {}
    shown = dict(instance.__dict__.get("_flowdev_shown", {}))
    for name, field in cls._flowdev_fields().items():
        original = instance.__dict__[name]
        reads = ctx.reads
        values[name] = check_value(original, field.annotation, _join(prefix, name), ctx)
        if ctx.reads != reads and not isinstance(values[name], Configurable):
            shown[name] = original
    return cls._flowdev_construct(values, shown)


def to_config_value(value: Any) -> Any:
    """``value`` as plain run-config data: instances become dicts, EnvVars ``{"env": name}``."""
    if isinstance(value, EnvVar | IntEnvVar):
        return {"env": value.env_var_name}
    if isinstance(value, Configurable):
        return {k: to_config_value(v) for k, v in value._flowdev_values().items()}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Mapping):
        return {k: to_config_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_config_value(v) for v in value]
    return value
