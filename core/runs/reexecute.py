"""Re-executing a run: which of its assets a new run linked to it materializes again."""

from __future__ import annotations

from flowdev.errors import FlowdevError
from flowdev.events import EventKind
from flowdev.instance.run_records import RunRecord, RunStatus
from flowdev.instance.storage import Storage


def reexecution_keys(storage: Storage, parent: RunRecord, from_failure: bool) -> list[str]:
    """The keys a re-execution of ``parent`` runs: all, or only those that did not succeed."""
    if not from_failure:
        return list(parent.asset_keys)
    if parent.status is RunStatus.SUCCESS:
        raise FlowdevError(
            f"run {parent.run_id[:8]} succeeded: there is no failure to re-execute from "
            "(drop --from-failure to run it all again)"
        )
    if parent.status.is_active:
        raise FlowdevError(f"run {parent.run_id[:8]} is still {parent.status.value}")
    materialized = {
        event.asset_key
        for event in storage.events_after(0, run_id=parent.run_id)
        if event.kind is EventKind.ASSET_MATERIALIZATION
    }
    return [key for key in parent.asset_keys if key not in materialized]


def reexecution_selection(parent: RunRecord, from_failure: bool) -> str:
    """The selection a re-execution of ``parent`` records, e.g. ``re-execution of 1a2b3c4d``."""
    return f"re-execution of {parent.run_id[:8]}" + (" from failure" if from_failure else "")
