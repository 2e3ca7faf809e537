"""The asset graph: which asset depends on which, in what order they run, how they layer.

Adjacency is kept in plain dicts so that building and walking the graph costs a few
microseconds per asset: importing networkx alone takes longer (135-210 ms here) than
validating 10,000 assets. `AssetGraph.to_networkx` hands a `networkx.DiGraph` to code
that needs its algorithms (layout, reporting), importing it only then.

The module is not called ``graph``: that is the public `@graph` decorator's name, which an
imported submodule would hide (see `flowdev.__init__`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowdev.errors import CycleError
from flowdev.keys import AssetKey
from flowdev.records import building

if TYPE_CHECKING:
    import networkx


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetNode:
    """What the graph and the selection language know of one asset."""

    key: AssetKey
    parents: tuple[AssetKey, ...] = ()
    group_name: str = "default"
    tags: Mapping[str, str] = field(default_factory=dict)
    kinds: frozenset[str] = frozenset()
    owners: tuple[str, ...] = ()
    is_external: bool = False


_BuildingNode = building(AssetNode)


def new_node(
    key: AssetKey,
    parents: tuple[AssetKey, ...],
    group_name: str,
    tags: Mapping[str, str],
    kinds: frozenset[str],
    owners: tuple[str, ...],
    is_external: bool,
    /,
) -> AssetNode:
    """An `AssetNode`, built the fast way (see `flowdev.records`): one per asset per load."""
    node = object.__new__(_BuildingNode)
    node.key = key
    node.parents = parents
    node.group_name = group_name
    node.tags = tags
    node.kinds = kinds
    node.owners = owners
    node.is_external = is_external
    node.__class__ = AssetNode
    return node


_NO_KEYS: tuple[AssetKey, ...] = ()


class AssetGraph:
    """A directed acyclic graph of assets; edges point from upstream to downstream.

    Built once from nodes and then read-only. Every method that returns several keys
    returns them as a set unless it says it orders them.
    """

    __slots__ = ("_by_string", "_children", "_nodes", "_order")

    def __init__(self, nodes: Iterable[AssetNode]) -> None:
        self._link({node.key: node for node in nodes})

    @classmethod
    def from_nodes_by_key(cls, nodes: dict[AssetKey, AssetNode]) -> AssetGraph:
        """A graph of ``nodes`` (each under its own key), kept as given: not copied."""
        graph = cls.__new__(cls)
        graph._link(nodes)
        return graph

    def _link(self, nodes: dict[AssetKey, AssetNode]) -> None:
        self._nodes = nodes
        # Only keys with children get an entry: most assets have none.
        self._children: dict[AssetKey, list[AssetKey]] = {}
        for key, node in nodes.items():
            for parent in node.parents:
                children = self._children.get(parent)
                if children is None:
                    self._children[parent] = [key]
                else:
                    children.append(key)
        self._order = self._toposort()
        self._by_string: dict[str, AssetKey] | None = None

    # -- nodes ---------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """Every key, in topological order (ties broken by key)."""
        return self._order

    @property
    def nodes(self) -> Mapping[AssetKey, AssetNode]:
        """Every node by key."""
        return self._nodes

    def node(self, key: AssetKey) -> AssetNode:
        """The node for ``key`` (KeyError if absent)."""
        return self._nodes[key]

    def key_for_string(self, text: str) -> AssetKey | None:
        """The key whose ``"a/b"`` form is ``text``, if any."""
        if self._by_string is None:
            self._by_string = {key.to_user_string(): key for key in self._nodes}
        return self._by_string.get(text)

    # -- neighbours ----------------------------------------------------------------------

    def parents(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """The direct upstream keys of ``key``."""
        return self._nodes[key].parents

    def children(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """The direct downstream keys of ``key``."""
        return tuple(self._children_of(key))

    def upstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """``keys`` and everything upstream of them, ``depth`` levels up (None: all)."""
        return self._walk(keys, depth, lambda key: self._nodes[key].parents)

    def downstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """``keys`` and everything downstream of them, ``depth`` levels down (None: all)."""
        return self._walk(keys, depth, self._children_of)

    def _children_of(self, key: AssetKey) -> Sequence[AssetKey]:
        children = self._children.get(key)
        if children is not None:
            return children
        if key not in self._nodes:
            raise KeyError(key)
        return _NO_KEYS

    def _walk(
        self,
        keys: Iterable[AssetKey],
        depth: int | None,
        step: Callable[[AssetKey], Iterable[AssetKey]],
    ) -> set[AssetKey]:
        seen = set(keys)
        frontier = list(seen)
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            found = []
            for key in frontier:
                for neighbour in step(key):
                    if neighbour not in seen:
                        seen.add(neighbour)
                        found.append(neighbour)
            frontier = found
        return seen

    def roots(self, keys: Iterable[AssetKey]) -> set[AssetKey]:
        """The keys of ``keys`` with no parent inside ``keys``."""
        within = set(keys)
        return {k for k in within if not any(p in within for p in self._nodes[k].parents)}

    def sinks(self, keys: Iterable[AssetKey]) -> set[AssetKey]:
        """The keys of ``keys`` with no child inside ``keys``."""
        within = set(keys)
        children = self._children
        return {k for k in within if not any(c in within for c in children.get(k, _NO_KEYS))}

    # -- order ---------------------------------------------------------------------------

    def toposort(self, keys: Iterable[AssetKey] | None = None) -> list[AssetKey]:
        """``keys`` (default: all) in topological order, ties broken by key."""
        if keys is None:
            return list(self._order)
        wanted = set(keys)
        return [key for key in self._order if key in wanted]

    def layers(self) -> list[list[AssetKey]]:
        """Topological generations: roots first, each key one layer below its lowest parent."""
        depth: dict[AssetKey, int] = {}
        for key in self._order:
            parents = self._nodes[key].parents
            depth[key] = 1 + max((depth[p] for p in parents), default=-1)
        layers: list[list[AssetKey]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for key in self._order:
            layers[depth[key]].append(key)
        return layers

    def _toposort(self) -> tuple[AssetKey, ...]:
        # Kahn's algorithm with the roots pre-sorted, so the order is stable across loads.
        # `order` is also the queue: iterating a list sees what is appended while it runs.
        pending: dict[AssetKey, int] = {}
        order: list[AssetKey] = []
        for key, node in self._nodes.items():
            if node.parents:
                pending[key] = len(node.parents)
            else:
                order.append(key)
        order.sort()
        children = self._children
        for key in order:
            for child in children.get(key, _NO_KEYS):
                left = pending[child] - 1
                pending[child] = left
                if not left:
                    order.append(child)
        if len(order) != len(self._nodes):
            self._refuse_unordered(set(order))
        return tuple(order)

    def _refuse_unordered(self, done: set[AssetKey]) -> None:
        for node in self._nodes.values():
            for parent in node.parents:
                if parent not in self._nodes:
                    raise KeyError(
                        f"{node.key.to_user_string()!r} depends on {parent.to_user_string()!r},"
                        " which is not a node of the graph"
                    )
        raise CycleError([k.to_user_string() for k in self._find_cycle(done)])

    def _find_cycle(self, done: set[AssetKey]) -> list[AssetKey]:
        # Walk parents from any key left over by Kahn: every such key has a parent that
        # is also left over, so the walk must revisit a key; that stretch is a cycle.
        start = min(key for key in self._nodes if key not in done)
        path: list[AssetKey] = []
        index: dict[AssetKey, int] = {}
        key = start
        while key not in index:
            index[key] = len(path)
            path.append(key)
            key = min(p for p in self._nodes[key].parents if p not in done)
        cycle = path[index[key] :]
        cycle.reverse()  # walked child -> parent; report upstream -> downstream
        return [*cycle, cycle[0]]

    # -- interop -------------------------------------------------------------------------

    def to_networkx(self) -> networkx.DiGraph:
        """A `networkx.DiGraph` of the same nodes (with their `AssetNode` as ``node``)."""
        import networkx

        graph = networkx.DiGraph()
        for key in self._order:
            graph.add_node(key, node=self._nodes[key])
        for key, node in self._nodes.items():
            graph.add_edges_from((parent, key) for parent in node.parents)
        return graph
