"""The execution plan: which steps a run executes, in what order.

A step is one asset function (one `AssetsDefinition`) and the keys it materializes in
this run. This is the seam between deciding *what* runs and *how*: any executor (in
process, one subprocess, later Dask or Ray) takes a plan and emits events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flowdev.defs.assets import AssetsDefinition
from flowdev.defs.definitions import Definitions
from flowdev.errors import ExecutionError
from flowdev.keys import AssetKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One function call in a run."""

    key: str
    assets_def: AssetsDefinition
    asset_keys: tuple[AssetKey, ...]
    upstream_steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """Steps in an order where each runs after the steps it reads from."""

    steps: tuple[Step, ...]

    @property
    def asset_keys(self) -> tuple[AssetKey, ...]:
        """Every key the plan materializes, in step order."""
        return tuple(key for step in self.steps for key in step.asset_keys)

    @classmethod
    def build(cls, defs: Definitions, selected: Iterable[AssetKey]) -> ExecutionPlan:
        """The plan that materializes ``selected``.

        External assets are left out. A multi-asset that cannot be subset runs whole
        when any of its keys is selected, since its function computes all of them.
        """
        graph = defs.asset_graph
        keys_by_def: dict[int, list[AssetKey]] = {}
        defs_by_id: dict[int, AssetsDefinition] = {}
        for key in graph.toposort(selected):
            if defs.is_external(key):
                continue
            assets_def = defs.get_assets_def(key)
            defs_by_id[id(assets_def)] = assets_def
            keys_by_def.setdefault(id(assets_def), []).append(key)
        step_of: dict[AssetKey, str] = {}
        chosen: dict[str, tuple[AssetsDefinition, tuple[AssetKey, ...]]] = {}
        for def_id, keys in keys_by_def.items():
            assets_def = defs_by_id[def_id]
            step_keys = tuple(keys) if assets_def.can_subset else assets_def.keys
            chosen[assets_def.op_name] = (assets_def, step_keys)
            for key in step_keys:
                step_of[key] = assets_def.op_name
        upstream: dict[str, set[str]] = {name: set() for name in chosen}
        for name, (_, step_keys) in chosen.items():
            for key in step_keys:
                for parent in graph.parents(key):
                    parent_step = step_of.get(parent)
                    if parent_step is not None and parent_step != name:
                        upstream[name].add(parent_step)
        return cls(tuple(_ordered(chosen, upstream)))


def _ordered(
    chosen: dict[str, tuple[AssetsDefinition, tuple[AssetKey, ...]]],
    upstream: dict[str, set[str]],
) -> list[Step]:
    # Steps are visited in the asset order they were found in, so the plan keeps the
    # graph's stable topological order wherever the step graph allows it.
    remaining = {name: set(parents) for name, parents in upstream.items()}
    order: list[Step] = []
    while remaining:
        ready = [name for name, parents in remaining.items() if not parents]
        if not ready:
            raise ExecutionError(
                "these multi-assets depend on each other's outputs and cannot be ordered: "
                + ", ".join(sorted(remaining))
            )
        for name in ready:
            assets_def, step_keys = chosen[name]
            order.append(
                Step(
                    key=name,
                    assets_def=assets_def,
                    asset_keys=step_keys,
                    upstream_steps=tuple(sorted(upstream[name])),
                )
            )
            del remaining[name]
        for parents in remaining.values():
            parents.difference_update(ready)
    return order
