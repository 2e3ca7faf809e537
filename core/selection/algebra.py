"""Asset selection as an algebra: which assets of an `AssetGraph` a selection names.

The names and semantics are Dagster's. Each selection is a frozen value that says what
to pick; `resolve(graph)` turns it into a set of keys. Selections combine with ``|``
(union), ``&`` (intersection), ``-`` (difference) and ``~`` (complement within the
graph), and grow or shrink along edges with `upstream`, `downstream`, `roots` and
`sinks`. The query language in `flowdev.selection.syntax` builds these same objects.

    AssetSelection.groups("marts").upstream(depth=1) - AssetSelection.kind("dbt")

One simplification: Dagster leaves external assets out of `all()`, groups, tags and
upstream walks unless ``include_sources=True``; flowdev always includes them, so the
graph the app draws and the set a query picks agree.

Each selection class is a record (`flowdev.records`) on the plain base `AssetSelection`,
which holds the constructors and operators. A record is a named tuple underneath, but
equality stays by type: a record equals only a record of its own class, so
``AllSelection()`` is not ``()`` and ``RootsAssetSelection(child=x)`` is not
``SinksAssetSelection(child=x)``. Nor is a selection a sequence or ordered: ``len``,
iteration, ``in``, ``+`` and ``<`` raise, as they did on dataclasses.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from flowdev.errors import SelectionError, UnknownAssetError
from flowdev.keys import AssetKey, to_asset_key
from flowdev.records import field, record
from flowdev.selection.graph import AssetGraph


class AssetSelection(ABC):
    """A query over the assets of a graph, resolved with `resolve`.

    Build one with the static constructors (`all`, `keys`, `assets`, `groups`, `tag`,
    `kind`, `owner`, `key_wildcard`) or parse one with `from_string`, then combine:

        AssetSelection.groups("marketing") | AssetSelection.assets("promotion")
        AssetSelection.keys("marts/orders").upstream() - AssetSelection.groups("raw")
    """

    __slots__ = ()

    @abstractmethod
    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        """The keys of ``graph`` that this selection names.

        Raises:
            UnknownAssetError: an exact key in the selection names no asset.
        """

    # -- constructors ---------------------------------------------------------------------

    @staticmethod
    def all() -> AllSelection:
        """Every asset in the graph, external ones included."""
        return AllSelection()

    @staticmethod
    def keys(*asset_keys: AssetKey | str | Sequence[str]) -> KeysAssetSelection:
        """The assets with exactly these keys (`AssetKey`, ``"a/b"`` string or parts)."""
        return KeysAssetSelection(selected_keys=tuple(to_asset_key(k) for k in asset_keys))

    @staticmethod
    def assets(*assets_defs: Any) -> KeysAssetSelection:
        """The assets these definitions produce (anything with ``.keys`` or ``.key``).

        Keys, ``"a/b"`` strings and lists of parts are accepted too, as in Dagster.
        """
        selected: list[AssetKey] = []
        for value in assets_defs:
            keys = getattr(value, "keys", None)
            # A dict's .keys is a method and a multi-asset's is a property; only the
            # latter lists the keys a definition produces.
            if keys is not None and not callable(keys):
                selected.extend(to_asset_key(k) for k in keys)
            else:
                selected.append(to_asset_key(value))
        return KeysAssetSelection(selected_keys=tuple(selected))

    @staticmethod
    def key_wildcard(pattern: str) -> KeyWildCardAssetSelection:
        """The assets whose ``"a/b"`` key matches ``pattern``; ``*`` matches any characters."""
        return KeyWildCardAssetSelection(selected_key_wildcard=pattern)

    @staticmethod
    def groups(*group_names: str) -> GroupsAssetSelection:
        """The assets in any of these groups."""
        return GroupsAssetSelection(selected_groups=tuple(group_names))

    @staticmethod
    def tag(key: str, value: str | None = None) -> TagAssetSelection:
        """The assets tagged ``key=value``; with no ``value``, tagged ``key`` at all.

        Dagster reads a key-only tag as ``key=""``; asking for the key alone here also
        matches those, and any other value.
        """
        return TagAssetSelection(key=key, value=value)

    @staticmethod
    def kind(kind: str) -> KindAssetSelection:
        """The assets of this kind (``"dbt"``, ``"python"``, ...)."""
        return KindAssetSelection(kind_str=kind)

    @staticmethod
    def owner(owner: str) -> OwnerAssetSelection:
        """The assets this owner (``"team:data"``, an email) owns."""
        return OwnerAssetSelection(selected_owner=owner)

    @staticmethod
    def from_string(query: str) -> AssetSelection:
        """Parse a query in the selection language (see `flowdev.selection.syntax`)."""
        from flowdev.selection.syntax import parse_selection

        return parse_selection(query)

    # -- operators ------------------------------------------------------------------------

    def __or__(self, other: AssetSelection) -> OrAssetSelection:
        return OrAssetSelection(operands=_flatten(OrAssetSelection, self, other))

    def __and__(self, other: AssetSelection) -> AndAssetSelection:
        return AndAssetSelection(operands=_flatten(AndAssetSelection, self, other))

    def __sub__(self, other: AssetSelection) -> SubtractAssetSelection:
        return SubtractAssetSelection(left=self, right=other)

    def __invert__(self) -> SubtractAssetSelection:
        # Dagster spells "not x" as all() - x; keeping that shape keeps one class fewer.
        return SubtractAssetSelection(left=AllSelection(), right=self)

    # -- traversals -----------------------------------------------------------------------

    def upstream(
        self, depth: int | None = None, include_self: bool = True
    ) -> UpstreamAssetSelection:
        """This selection and the assets upstream of it.

        Args:
            depth: How many levels up to walk; None walks to the roots, 0 adds nothing.
            include_self: Keep this selection's own assets in the result.
        """
        return UpstreamAssetSelection(child=self, depth=depth, include_self=include_self)

    def downstream(
        self, depth: int | None = None, include_self: bool = True
    ) -> DownstreamAssetSelection:
        """This selection and the assets downstream of it.

        Args:
            depth: How many levels down to walk; None walks to the sinks, 0 adds nothing.
            include_self: Keep this selection's own assets in the result.
        """
        return DownstreamAssetSelection(child=self, depth=depth, include_self=include_self)

    def roots(self) -> RootsAssetSelection:
        """The assets of this selection with no parent inside it."""
        return RootsAssetSelection(child=self)

    def sinks(self) -> SinksAssetSelection:
        """The assets of this selection with no child inside it."""
        return SinksAssetSelection(child=self)


def _flatten(
    kind: type[OrAssetSelection | AndAssetSelection], *selections: AssetSelection
) -> tuple[AssetSelection, ...]:
    # a | b | c becomes one three-operand union, not a nested pair, as in Dagster.
    operands: list[AssetSelection] = []
    for selection in selections:
        if isinstance(selection, kind):
            operands.extend(selection.operands)
        else:
            operands.append(selection)
    return tuple(operands)


# -- leaves -------------------------------------------------------------------------------


@record
class AllSelection(AssetSelection):
    """Every asset in the graph."""

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        return set(graph.keys)


@record
class KeysAssetSelection(AssetSelection):
    """Exactly these keys; one that names no asset is an error, with close matches.

    ``query`` is the text the keys were parsed from, quoted in that error.
    """

    selected_keys: tuple[AssetKey, ...]
    query: str | None = field(default=None, compare=False)

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        for key in self.selected_keys:
            if key not in graph:
                known = [k.to_user_string() for k in graph.keys]
                raise UnknownAssetError(key.to_user_string(), known, self.query)
        return set(self.selected_keys)


@record
class KeyWildCardAssetSelection(AssetSelection):
    """The keys whose ``"a/b"`` form matches a pattern where ``*`` is any characters.

    ``*`` crosses ``/``: ``marts/*`` matches ``marts/orders`` and ``marts/eu/orders``.
    A pattern that matches nothing is an empty selection, not an error.
    """

    selected_key_wildcard: str

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        pieces = (re.escape(piece) for piece in self.selected_key_wildcard.split("*"))
        pattern = re.compile(".*".join(pieces), re.DOTALL)
        return {key for key in graph.keys if pattern.fullmatch(key.to_user_string())}


@record
class GroupsAssetSelection(AssetSelection):
    """The assets in any of these groups; an unknown group selects nothing."""

    selected_groups: tuple[str, ...]

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        wanted = set(self.selected_groups)
        return {key for key, node in graph.nodes.items() if node.group_name in wanted}


@record
class TagAssetSelection(AssetSelection):
    """The assets tagged ``key=value``, or tagged ``key`` with any value when None."""

    key: str
    value: str | None = None

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        if self.value is None:
            return {key for key, node in graph.nodes.items() if self.key in node.tags}
        return {key for key, node in graph.nodes.items() if node.tags.get(self.key) == self.value}


@record
class KindAssetSelection(AssetSelection):
    """The assets that list this kind."""

    kind_str: str

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        return {key for key, node in graph.nodes.items() if self.kind_str in node.kinds}


@record
class OwnerAssetSelection(AssetSelection):
    """The assets that list this owner."""

    selected_owner: str

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        return {key for key, node in graph.nodes.items() if self.selected_owner in node.owners}


# -- combinations -------------------------------------------------------------------------


@record
class OrAssetSelection(AssetSelection):
    """The union of the operands."""

    operands: tuple[AssetSelection, ...]

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        return set().union(*(operand.resolve(graph) for operand in self.operands))


@record
class AndAssetSelection(AssetSelection):
    """The intersection of the operands."""

    operands: tuple[AssetSelection, ...]

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        first, *rest = (operand.resolve(graph) for operand in self.operands)
        return first.intersection(*rest)


@record
class SubtractAssetSelection(AssetSelection):
    """The assets of ``left`` that are not in ``right``."""

    left: AssetSelection
    right: AssetSelection

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        return self.left.resolve(graph) - self.right.resolve(graph)


# -- walks along edges --------------------------------------------------------------------


@record
class UpstreamAssetSelection(AssetSelection):
    """``child`` and its upstream, ``depth`` levels up (None: all)."""

    child: AssetSelection
    depth: int | None = None
    include_self: bool = True

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        selected = self.child.resolve(graph)
        walked = graph.upstream(selected, self.depth)
        return walked if self.include_self else walked - selected


@record
class DownstreamAssetSelection(AssetSelection):
    """``child`` and its downstream, ``depth`` levels down (None: all)."""

    child: AssetSelection
    depth: int | None = None
    include_self: bool = True

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        selected = self.child.resolve(graph)
        walked = graph.downstream(selected, self.depth)
        return walked if self.include_self else walked - selected


@record
class RootsAssetSelection(AssetSelection):
    """The assets of ``child`` with no parent inside ``child``."""

    child: AssetSelection

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        return graph.roots(self.child.resolve(graph))


@record
class SinksAssetSelection(AssetSelection):
    """The assets of ``child`` with no child inside ``child``."""

    child: AssetSelection

    def resolve(self, graph: AssetGraph) -> set[AssetKey]:
        return graph.sinks(self.child.resolve(graph))


# -- entry point --------------------------------------------------------------------------

# Sequence items: query strings, keys, lists of key parts, or definitions.
CoercibleToAssetSelection = str | AssetSelection | Sequence[Any] | None


def resolve_selection(graph: AssetGraph, selection: CoercibleToAssetSelection) -> set[AssetKey]:
    """The keys of ``graph`` that ``selection`` names, whatever form it takes.

    Args:
        graph: The graph to select from.
        selection: None or ``"*"`` for every asset; a query string; an `AssetSelection`;
            or a sequence whose strings are queries and whose other items are keys,
            lists of key parts or definitions (as Dagster's ``selection=`` reads it).

    Raises:
        SelectionSyntaxError: a query string is malformed.
        UnknownAssetError: an exact key names no asset.
    """
    return coerce_selection(selection).resolve(graph)


def coerce_selection(selection: CoercibleToAssetSelection) -> AssetSelection:
    """``selection`` as an `AssetSelection` (see `resolve_selection` for the forms)."""
    if selection is None:
        return AllSelection()
    if isinstance(selection, AssetSelection):
        return selection
    if isinstance(selection, str):
        return AssetSelection.from_string(selection)
    if not isinstance(selection, Iterable):
        raise SelectionError(
            f"cannot select assets with {selection!r}: pass a query string, an "
            "AssetSelection, or a list of keys and definitions"
        )
    parts = [
        AssetSelection.from_string(item) if isinstance(item, str) else AssetSelection.assets(item)
        for item in selection
    ]
    if not parts:
        return KeysAssetSelection(selected_keys=())
    if len(parts) == 1:
        return parts[0]
    return OrAssetSelection(operands=tuple(parts))
