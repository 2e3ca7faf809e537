"""Every asset's status, from a definitions snapshot and what storage recorded.

One pass in topological order over the snapshot: an asset is stale when its code
version differs from the one its latest materialization recorded ("code changed"), when
an upstream asset has a newer data version than the one it read ("upstream X updated"),
or when an upstream asset is itself stale ("upstream X is stale"). What shows wins in
this order: running, queued, failed, check failed, stale, overdue, fresh (or missing).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from flowdev.instance.event_log import AssetState, CheckResultRecord
from flowdev.instance.run_records import RunRecord, RunStatus, iso_utc
from flowdev.instance.storage import Storage
from flowdev.keys import AssetKey
from flowdev.project.snapshot import AssetSnapshot, DefinitionsSnapshot


class Status(StrEnum):
    """What the freshness pane shows for an asset (DESIGN.md, "Statuses")."""

    MISSING = "missing"
    FRESH = "fresh"
    STALE = "stale"
    OVERDUE = "overdue"
    FAILED = "failed"
    QUEUED = "queued"
    RUNNING = "running"
    CHECK_FAILED = "check_failed"
    EXTERNAL = "external"


class AssetStatus(NamedTuple):
    """One asset's status, the reasons for it, and its latest materialization.

    A named tuple for the same reason as `AssetState`: 10,000 are built per refresh.
    """

    key: AssetKey
    status: Status
    stale_reasons: tuple[str, ...] = ()
    last_materialized: float | None = None
    duration: float | None = None
    materialized_run_id: str | None = None
    code_changed: bool = False
    overdue_at: float | None = None
    failed_checks: tuple[str, ...] = ()
    failure_message: str | None = None
    active_run_id: str | None = None
    state: AssetState | None = None

    @property
    def is_stale(self) -> bool:
        """Whether the asset has reasons to be re-materialized, whatever else shows."""
        return bool(self.stale_reasons)

    def to_json(self) -> dict[str, Any]:
        """The status fields of the CLI's ``assets --json`` shape."""
        return {
            "status": self.status.value,
            "stale_reasons": list(self.stale_reasons),
            "last_materialized": iso_utc(self.last_materialized),
            "duration": self.duration,
            "overdue_at": iso_utc(self.overdue_at),
            "failed_checks": list(self.failed_checks),
            "run_id": self.active_run_id or self.materialized_run_id,
        }


def asset_statuses(
    snapshot: DefinitionsSnapshot, storage: Storage, *, now: float | None = None
) -> dict[AssetKey, AssetStatus]:
    """Every asset's status, reading what it needs from ``storage``."""
    return compute_statuses(
        snapshot,
        storage.asset_states(),
        check_results=storage.check_results().values(),
        active_runs=storage.active_runs(),
        now=now,
    )


def compute_statuses(
    snapshot: DefinitionsSnapshot,
    states: Mapping[str, AssetState],
    *,
    check_results: Iterable[CheckResultRecord] = (),
    active_runs: Iterable[RunRecord] = (),
    now: float | None = None,
) -> dict[AssetKey, AssetStatus]:
    """Every asset's status from already-read storage state (pure; ``now`` injectable)."""
    now = time.time() if now is None else now
    failed_checks: dict[str, list[CheckResultRecord]] = {}
    for result in check_results:
        if not result.passed:
            failed_checks.setdefault(result.asset_key, []).append(result)
    queued = _queued_keys(active_runs, states)
    statuses: dict[AssetKey, AssetStatus] = {}
    stale: set[str] = set()
    for asset, (key_string, dep_strings) in zip(snapshot.assets, snapshot.key_strings, strict=True):
        state = states.get(key_string)
        if asset.is_external and (state is None or state.last_materialized is None):
            statuses[asset.key] = AssetStatus(key=asset.key, status=Status.EXTERNAL)
            continue
        status = _status_of(
            asset, key_string, dep_strings, state, states, stale, failed_checks, queued, now
        )
        if status.stale_reasons:
            stale.add(key_string)
        statuses[asset.key] = status
    return statuses


def _status_of(
    asset: AssetSnapshot,
    key_string: str,
    dep_strings: tuple[str, ...],
    state: AssetState | None,
    states: Mapping[str, AssetState],
    stale: set[str],
    failed_checks: Mapping[str, list[CheckResultRecord]],
    queued: Mapping[str, str],
    now: float,
) -> AssetStatus:
    materialized = state.last_materialized if state is not None else None
    reasons: list[str] = []
    code_changed = False
    overdue_at = None
    checks: tuple[str, ...] = ()
    if state is not None and materialized is not None:
        if asset.code_version is not None and state.code_version != asset.code_version:
            code_changed = True
            reasons.append("code changed")
        for dep_string in dep_strings:
            dep_state = states.get(dep_string)
            if _updated_since(dep_string, dep_state, state):
                reasons.append(f"upstream {dep_string} updated")
            elif dep_string in stale:
                reasons.append(f"upstream {dep_string} is stale")
        if asset.freshness_policy is not None:
            overdue_at = _overdue_at(asset.freshness_policy, materialized, now)
        checks = tuple(
            result.check_name
            for result in failed_checks.get(key_string, ())
            if result.timestamp >= materialized
        )
    failure_time = state.last_failure_time if state is not None else None
    failed = failure_time is not None and (materialized is None or failure_time > materialized)
    if state is not None and state.in_progress_run_id is not None:
        status, active = Status.RUNNING, state.in_progress_run_id
    elif key_string in queued:
        status, active = Status.QUEUED, queued[key_string]
    elif failed:
        status, active = Status.FAILED, None
    elif materialized is None:
        status, active = Status.MISSING, None
    elif checks:
        status, active = Status.CHECK_FAILED, None
    elif reasons:
        status, active = Status.STALE, None
    elif overdue_at is not None and now >= overdue_at:
        status, active = Status.OVERDUE, None
    else:
        status, active = Status.FRESH, None
    return AssetStatus(
        key=asset.key,
        status=status,
        stale_reasons=tuple(reasons),
        last_materialized=materialized,
        duration=state.duration if state is not None else None,
        materialized_run_id=state.run_id if state is not None else None,
        code_changed=code_changed,
        overdue_at=overdue_at,
        failed_checks=checks,
        failure_message=state.last_failure_message if failed and state is not None else None,
        active_run_id=active,
        state=state,
    )


def _updated_since(dep_string: str, dep_state: AssetState | None, state: AssetState) -> bool:
    if dep_state is None or dep_state.last_materialized is None:
        return False
    read_version = state.input_versions.get(dep_string)
    if read_version is not None:
        return read_version != dep_state.data_version
    # Materialized before the upstream existed (or by a flowdev that did not record
    # versions): fall back to time.
    assert state.last_materialized is not None
    return dep_state.last_materialized > state.last_materialized


def _queued_keys(runs: Iterable[RunRecord], states: Mapping[str, AssetState]) -> dict[str, str]:
    """Keys an active run will materialize but has not started yet, by run id."""
    queued: dict[str, str] = {}
    for run in runs:
        if run.status is RunStatus.CANCELING:
            continue
        for key in run.asset_keys:
            state = states.get(key)
            done_in_run = state is not None and run.run_id in (
                state.run_id,
                state.last_failure_run_id,
                state.in_progress_run_id,
            )
            if not done_in_run:
                queued.setdefault(key, run.run_id)
    return queued


def _overdue_at(policy: Mapping[str, Any], materialized: float, now: float) -> float:
    """When the latest materialization stops satisfying the freshness policy.

    Without a cron schedule: ``fail_window`` after it. With one (Dagster's
    ``maximum_lag_minutes`` + ``cron_schedule``): at the first cron tick after which the
    data is older than the window allows.
    """
    window = float(policy["fail_window_seconds"])
    cron = policy.get("cron_schedule")
    if not cron:
        return materialized + window
    from flowdev.cron import next_tick

    # The first tick whose deadline (tick - window) is later than the materialization.
    tick = next_tick(cron, materialized + window, policy.get("cron_schedule_timezone"))
    return tick.timestamp()


def summarize(statuses: Mapping[AssetKey, AssetStatus]) -> dict[str, int]:
    """How many assets have each status (for headers and ``flowdev assets``)."""
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status.status.value] = counts.get(status.status.value, 0) + 1
    return counts
