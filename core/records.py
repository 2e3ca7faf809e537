"""Frozen records for the load path, without the `dataclasses` module.

Every project load makes a few records per asset (its key, its definition, its spec),
and every worker and loader child imports the modules that define them. Importing
`dataclasses` costs 7 ms here (it imports `inspect`, `ast` and `dis`), and a frozen
dataclass's ``__init__`` sets each field through ``object.__setattr__`` (about 110 ns a
field). `record` gives a plain slotted class what a frozen dataclass has (equality,
hash, repr, pickling, refusal to be changed), and `building` the fast way to fill one.

A record's fields are its public ``__slots__``, in order; private slots (``_name``)
are caches or bookkeeping and take no part in equality or repr.

`building(cls)` returns a plain class with exactly ``cls``'s slots. A load-path builder
fills an instance of it with ordinary (fast) assignments and then makes it a ``cls`` by
assigning ``__class__``, which CPython allows between classes with the same slots::

    spec = object.__new__(_BuildingSpec)
    spec.key = key
    ...
    spec.__class__ = AssetSpec  # frozen from here on

The result is indistinguishable from ``cls(...)``. It skips ``__init__``, so a builder
takes values that are already normalised and validated, and must set every field
(tests compare each builder with the public constructor).

The modules on the load path also keep `typing` (2.4 ms) out: they write
``TYPE_CHECKING = False`` and import what annotations need under it. Type checkers treat
any name ``TYPE_CHECKING`` as true, and ``from __future__ import annotations`` keeps
the annotations themselves from being evaluated.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    R = TypeVar("R", bound=type)


class FrozenRecordError(AttributeError):
    """A field of a frozen record was assigned or deleted."""


def record(cls: R) -> R:
    """Make the slotted class ``cls`` a frozen record (see the module docstring).

    Methods the class defines itself (``__repr__``, ``__eq__``, ...) are kept.
    """
    slots = cls.__dict__.get("__slots__")
    if slots is None or "__dict__" in slots:
        raise TypeError(f"{cls.__name__} needs __slots__ to be a record")
    fields = tuple(name for name in slots if not name.startswith("_"))
    own = cls.__dict__
    setattr_ = type.__setattr__
    setattr_(cls, "_fields", fields)
    setattr_(cls, "__setattr__", _refuse_change)
    setattr_(cls, "__delattr__", _refuse_change)
    if "__eq__" not in own:
        setattr_(cls, "__eq__", _eq)
        if "__hash__" not in own or own["__hash__"] is None:
            setattr_(cls, "__hash__", _hash)
    if "__repr__" not in own:
        setattr_(cls, "__repr__", _repr)
    if "__reduce__" not in own:
        setattr_(cls, "__reduce__", _reduce)
    return cls


def fields(cls: type) -> tuple[str, ...]:
    """The names of the record class ``cls``'s fields, in order."""
    return cls._fields  # type: ignore[attr-defined]


def field_values(item: Any) -> tuple[Any, ...]:
    """The values of ``item``'s fields, in field order."""
    return tuple(getattr(item, name) for name in item._fields)


def replace(item: Any, **changes: Any) -> Any:
    """A copy of the record ``item`` with ``changes`` applied (not passed through
    ``__init__``: the values must already be in the form the record keeps)."""
    unknown = set(changes) - set(item._fields)
    if unknown:
        raise TypeError(f"{type(item).__name__} has no field {sorted(unknown)[0]!r}")
    return _rebuild(type(item), tuple(changes.get(n, getattr(item, n)) for n in item._fields))


def building(cls: type) -> Any:
    """A mutable class with ``cls``'s slots, whose filled instances become ``cls``es."""
    slots = cls.__dict__.get("__slots__")
    if slots is None or "__dict__" in slots:
        raise TypeError(f"{cls.__name__} needs __slots__")
    return type(f"_Building{cls.__name__}", (), {"__slots__": tuple(slots)})


def _refuse_change(self: Any, name: str, *value: Any) -> None:
    raise FrozenRecordError(f"{type(self).__name__} is frozen: cannot change {name!r}")


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return field_values(self) == field_values(other)


def _hash(self: Any) -> int:
    return hash(field_values(self))


def _repr(self: Any) -> str:
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
    return f"{type(self).__name__}({inner})"


def _reduce(self: Any) -> tuple[Any, ...]:
    return (_rebuild, (type(self), field_values(self)))


def _rebuild(cls: type, values: tuple[Any, ...]) -> Any:
    """A ``cls`` with ``values`` in its fields (pickling and `replace` come through here)."""
    item: Any = object.__new__(cls)
    for name, value in zip(cls._fields, values, strict=True):  # type: ignore[attr-defined]
        object.__setattr__(item, name, value)
    return item
