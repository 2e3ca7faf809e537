"""The asset graph: which asset depends on which, in what order they run, how they layer.

Adjacency is kept in plain dicts so that building and walking the graph costs a few
microseconds per asset: importing networkx alone takes longer (135-210 ms here) than
validating 10,000 assets. So networkx is not a dependency of flowdev: it is the oracle
the tests check this graph against, and `AssetGraph.to_networkx` hands a
`networkx.DiGraph` to code that wants its algorithms (``pip install 'flowdev[networkx]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowdev.errors import CycleError
from flowdev.keys import AssetKey
from flowdev.records import EMPTY, record

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    import networkx


@record
class AssetNode:
    """What the graph and the selection language know of one asset."""

    key: AssetKey
    parents: tuple[AssetKey, ...] = ()
    group_name: str = "default"
    tags: Mapping[str, str] = EMPTY
    kinds: frozenset[str] = frozenset()
    owners: tuple[str, ...] = ()
    is_external: bool = False


_NO_KEYS: tuple[AssetKey, ...] = ()


class AssetGraph:
    """A directed acyclic graph of assets; edges point from upstream to downstream.

    Built once and then read-only. Every method that returns several keys returns them
    as a set unless it says it orders them.

    Building one checks that it is acyclic and that every parent is a node; that is all
    a project load needs. What only some readers want is made on first use: the nodes
    (`from_parents` takes a function that makes one), the children, and the canonical
    topological order.
    """

    __slots__ = ("_children", "_node_of", "_nodes", "_order", "_parents")

    def __init__(self, nodes: Iterable[AssetNode]) -> None:
        by_key = {node.key: node for node in nodes}
        self._setup({key: node.parents for key, node in by_key.items()}, by_key.__getitem__)
        self._nodes.update(by_key)

    @classmethod
    def from_parents(
        cls,
        parents: dict[AssetKey, tuple[AssetKey, ...]],
        node_of: Callable[[AssetKey], AssetNode],
        *,
        acyclic: bool = False,
    ) -> AssetGraph:
        """A graph of the keys of ``parents`` (kept as given, not copied), each linked to
        its parents; ``node_of(key)`` makes a key's node when one is first asked for.

        ``acyclic=True`` says the caller has seen every parent either come before its
        child in ``parents`` or have no parents itself, which proves there is no cycle.
        """
        graph = cls.__new__(cls)
        graph._setup(parents, node_of, acyclic)
        return graph

    def _setup(
        self,
        parents: dict[AssetKey, tuple[AssetKey, ...]],
        node_of: Callable[[AssetKey], AssetNode],
        acyclic: bool = False,
    ) -> None:
        self._parents = parents
        self._node_of = node_of
        self._nodes: dict[AssetKey, AssetNode] = {}
        self._children: dict[AssetKey, list[AssetKey]] | None = None
        self._order: tuple[AssetKey, ...] | None = None
        if not acyclic and not self._in_given_order():
            self._order = self._toposort()  # raises on a cycle or an unknown parent

    def _in_given_order(self) -> bool:
        # The cheap proof of acyclicity a load almost always gets: every parent comes
        # before its child in the given order, or has no parents itself (a cycle has no
        # such node). Projects list upstream definitions first, so one pass settles it.
        parents = self._parents
        seen: set[AssetKey] = set()
        for key, own in parents.items():
            for parent in own:
                if parent not in seen and (parent not in parents or parents[parent]):
                    return False
            seen.add(key)
        return True

    # -- nodes ---------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._parents

    def __len__(self) -> int:
        return len(self._parents)

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """Every key, in topological order (ties broken by key)."""
        if self._order is None:
            self._order = self._toposort()
        return self._order

    @property
    def nodes(self) -> Mapping[AssetKey, AssetNode]:
        """Every node by key."""
        if len(self._nodes) != len(self._parents):
            node_of, nodes = self._node_of, self._nodes
            for key in self._parents:
                if key not in nodes:
                    nodes[key] = node_of(key)
        return self._nodes

    def node(self, key: AssetKey) -> AssetNode:
        """The node for ``key`` (KeyError if absent)."""
        node = self._nodes.get(key)
        if node is None:
            if key not in self._parents:
                raise KeyError(key)
            node = self._nodes[key] = self._node_of(key)
        return node

    # -- neighbours ----------------------------------------------------------------------

    def parents(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """The direct upstream keys of ``key``."""
        return self._parents[key]

    def children(self, key: AssetKey) -> tuple[AssetKey, ...]:
        """The direct downstream keys of ``key``."""
        return tuple(self._children_of(key))

    def upstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """``keys`` and everything upstream of them, ``depth`` levels up (None: all)."""
        return self._walk(keys, depth, self._parents.__getitem__)

    def downstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """``keys`` and everything downstream of them, ``depth`` levels down (None: all)."""
        return self._walk(keys, depth, self._children_of)

    def _children_of(self, key: AssetKey) -> Sequence[AssetKey]:
        children = self._children_by_key().get(key)
        if children is not None:
            return children
        if key not in self._parents:
            raise KeyError(key)
        return _NO_KEYS

    def _children_by_key(self) -> dict[AssetKey, list[AssetKey]]:
        # Only keys with children get an entry: most assets have none.
        if self._children is None:
            by_parent: dict[AssetKey, list[AssetKey]] = {}
            for key, parents in self._parents.items():
                for parent in parents:
                    children = by_parent.get(parent)
                    if children is None:
                        by_parent[parent] = [key]
                    else:
                        children.append(key)
            self._children = by_parent
        return self._children

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
        parents = self._parents
        return {k for k in within if not any(p in within for p in parents[k])}

    def sinks(self, keys: Iterable[AssetKey]) -> set[AssetKey]:
        """The keys of ``keys`` with no child inside ``keys``."""
        within = set(keys)
        children = self._children_by_key()
        return {k for k in within if not any(c in within for c in children.get(k, _NO_KEYS))}

    # -- order ---------------------------------------------------------------------------

    def toposort(self, keys: Iterable[AssetKey] | None = None) -> list[AssetKey]:
        """``keys`` (default: all) in topological order, ties broken by key."""
        if keys is None:
            return list(self.keys)
        wanted = set(keys)
        return [key for key in self.keys if key in wanted]

    def layers(self) -> list[list[AssetKey]]:
        """Topological generations: roots first, each key one layer below its lowest parent."""
        depth: dict[AssetKey, int] = {}
        order = self.keys
        for key in order:
            parents = self._parents[key]
            depth[key] = 1 + max((depth[p] for p in parents), default=-1)
        layers: list[list[AssetKey]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for key in order:
            layers[depth[key]].append(key)
        return layers

    def _toposort(self) -> tuple[AssetKey, ...]:
        # Kahn's algorithm with the roots pre-sorted, so the order is stable across loads.
        # `order` is also the queue: iterating a list sees what is appended while it runs.
        pending: dict[AssetKey, int] = {}
        order: list[AssetKey] = []
        for key, parents in self._parents.items():
            if parents:
                pending[key] = len(parents)
            else:
                order.append(key)
        order.sort()
        children = self._children_by_key()
        for key in order:
            for child in children.get(key, _NO_KEYS):
                left = pending[child] - 1
                pending[child] = left
                if not left:
                    order.append(child)
        if len(order) != len(self._parents):
            self._refuse_unordered(set(order))
        return tuple(order)

    def _refuse_unordered(self, done: set[AssetKey]) -> None:
        for key, parents in self._parents.items():
            for parent in parents:
                if parent not in self._parents:
                    raise KeyError(
                        f"{key.to_user_string()!r} depends on {parent.to_user_string()!r},"
                        " which is not a node of the graph"
                    )
        raise CycleError([k.to_user_string() for k in self._find_cycle(done)])

    def _find_cycle(self, done: set[AssetKey]) -> list[AssetKey]:
        # Walk parents from any key left over by Kahn: every such key has a parent that
        # is also left over, so the walk must revisit a key; that stretch is a cycle.
        start = min(key for key in self._parents if key not in done)
        path: list[AssetKey] = []
        index: dict[AssetKey, int] = {}
        key = start
        while key not in index:
            index[key] = len(path)
            path.append(key)
            key = min(p for p in self._parents[key] if p not in done)
        cycle = path[index[key] :]
        cycle.reverse()  # walked child -> parent; report upstream -> downstream
        return [*cycle, cycle[0]]

    # -- interop -------------------------------------------------------------------------

    def to_networkx(self) -> networkx.DiGraph:
        """A `networkx.DiGraph` of the same nodes (with their `AssetNode` as ``node``);
        needs networkx installed (the ``networkx`` extra)."""
        import networkx

        graph = networkx.DiGraph()
        nodes = self.nodes
        for key in self.keys:
            graph.add_node(key, node=nodes[key])
        for key, parents in self._parents.items():
            graph.add_edges_from((parent, key) for parent in parents)
        return graph
