"""Asset keys and the small records that point at them (`AssetIn`, `AssetDep`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flowdev.errors import InvalidKeyError, refuse_unsupported

from .records import builder, freeze, is_record, record

_VALID_PART = re.compile(r"[A-Za-z0-9_.\-]+")
# Each key part names a file or directory under the instance's storage/ (flowdev.resources.io), and
# a file system allows 255 bytes per name (NAME_MAX). Parts are ASCII, so characters are
# bytes; the temporary name a value is written under first adds up to about 30, and
# encoding a trailing "." adds 2: 200 leaves room for both. The whole key path is held to
# 1,024 so that PATH_MAX (4,096) leaves room for the instance directory above it.
MAX_KEY_PART_LENGTH = 200
MAX_KEY_PATH_LENGTH = 1024
_INTERNED: dict[tuple[str, ...], AssetKey] = {}
# The keys `is_valid_key` has passed (keys are interned, so a set of them is a cache).
_VALID_KEYS: set[AssetKey] = set()


@record(init=False)
class AssetKey:
    """The identity of an asset: a path of string parts, written ``"a/b"``.

    ``AssetKey("orders")``, ``AssetKey(["marts", "orders"])`` and
    ``AssetKey.from_user_string("marts/orders")`` are the same key: the same object, in
    fact. Keys are interned (one instance per path, kept for the life of the process), so
    equality and hashing are object identity. A 10,000-asset load hashes and compares
    keys a few hundred thousand times, nearly all in dict lookups, which find an
    identical key without calling ``__eq__``; a Python ``__hash__`` was a tenth of the
    load. Pickling and copying go through the constructor, so they intern too.
    """

    path: tuple[str, ...]

    def __new__(cls, path: str | Sequence[str]) -> AssetKey:
        if path.__class__ is str:
            return _KEYS_BY_NAME[path]
        parts = tuple(path)
        if not parts or not all(isinstance(p, str) for p in parts):
            raise InvalidKeyError(f"an asset key needs one or more string parts, got {path!r}")
        if len(parts) == 1:
            return _KEYS_BY_NAME[parts[0]]
        key = _INTERNED.get(parts)
        if key is not None:
            return key
        made = _new_key(path=parts)
        # setdefault: two threads making the same new key still end up with one object.
        return _INTERNED.setdefault(parts, made)

    def __reduce__(self) -> tuple[type[AssetKey], tuple[tuple[str, ...]]]:
        return (AssetKey, (self.path,))

    # Interned: equal keys are one object, so identity is equality, and the hash is
    # object's (in C: a dict lookup never runs Python code for a key). Not a tuple's:
    # a key equals no tuple.
    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    @classmethod
    def from_user_string(cls, text: str) -> AssetKey:
        """Parse the ``"a/b"`` form."""
        return cls(text.split("/"))

    def to_user_string(self) -> str:
        """The ``"a/b"`` form used in selections, logs and JSON."""
        return "/".join(self.path)

    def to_string(self) -> str:
        """Dagster's JSON-list form, ``'["a", "b"]'``."""
        return "[" + ", ".join(f'"{p}"' for p in self.path) + "]"

    def with_prefix(self, prefix: str | Sequence[str]) -> AssetKey:
        """This key below ``prefix``."""
        parts = (prefix,) if isinstance(prefix, str) else tuple(prefix)
        return AssetKey(parts + self.path)

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self.path[-1]

    def __str__(self) -> str:
        return self.to_user_string()

    def __repr__(self) -> str:
        return f"AssetKey({list(self.path)!r})"

    def __lt__(self, other: AssetKey) -> bool:
        return self.path < other.path


_new_key = builder(AssetKey)


class _KeysByName(dict[str, AssetKey]):
    """The one-part keys, by name (the other keys are interned in `_INTERNED`). A miss
    makes the key, so a hit is one C call: a load looks up a key for every asset and
    every parameter."""

    def __missing__(self, name: str) -> AssetKey:
        # setdefault: two threads making the same new key still end up with one object.
        made = self.setdefault(name, _new_key(path=(name,)))
        # Most names are ASCII identifiers, which are valid: the C checks settle them.
        if name.isascii() and name.isidentifier() and len(name) <= MAX_KEY_PART_LENGTH:
            _VALID_KEYS.add(made)
        return made


_KEYS_BY_NAME = _KeysByName()

#: ``named_key(name)`` is ``AssetKey(name)`` for a one-part key, without the constructor's
#: call overhead (the bound lookup of `_KeysByName`).
named_key = _KEYS_BY_NAME.__getitem__


CoercibleToAssetKey = AssetKey | str | Sequence[str]


def to_asset_key(value: Any) -> AssetKey:
    """Turn a key, an ``"a/b"`` string, a list of parts, or anything with a ``.key`` into a key."""
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.from_user_string(value)
    if isinstance(value, (list, tuple)) and not is_record(value):
        return AssetKey(value)
    key = getattr(value, "key", None)
    if isinstance(key, AssetKey):
        return key
    raise InvalidKeyError(
        f"cannot use {value!r} as an asset key: pass an AssetKey, an 'a/b' string, "
        "a list of parts, an asset definition or an AssetSpec"
    )


def is_valid_key(key: AssetKey) -> bool:
    """Whether every part of ``key`` can be selected, stored and shown safely (see
    `validate_key`); a valid key is remembered, since a load asks once per asset."""
    if key in _VALID_KEYS:
        return True
    valid = (
        all(
            # An ASCII identifier (most parts) is valid; the C checks spare the regex.
            len(part) <= MAX_KEY_PART_LENGTH
            and (
                (part.isascii() and part.isidentifier())
                or (_VALID_PART.fullmatch(part) is not None and part not in (".", ".."))
            )
            for part in key.path
        )
        and _path_length(key) <= MAX_KEY_PATH_LENGTH
    )
    if valid:
        _VALID_KEYS.add(key)
    return valid


def _path_length(key: AssetKey) -> int:
    # The "a/b" form's length: the parts and a separator between each two.
    return sum(map(len, key.path)) + len(key.path) - 1


def validate_key(key: AssetKey, where: str) -> None:
    """Refuse key parts that could not be selected, stored or shown safely."""
    if is_valid_key(key):
        return
    shown = key.to_user_string()
    if len(shown) > 60:
        shown = shown[:57] + "..."
    for part in key.path:
        if len(part) > MAX_KEY_PART_LENGTH:
            raise InvalidKeyError(
                f"invalid asset key {shown!r} ({where}): a part has {len(part)} characters, "
                f"and at most {MAX_KEY_PART_LENGTH} are allowed. Each part names a file "
                "under the instance's storage/, and file systems allow 255 bytes per file "
                "name. Shorten the name, or split it into parts with key_prefix=."
            )
    if _path_length(key) > MAX_KEY_PATH_LENGTH:
        raise InvalidKeyError(
            f"invalid asset key {shown!r} ({where}): its path has "
            f"{_path_length(key)} characters, and at most {MAX_KEY_PATH_LENGTH} are "
            "allowed, so that its file under the instance's storage/ stays within the file "
            "system's path limit (4,096 bytes). Use fewer or shorter key parts."
        )
    for part in key.path:
        if not _VALID_PART.fullmatch(part) or part in (".", ".."):
            raise InvalidKeyError(
                f"invalid asset key {key.to_user_string()!r} ({where}): the part {part!r} "
                "must be made of letters, digits, '_', '-' or '.' (and not '.' or '..'). "
                "Rename the asset or use key_prefix= for the path."
            )


@record(init=False)
class AssetIn:
    """Where an asset parameter's value comes from, when it is not named after the upstream."""

    key: AssetKey | None
    key_prefix: tuple[str, ...] | None
    metadata: Mapping[str, Any]
    input_manager_key: str | None

    def __new__(
        cls,
        key: CoercibleToAssetKey | None = None,
        *,
        key_prefix: str | Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        input_manager_key: str | None = None,
        partition_mapping: Any = None,
        dagster_type: Any = None,
    ) -> AssetIn:
        refuse_unsupported(
            "AssetIn", partition_mapping=partition_mapping, dagster_type=dagster_type
        )
        prefix = (key_prefix,) if isinstance(key_prefix, str) else key_prefix
        return _new_in(
            key=None if key is None else to_asset_key(key),
            key_prefix=None if prefix is None else tuple(prefix),
            metadata=freeze(metadata),
            input_manager_key=input_manager_key,
        )

    def resolve(self, param_name: str) -> AssetKey:
        """The upstream key for a parameter called ``param_name``."""
        if self.key is not None:
            return self.key
        base = AssetKey(param_name)
        return base.with_prefix(self.key_prefix) if self.key_prefix else base


@record(init=False)
class AssetDep:
    """An ordering dependency on an upstream asset, without loading its value."""

    asset: AssetKey

    def __new__(cls, asset: Any, *, partition_mapping: Any = None) -> AssetDep:
        key = to_asset_key(asset)
        refuse_unsupported(
            f"AssetDep({key.to_user_string()!r})", partition_mapping=partition_mapping
        )
        return _new_dep(asset=key)

    @property
    def asset_key(self) -> AssetKey:
        """The upstream key."""
        return self.asset


_new_in = builder(AssetIn)
_new_dep = builder(AssetDep)
_DEPS: dict[AssetKey, AssetDep] = {}


def dep_on(key: AssetKey) -> AssetDep:
    """The `AssetDep` on ``key`` (one shared instance per key: it is immutable)."""
    dep = _DEPS.get(key)
    if dep is None:
        # ``key`` is a key already: skip the coercion.
        dep = _DEPS.setdefault(key, _new_dep(asset=key))
    return dep


def to_dep_key(value: Any) -> AssetKey:
    """Resolve one entry of ``deps=``: a definition, spec, key, string, or `AssetDep`."""
    if isinstance(value, AssetDep):
        return value.asset
    keys = getattr(value, "keys", None)
    if keys is not None and not isinstance(value, Mapping) and not callable(keys):
        keys = tuple(keys)
        if len(keys) != 1:
            raise InvalidKeyError(
                f"{value!r} produces {len(keys)} assets; name the one to depend on with "
                "its AssetKey"
            )
        return keys[0]
    return to_asset_key(value)
