"""What the app's run keys ask of core: which assets a key means, and the calls that
start, re-execute and cancel runs.

`assets_to_run` is plain data in, plain data out, for the UI thread. The rest open the
instance and block on it: the app calls them from its thread workers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flowdev.instance.run_records import RunRecord
from flowdev.instance.status import AssetStatus, Status
from flowdev.instance.storage import Storage
from flowdev.keys import AssetKey
from flowdev.project.project import Project
from flowdev.project.snapshot import DefinitionsSnapshot
from flowdev.runs.launcher import cancel_run, launch_run


@dataclass(frozen=True, slots=True)
class RunRequest:
    """The assets a key asked to materialize, in the order they run, and a label."""

    keys: tuple[str, ...]
    label: str


def assets_to_run(
    scope: str,
    snapshot: DefinitionsSnapshot,
    statuses: Mapping[AssetKey, AssetStatus],
    marked: frozenset[AssetKey],
    cursor: AssetKey | None,
) -> RunRequest | str:
    """What ``scope`` means now, or why it means nothing.

    ``stale`` is every stale and missing asset; ``cursor``, ``downstream`` and
    ``upstream`` are the marked set (else the cursor asset) alone or with everything
    downstream or upstream of it.
    """
    graph = snapshot.asset_graph
    if scope == "stale":
        keys = {
            key
            for key, status in statuses.items()
            if status.status in (Status.STALE, Status.MISSING) or status.is_stale
        }
        return runnable(snapshot, keys, "stale and missing")
    base = set(marked) if marked else set() if cursor is None else {cursor}
    if not base:
        return "move the cursor to an asset first"
    keys = set(base)
    if scope == "downstream":
        keys |= graph.downstream(keys)
    elif scope == "upstream":
        keys |= graph.upstream(keys)
    names = sorted(key.to_user_string() for key in base)
    label = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    return runnable(snapshot, keys, label if scope == "cursor" else f"{label} ({scope})")


def runnable(snapshot: DefinitionsSnapshot, keys: set[AssetKey], label: str) -> RunRequest | str:
    """``keys`` in the order they run, without external assets (nothing runs them)."""
    in_order = tuple(
        key.to_user_string()
        for key in snapshot.asset_graph.toposort(keys)
        if not snapshot.get(key).is_external
    )
    return RunRequest(in_order, label) if in_order else "nothing to materialize there"


def launch(project: Project, request: RunRequest, snapshot: DefinitionsSnapshot) -> RunRecord:
    """Start a run of ``request`` against ``snapshot``'s definitions.

    Raises:
        ConfigError: The run config does not fit the definitions.
    """
    with Storage(project.home) as storage:
        return launch_run(
            storage,
            project,
            list(request.keys),
            selection=request.label,
            code_fingerprint=snapshot.code_fingerprint,
            definitions=snapshot,
        )


def failed_part(project: Project, run_id: str) -> tuple[RunRecord, list[str]]:
    """The run ``run_id`` and what re-executing it from its failure runs.

    Raises:
        FlowdevError: Nothing in it failed, or it is not there.
    """
    from flowdev.runs.reexecute import reexecution_keys

    with Storage(project.home) as storage:
        parent = storage.get_run(run_id)
        return parent, reexecution_keys(storage, parent, from_failure=True)


def reexecute(
    project: Project, parent: RunRecord, keys: list[str], snapshot: DefinitionsSnapshot | None
) -> RunRecord:
    """Start ``keys`` again as a re-execution of ``parent``, with its run config.

    Raises:
        FlowdevError: Its config no longer fits the definitions.
    """
    with Storage(project.home) as storage:
        return launch_run(
            storage,
            project,
            keys,
            selection=f"re-execution of {parent.run_id[:8]} from failure",
            run_config=parent.run_config,
            parent_run_id=parent.run_id,
            definitions=snapshot,
        )


def cancel(project: Project, run_ids: Sequence[str]) -> list[RunRecord]:
    """Cancel each run, all at once, and wait until each has ended."""
    with Storage(project.home) as storage:
        for run_id in run_ids:
            cancel_run(storage, run_id, wait=False)
        return [cancel_run(storage, run_id) for run_id in run_ids]
