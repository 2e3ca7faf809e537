"""Ops, graphs and jobs (Dagster's task-centric API), and jobs that target assets.

A `@job` or `@graph` body is run once when it is decorated, as in Dagster: calling an
op inside it records a node instead of running it, and passing one node's output to
another records an edge. The result is the job's structure, validated here.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowdev.defs.descriptions import description_of
from flowdev.defs.executors import ExecutorDefinition, check_executor
from flowdev.errors import InvalidDefinitionError, refuse_unsupported
from flowdev.records import EMPTY, builder, freeze, is_record, record

# Dagster's arguments of `In` and `Out` that flowdev does not implement yet, refused:
# an op's inputs and outputs are passed in memory and typed by Python alone.


@record(init=False)
class In:
    """An op input (Dagster's `In`): its description. ``dagster_type=`` and
    ``default_value=`` are not supported yet."""

    description: str | None = None

    def __new__(
        cls, dagster_type: Any = None, description: str | None = None, default_value: Any = None
    ) -> In:
        refuse_unsupported("In", dagster_type=dagster_type, default_value=default_value)
        return _new_in(description=description)


@record(init=False)
class Out:
    """An op output (Dagster's `Out`): its description. ``dagster_type=``,
    ``is_required=False`` and ``io_manager_key=`` are not supported yet."""

    description: str | None = None

    def __new__(
        cls,
        dagster_type: Any = None,
        description: str | None = None,
        is_required: bool = True,
        io_manager_key: str | None = None,
    ) -> Out:
        refuse_unsupported(
            "Out",
            dagster_type=dagster_type,
            is_required=None if is_required else is_required,
            io_manager_key=None if io_manager_key == "io_manager" else io_manager_key,
        )
        return _new_out(description=description)


_new_in = builder(In)
_new_out = builder(Out)


@record
class NodeOutput:
    """A handle to one output of a node, seen while composing a graph."""

    node_name: str
    output_name: str = "result"


@record
class OpDefinition:
    """A unit of computation in a job."""

    fn: Callable[..., Any]
    name: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...] = ("result",)
    description: str | None = None
    required_resource_keys: frozenset[str] = frozenset()
    tags: Mapping[str, str] = EMPTY
    retry_policy: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        composition = _composing.get()
        if composition is None:
            return self.fn(*args, **kwargs)
        return composition.invoke(self, args, kwargs)

    def alias(self, name: str) -> _AliasedOp:
        """Use this op under another node name in a graph."""
        return _AliasedOp(self, name)


@record
class _AliasedOp:
    op: OpDefinition
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        composition = _composing.get()
        if composition is None:
            raise InvalidDefinitionError(f"{self.name!r}: an aliased op is only used in a graph")
        return composition.invoke(self.op, args, kwargs, node_name=self.name)


@record
class GraphDefinition:
    """Ops wired together: ``nodes`` by name, ``edges`` as (upstream, downstream) names."""

    name: str
    nodes: Mapping[str, OpDefinition]
    edges: tuple[tuple[str, str], ...]
    description: str | None = None

    def to_job(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        config: Any = None,
        resource_defs: Mapping[str, Any] | None = None,
        executor_def: Any = None,
        partitions_def: Any = None,
    ) -> JobDefinition:
        """A job that runs this graph.

        Raises:
            UnsupportedArgumentError: ``resource_defs=`` or ``partitions_def=`` was
                given; flowdev does not implement them yet.
            InvalidDefinitionError: ``executor_def`` is not an executor.
        """
        job_name = name or self.name
        where = f"graph {self.name!r} .to_job({job_name!r})"
        refuse_unsupported(where, resource_defs=resource_defs, partitions_def=partitions_def)
        return JobDefinition(
            name=job_name,
            graph=self,
            description=self.description if description is None else description,
            tags=freeze(tags),
            config=config,
            executor_def=check_executor(where, executor_def),
        )


@record
class JobDefinition:
    """A graph of ops ready to run, with tags and default config."""

    name: str
    graph: GraphDefinition
    description: str | None = None
    tags: Mapping[str, str] = EMPTY
    config: Any = None
    executor_def: ExecutorDefinition | None = None


@record
class UnresolvedAssetJobDefinition:
    """A job that materializes a selection of assets, resolved against `Definitions`."""

    name: str
    selection: Any
    description: str | None = None
    tags: Mapping[str, str] = EMPTY
    config: Any = None
    executor_def: ExecutorDefinition | None = None


class _Composition:
    def __init__(self, graph_name: str) -> None:
        self.graph_name = graph_name
        self.nodes: dict[str, OpDefinition] = {}
        self.edges: list[tuple[str, str]] = []

    def invoke(
        self,
        op: OpDefinition,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        node_name: str | None = None,
    ) -> Any:
        name = node_name or op.name
        if name in self.nodes:
            # Dagster names the second use of an op `name_2`, and so on.
            suffix = 2
            while f"{name}_{suffix}" in self.nodes:
                suffix += 1
            name = f"{name}_{suffix}"
        self.nodes[name] = op
        upstream = [*args, *kwargs.values()]
        if len(upstream) > len(op.input_names):
            raise InvalidDefinitionError(
                f"graph {self.graph_name!r}: op {op.name!r} takes inputs {list(op.input_names)} "
                f"but was given {len(upstream)}"
            )
        for value in upstream:
            many = isinstance(value, (list, tuple)) and not is_record(value)
            for handle in value if many else (value,):
                if not isinstance(handle, NodeOutput):
                    raise InvalidDefinitionError(
                        f"graph {self.graph_name!r}: op {op.name!r} was passed {handle!r}; "
                        "inside a graph, pass only the outputs of other ops"
                    )
                self.edges.append((handle.node_name, name))
        if len(op.output_names) > 1:
            return tuple(NodeOutput(name, out) for out in op.output_names)
        return NodeOutput(name, op.output_names[0])


_composing: contextvars.ContextVar[_Composition | None] = contextvars.ContextVar(
    "flowdev_composing", default=None
)


def op(
    compute_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    required_resource_keys: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    retry_policy: Any = None,
    config_schema: Any = None,
    pool: str | None = None,
) -> Any:
    """Declare an op: a function that a job runs as one step.

    Raises:
        UnsupportedArgumentError: ``config_schema=`` or ``pool=`` was given; flowdev
            does not implement them yet.
    """

    def decorate(fn: Callable[..., Any]) -> OpDefinition:
        refuse_unsupported(f"@op {name or fn.__name__!r}", config_schema=config_schema, pool=pool)
        code = fn.__code__
        params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        inputs = tuple(p for i, p in enumerate(params) if not (i == 0 and p == "context"))
        outputs = tuple(out) if isinstance(out, Mapping) else ("result",)
        return OpDefinition(
            fn=fn,
            name=name or fn.__name__,
            input_names=tuple(ins) if ins else inputs,
            output_names=outputs,
            description=description_of(fn, description),
            required_resource_keys=frozenset(required_resource_keys or ()),
            tags=freeze(tags),
            retry_policy=retry_policy,
        )

    return decorate(compute_fn) if compute_fn is not None else decorate


def _compose(fn: Callable[..., Any], name: str) -> GraphDefinition:
    composition = _Composition(name)
    token = _composing.set(composition)
    try:
        fn()
    finally:
        _composing.reset(token)
    if not composition.nodes:
        raise InvalidDefinitionError(f"graph {name!r} calls no ops; call at least one op")
    return GraphDefinition(
        name=name,
        nodes=freeze(composition.nodes),
        edges=tuple(composition.edges),
        description=description_of(fn),
    )


def graph(compute_fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Declare a graph of ops by calling them in the function body."""

    def decorate(fn: Callable[..., Any]) -> GraphDefinition:
        return _compose(fn, name or fn.__name__)

    return decorate(compute_fn) if compute_fn is not None else decorate


def job(
    compute_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    config: Any = None,
    resource_defs: Mapping[str, Any] | None = None,
    executor_def: Any = None,
) -> Any:
    """Declare a job: a graph of ops, called in the function body, ready to run.

    Raises:
        UnsupportedArgumentError: ``resource_defs=`` was given (bind resources in
            `Definitions`); flowdev does not implement it yet.
        InvalidDefinitionError: ``executor_def`` is not an executor.
    """

    def decorate(fn: Callable[..., Any]) -> JobDefinition:
        job_name = name or fn.__name__
        refuse_unsupported(f"@job {job_name!r}", resource_defs=resource_defs)
        return JobDefinition(
            name=job_name,
            graph=_compose(fn, job_name),
            description=description_of(fn, description),
            tags=freeze(tags),
            config=config,
            executor_def=check_executor(f"@job {job_name!r}", executor_def),
        )

    return decorate(compute_fn) if compute_fn is not None else decorate


def define_asset_job(
    name: str,
    selection: Any = None,
    *,
    config: Any = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_tags: Mapping[str, str] | None = None,
    partitions_def: Any = None,
    executor_def: Any = None,
    hooks: Any = None,
    op_retry_policy: Any = None,
) -> UnresolvedAssetJobDefinition:
    """A job that materializes ``selection`` (a query string, an `AssetSelection`, or keys).

    The selection is resolved when `Definitions` is built, so an unknown key is an
    error then, not when the job first runs.

    Raises:
        UnsupportedArgumentError: ``partitions_def=``, ``hooks=`` or
            ``op_retry_policy=`` was given; flowdev does not implement them yet.
        InvalidDefinitionError: ``executor_def`` is not an executor.
    """
    where = f"define_asset_job({name!r})"
    refuse_unsupported(
        where, partitions_def=partitions_def, hooks=hooks, op_retry_policy=op_retry_policy
    )
    return UnresolvedAssetJobDefinition(
        name=name,
        selection="*" if selection is None else selection,
        description=description,
        tags=freeze({**(tags or {}), **(run_tags or {})}),
        config=config,
        executor_def=check_executor(where, executor_def),
    )
