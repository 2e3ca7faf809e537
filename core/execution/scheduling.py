"""Which steps of a plan may start now: dependencies, failures, and concurrency limits.

A `StepQueue` is the bookkeeping every executor shares. A step is ready once every step
it reads from has succeeded; a step downstream of one that failed (or was skipped) can
never run and is handed out as a skip, naming the upstream step; ready steps start in
plan order while the limits allow:

- ``max_concurrent``: steps in flight at once;
- ``tag_concurrency_limits`` (Dagster's shape): at most ``limit`` steps in flight whose
  op tags have ``key`` (and ``value``, when given; with ``{"applyLimitPerUniqueValue":
  True}``, ``limit`` per distinct value);
- pools (Dagster's ``pool=`` on an asset, or its older ``dagster/concurrency_key`` op
  tag): at most ``pool_limits[pool]`` steps of a pool in flight in the run, one when
  the pool has no limit of its own, so that a pool guards a shared resource out of the
  box ("one step at a time touches the warehouse").
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from flowdev.events import EventKind, RunEvent
from flowdev.execution.plan import ExecutionPlan, Step
from flowdev.records import record

DEFAULT_POOL_LIMIT = 1
CANCELED = "the run was canceled"  # the reason of the steps a cancel skips
_LEGACY_POOL_TAG = "dagster/concurrency_key"


@record
class Skip:
    """A step that will not run, and why."""

    step: Step
    reason: str
    upstream: tuple[str, ...] = ()


def skip_event(run_id: str, skip: Skip) -> RunEvent:
    """The STEP_SKIPPED event of ``skip``."""
    if not skip.upstream:  # a cancel
        return RunEvent(
            run_id=run_id,
            kind=EventKind.STEP_SKIPPED,
            step_key=skip.step.key,
            message=f"skipped: {skip.reason}",
        )
    return RunEvent(
        run_id=run_id,
        kind=EventKind.STEP_SKIPPED,
        step_key=skip.step.key,
        level="WARNING",
        message=f"skipped {skip.step.key}: {skip.reason}",
        data={"upstream": list(skip.upstream)},
    )


class StepQueue:
    """The state of a plan's execution: waiting, in flight, succeeded, failed."""

    def __init__(
        self,
        plan: ExecutionPlan,
        *,
        max_concurrent: int = 1,
        tag_limits: Sequence[Mapping[str, Any]] = (),
        pool_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.max_concurrent = max(1, max_concurrent)
        self._steps = plan.steps
        self._index = {step.key: index for index, step in enumerate(plan.steps)}
        self._waiting_on = {step.key: set(step.upstream_steps) for step in plan.steps}
        self._downstream: dict[str, list[str]] = {step.key: [] for step in plan.steps}
        for step in plan.steps:
            for parent in step.upstream_steps:
                self._downstream[parent].append(step.key)
        self._ready = [self._index[k] for k, parents in self._waiting_on.items() if not parents]
        heapq.heapify(self._ready)
        self._ended: set[str] = set()  # finished or skipped
        self._unsucceeded: set[str] = set()  # failed or skipped
        self._skips: list[Skip] = []
        self.in_flight: dict[str, Step] = {}
        self._limits = _Limits(tag_limits, pool_limits or {})

    @property
    def done(self) -> bool:
        """Whether every step has finished or been skipped."""
        return len(self._ended) == len(self._steps)

    @property
    def failed(self) -> bool:
        """Whether any step failed or was skipped."""
        return bool(self._unsucceeded)

    def next_ready(self) -> Step | None:
        """The first step in plan order that may start now (marked in flight), or None."""
        if len(self.in_flight) >= self.max_concurrent:
            return None
        held = []
        chosen = None
        while self._ready:
            index = heapq.heappop(self._ready)
            step = self._steps[index]
            if self._limits.admits(step):
                chosen = step
                break
            held.append(index)
        for index in held:
            heapq.heappush(self._ready, index)
        if chosen is not None:
            self.in_flight[chosen.key] = chosen
            self._limits.started(chosen)
        return chosen

    def finish(self, step_key: str, succeeded: bool) -> None:
        """Record that in-flight step ``step_key`` ended."""
        step = self.in_flight.pop(step_key)
        self._limits.ended(step)
        self._ended.add(step_key)
        if not succeeded:
            self._unsucceeded.add(step_key)
        for child in self._downstream[step_key]:
            parents = self._waiting_on[child]
            parents.discard(step_key)
            if not succeeded:
                self._skip(child, step_key)
            elif not parents and child not in self._ended:
                heapq.heappush(self._ready, self._index[child])

    def take_skips(self) -> list[Skip]:
        """The steps that became impossible since the last call, in plan order."""
        skips, self._skips = self._skips, []
        return sorted(skips, key=lambda skip: self._index[skip.step.key])

    def skip_rest(self, reason: str) -> list[Skip]:
        """Give up on every step not yet started (a cancel): their skips, in plan order."""
        rest = [
            step
            for step in self._steps
            if step.key not in self._ended and step.key not in self.in_flight
        ]
        self._ready = []
        for step in rest:
            self._ended.add(step.key)
            self._unsucceeded.add(step.key)
        return [Skip(step=step, reason=reason) for step in rest]

    def _skip(self, key: str, upstream: str) -> None:
        if key in self._ended:
            return
        self._ended.add(key)
        self._unsucceeded.add(key)
        reason = f"upstream step {upstream!r} did not succeed"
        self._skips.append(
            Skip(step=self._steps[self._index[key]], reason=reason, upstream=(upstream,))
        )
        for child in self._downstream[key]:
            self._waiting_on[child].discard(key)
            self._skip(child, key)


class _Limits:
    """Counts of in-flight steps per tag limit and per pool."""

    def __init__(self, tag_limits: Sequence[Mapping[str, Any]], pool_limits: Mapping[str, int]):
        self.tag_limits = tuple(tag_limits)
        self.pool_limits = pool_limits
        self.counts: dict[tuple[Any, ...], int] = {}

    def _buckets(self, step: Step) -> Iterator[tuple[tuple[Any, ...], int]]:
        tags = step.assets_def.op_tags
        for index, limit in enumerate(self.tag_limits):
            key = limit["key"]
            if key not in tags:
                continue
            wanted = limit.get("value")
            if wanted is None:
                yield ("tag", index), limit["limit"]
            elif isinstance(wanted, str):
                if tags[key] == wanted:
                    yield ("tag", index), limit["limit"]
            else:  # {"applyLimitPerUniqueValue": True}
                yield ("tag", index, tags[key]), limit["limit"]
        pool = step.assets_def.pool or tags.get(_LEGACY_POOL_TAG)
        if pool:
            yield ("pool", pool), self.pool_limits.get(pool, DEFAULT_POOL_LIMIT)

    def admits(self, step: Step) -> bool:
        return all(self.counts.get(bucket, 0) < limit for bucket, limit in self._buckets(step))

    def started(self, step: Step) -> None:
        for bucket, _ in self._buckets(step):
            self.counts[bucket] = self.counts.get(bucket, 0) + 1

    def ended(self, step: Step) -> None:
        for bucket, _ in self._buckets(step):
            self.counts[bucket] -= 1
