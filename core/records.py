"""Frozen records: value classes built on `collections.namedtuple`, as Dagster's `@record`.

``@record`` reads a class's annotations (its fields, in order) and their defaults, and
remakes the class from its namespace on top of a ``namedtuple`` of those fields, with
``__slots__ = ()``, so that an instance has no ``__dict__`` (as ``dataclass(slots=True)``
does, and with its one limit: a record's methods cannot call ``super()`` bare)::

    @record
    class Point:
        x: int
        y: int = 0

Construction is by keyword or position, with defaults; a field cannot be assigned.
Unlike a plain named tuple, a record equals only a record of its own class (never a
tuple, nor a record of another class with the same values, even a sibling subclass of
one base), is not a sequence (no ``len``, iteration, indexing, ``in``, ``+`` or ``*``:
fields are read by name), is not ordered unless its class defines ordering, and reprs
like a dataclass. It hashes its fields, so a record meant to be hashed holds tuples,
frozensets and `FrozenDict`s, never lists or dicts. `replace` (and ``copy.replace``
from Python 3.13 on) makes a changed copy. `typing.dataclass_transform` tells type
checkers that a record is a frozen dataclass.

A field declared with `field` takes what a dataclass field does and a named tuple
lacks: a ``default_factory`` (called per instance, in a generated ``__new__`` as fast
as the named tuple's own), ``compare=False`` (left out of equality and hashing: a value
derived from the others, or only quoted in messages) and ``repr=False``. A record may
subclass a plain base class with ``__slots__ = ()`` (an ABC of methods, say), whose
methods come before the tuple's; it cannot subclass a record.

Why a named tuple: every project load makes records per asset, and a tuple is the
cheapest object CPython builds. A class that normalises its arguments writes
``@record(init=False)`` and its own ``__new__``, which ends in the fast build:
`builder(cls)` is the named tuple's own constructor (fields by keyword or position,
with defaults) bound to the class. It checks and normalises nothing, and skips the
class call, which costs as much again (0.25 against 0.5 µs for a definition of 17
fields). Load-path code builds through it with values already in the form the record
keeps; tests compare each builder with the public constructor.

``collections.namedtuple`` rather than ``typing.NamedTuple``: the same class, and
`collections` is loaded anyway; ``typing`` is imported for `dataclass_transform` and
``TYPE_CHECKING`` only (2-4 ms, once per load; ``import flowdev`` never imports it).

A record is a tuple underneath: code that treats any tuple as a sequence of values asks
`is_record` first.
"""

from __future__ import annotations

from collections import namedtuple
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, dataclass_transform, overload

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

R = TypeVar("R")
T = TypeVar("T")
C = TypeVar("C", bound=type)

_MUTABLE_DEFAULTS = (list, dict, set, bytearray)
_CLASS_ATTRIBUTES_KEPT_OUT = ("__dict__", "__weakref__", "__annotations__")
_ORDERING = ("__lt__", "__le__", "__gt__", "__ge__")
_SEQUENCE_METHODS = ("__iter__", "__getitem__", "__len__", "__contains__")
_SEQUENCE_OPERATORS = ("__add__", "__mul__", "__rmul__", "count", "index")
_NO_DEFAULT: Any = object()
_FROM_FACTORY: Any = object()  # a factory field's default in the generated __new__


class _Field:
    """What `field` declares: a default or a default factory, and whether the field
    takes part in equality, hashing and the repr."""

    __slots__ = ("default", "default_factory", "compare", "repr")

    def __init__(
        self, default: Any, default_factory: Callable[[], Any] | None, compare: bool, repr: bool
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT or self.default_factory is not None


@overload
def field(*, default_factory: Callable[[], T], compare: bool = True, repr: bool = True) -> T: ...
@overload
def field(*, default: T, compare: bool = True, repr: bool = True) -> T: ...
@overload
def field(*, compare: bool = True, repr: bool = True) -> Any: ...


def field(
    *,
    default: Any = _NO_DEFAULT,
    default_factory: Callable[[], Any] | None = None,
    compare: bool = True,
    repr: bool = True,
) -> Any:
    """A record field with more than a plain default, as `dataclasses.field`.

    Args:
        default: the value when none is given.
        default_factory: called for the value of each instance built without one (a
            time, a fresh mutable object), instead of ``default``.
        compare: False leaves the field out of equality and hashing (a value cached or
            only quoted in messages).
        repr: False leaves the field out of the repr.
    """
    if default is not _NO_DEFAULT and default_factory is not None:
        raise TypeError("a record field takes a default or a default_factory, not both")
    return _Field(default, default_factory, compare, repr)


# Type checkers read `dataclass_transform` on the first overload: a record is a frozen
# dataclass to them (with ``init=False``, the class's own ``__new__`` is its signature).
@overload
@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: C, /) -> C: ...
@overload
def record(*, init: bool = True) -> Callable[[C], C]: ...


def record(cls: C | None = None, /, *, init: bool = True) -> C | Callable[[C], C]:
    """Make ``cls`` a frozen record of its annotated fields (see the module docstring).

    Args:
        cls: the class; its annotations, in order, are the fields (``ClassVar``s are
            not), and a class attribute of a field's name is its default (or its
            `field`).
        init: False when the class writes its own ``__new__`` (to normalise its
            arguments); it builds the instance with `builder`.
    """
    if cls is None:
        return partial(_make_record, init=init)
    return _make_record(cls, init=init)


def _make_record(cls: C, *, init: bool) -> C:
    own = dict(cls.__dict__)
    if own.get("__slots__"):
        raise TypeError(f"record {cls.__name__}: declare fields as annotations, not __slots__")
    bases = tuple(base for base in cls.__bases__ if base is not object)
    if any(is_record_class(base) for base in bases):
        raise TypeError(f"record {cls.__name__}: a record cannot subclass a record")
    names = [
        name
        for name, annotation in own.get("__annotations__", {}).items()
        if not str(annotation).startswith(("ClassVar", "typing.ClassVar"))
    ]
    declared = {name: _declared_field(own[name]) for name in names if name in own}
    with_default = [name for name, spec in declared.items() if spec.has_default]
    if with_default != names[len(names) - len(with_default) :]:
        raise TypeError(
            f"record {cls.__name__}: the fields with defaults must come last "
            f"({with_default[0]!r} has one and a later field has none)"
        )
    for name, spec in declared.items():
        if isinstance(spec.default, _MUTABLE_DEFAULTS) and not isinstance(spec.default, FrozenDict):
            raise TypeError(
                f"record {cls.__name__}: the default of {name!r} is mutable; "
                "use a tuple, a frozenset, a FrozenDict or field(default_factory=...)"
            )
    defaults = [
        _FROM_FACTORY if spec.default_factory else spec.default
        for spec in declared.values()
        if spec.has_default
    ]
    fields = namedtuple(f"_{cls.__name__}Fields", names, defaults=defaults)  # type: ignore[misc]
    namespace = {k: v for k, v in own.items() if k not in _CLASS_ATTRIBUTES_KEPT_OUT}
    for name in names:  # the tuple's field getters, not the defaults left as attributes
        namespace[name] = getattr(fields, name)
    namespace["__slots__"] = ()
    namespace["__annotations__"] = own.get("__annotations__", {})
    factories = {name: s.default_factory for name, s in declared.items() if s.default_factory}
    build = _factory_new(fields, factories) if factories else fields.__new__
    if "__new__" not in own:
        if not init:
            raise TypeError(f"record {cls.__name__}: init=False needs a __new__")
        namespace["__new__"] = build
    namespace["_build"] = build  # staticmethod-like: a plain function
    compared = [name for name in names if name not in declared or declared[name].compare]
    if "__eq__" not in own:
        if len(compared) == len(names):
            namespace["__eq__"] = _eq
            namespace["__hash__"] = tuple.__hash__
        else:
            namespace["__eq__"], namespace["__hash__"] = _eq_and_hash_of(compared)
        namespace["__ne__"] = _ne
    elif "__ne__" not in own:
        namespace["__ne__"] = _ne
    shown = tuple(name for name in names if name not in declared or declared[name].repr)
    namespace["__record_repr__"] = shown
    namespace.setdefault("__repr__", _repr)
    namespace.setdefault("__reduce__", _reduce)
    namespace["__replace__"] = replace
    namespace.setdefault("__setattr__", _refuse_change)
    namespace.setdefault("__delattr__", _refuse_change)
    for name in (*_SEQUENCE_METHODS, *_SEQUENCE_OPERATORS):  # a field may be named `index`
        namespace.setdefault(name, _refuse_iteration)
    if not any(name in own for name in _ORDERING):  # a class that orders itself keeps it
        for name in _ORDERING:
            namespace[name] = _refuse_ordering
    if "__len__" not in own and "__bool__" not in own:
        namespace["__bool__"] = _true  # not a tuple's: a record of no fields is true too
    namespace["__is_record__"] = True
    made = type(cls.__name__, (*bases, fields), namespace)
    return made  # type: ignore[return-value]


def _declared_field(value: Any) -> _Field:
    return value if isinstance(value, _Field) else _Field(value, None, True, True)


def _factory_new(fields: type, factories: Mapping[str, Callable[[], Any]]) -> Any:
    """A ``__new__`` like the named tuple's own that calls each field's default factory
    when no value is given: generated, as `collections.namedtuple` generates its own,
    so that a record with factories builds as fast as one without."""
    names: tuple[str, ...] = fields._fields  # type: ignore[attr-defined]
    defaults: dict[str, Any] = fields._field_defaults  # type: ignore[attr-defined]
    parameters = ", ".join(
        f"{name}=_default_{name}" if name in defaults else name for name in names
    )
    calls = "".join(
        f"    if {name} is _FROM_FACTORY: {name} = _factory_{name}()\n" for name in factories
    )
    source = (
        f"def __new__(_cls, {parameters}):\n{calls}"
        f"    return _tuple_new(_cls, ({', '.join(names)},))\n"
    )
    scope: dict[str, Any] = {"_tuple_new": tuple.__new__, "_FROM_FACTORY": _FROM_FACTORY}
    scope.update((f"_default_{name}", value) for name, value in defaults.items())
    scope.update((f"_factory_{name}", factory) for name, factory in factories.items())
    exec(source, scope)  # the names are identifiers: namedtuple checked them
    made = scope["__new__"]
    made.__qualname__ = f"{fields.__name__}.__new__"
    return made


def _eq_and_hash_of(compared: list[str]) -> tuple[Callable[..., Any], Callable[[Any], int]]:
    """``__eq__`` and ``__hash__`` over the ``compared`` fields only."""
    values: Callable[[Any], Any] = attrgetter(*compared) if compared else _no_values

    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is not self.__class__:
            return False if isinstance(other, tuple) else NotImplemented
        return values(self) == values(other)

    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __eq__, __hash__


def _no_values(item: Any) -> tuple[()]:
    return ()


class FrozenRecordError(AttributeError):
    """A field of a frozen record was assigned or deleted."""


def is_record_class(cls: type) -> bool:
    """Whether the class ``cls`` is a record class."""
    return getattr(cls, "__is_record__", False)


def is_record(value: object) -> bool:
    """Whether ``value`` is a record. A record is a tuple underneath: code that treats
    any tuple as a sequence of values asks this first."""
    return getattr(value.__class__, "__is_record__", False)


def fields(cls: type) -> tuple[str, ...]:
    """The names of the record class ``cls``'s fields, in order."""
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    return names


def field_values(item: Any) -> tuple[Any, ...]:
    """The values of the record ``item``'s fields, in field order, as a plain tuple."""
    return tuple(tuple.__iter__(item))


def as_dict(item: Any) -> dict[str, Any]:
    """The record ``item``'s fields by name."""
    return dict(zip(item._fields, tuple.__iter__(item), strict=True))


def builder(cls: type[R]) -> Callable[..., R]:
    """The fast build of the record class ``cls``: its fields by keyword (or position),
    with their defaults, and nothing checked or normalised (see the module docstring)."""
    build: Callable[..., R] = partial(cls._build, cls)  # type: ignore[attr-defined]
    return build


def values_builder(cls: type[R]) -> Callable[[tuple[Any, ...]], R]:
    """`builder` for the hottest paths: every field value of ``cls``, in field order, as
    one tuple (no keywords to match, no defaults to fill: a third of its cost)."""
    build: Callable[[tuple[Any, ...]], R] = partial(tuple.__new__, cls)  # type: ignore[type-var]
    return build


def replace(item: R, /, **changes: Any) -> R:
    """A copy of the record ``item`` with ``changes`` applied, as `dataclasses.replace`.

    The values are kept as given (a class's own ``__new__`` is not run again), so they
    must already be in the form the record keeps.

    Raises:
        TypeError: a change names no field of the record.
    """
    names = item._fields  # type: ignore[attr-defined]
    unknown = changes.keys() - set(names)
    if unknown:
        raise TypeError(f"{type(item).__name__} has no field {sorted(unknown)[0]!r}")
    current: tuple[Any, ...] = tuple(tuple.__iter__(item))  # type: ignore[arg-type]
    values = tuple(changes.get(n, v) for n, v in zip(names, current, strict=True))
    return _rebuild(type(item), values)


def _eq(self: Any, other: object) -> Any:
    if other.__class__ is not self.__class__:
        # Not NotImplemented for a tuple: Python would then ask the tuple, which
        # compares any tuple subclass item by item.
        return False if isinstance(other, tuple) else NotImplemented
    return tuple.__eq__(self, other)  # type: ignore[operator]


def _ne(self: Any, other: object) -> Any:
    equal = self.__eq__(other)
    return equal if equal is NotImplemented else not equal


def _repr(self: Any) -> str:
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_repr__)
    return f"{type(self).__name__}({inner})"


def _reduce(self: Any) -> tuple[Any, ...]:
    return (_rebuild, (type(self), tuple(tuple.__iter__(self))))


def _rebuild(cls: type, values: tuple[Any, ...]) -> Any:
    """A ``cls`` of ``values`` (pickling comes through here)."""
    return tuple.__new__(cls, values)


def _refuse_change(self: Any, name: str, *value: Any) -> None:
    raise FrozenRecordError(f"{type(self).__name__} is frozen: cannot change {name!r}")


def _refuse_iteration(self: Any, *args: Any) -> Any:
    raise TypeError(f"{type(self).__name__} is a record: read its fields by name")


def _refuse_ordering(self: Any, other: object) -> Any:
    # Raised, not NotImplemented: Python would then compare as tuples, item by item.
    raise TypeError(f"{type(self).__name__} is a record: records are not ordered")


def _true(self: Any) -> bool:
    return True


class FrozenDict(dict[Any, Any]):
    """A dict that refuses to be changed, and hashes when its values do: the mappings
    of frozen records (metadata, tags, inputs by name, ...).

    A `dict` underneath, so reading, ``dict(...)``, ``**`` and JSON are a dict's.
    (`types.MappingProxyType` is read-only too, but neither hashes nor pickles.)
    """

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("this mapping is frozen: make a changed copy with {**mapping, ...}")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


EMPTY: Mapping[str, Any] = FrozenDict()


def freeze(mapping: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    """``mapping`` as a `FrozenDict` (the shared empty one when it is empty or None)."""
    if not mapping:
        return EMPTY
    if mapping.__class__ is FrozenDict:
        return mapping
    return FrozenDict(mapping)
