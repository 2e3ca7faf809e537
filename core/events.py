"""The structured events a run emits: what storage records and the app shows.

`RunEvent` is a record (`flowdev.records`): built per event on the run's hot path, where
a named tuple builds in a fraction of a frozen dataclass's time, and pickled whole when
it crosses processes. Its ``data`` is kept as given (the worker fills it just before).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from flowdev.keys import AssetKey
from flowdev.records import field, record


class EventKind(StrEnum):
    """What happened (Dagster's event type names)."""

    RUN_START = "RUN_START"
    RUN_SUCCESS = "RUN_SUCCESS"
    RUN_FAILURE = "RUN_FAILURE"
    RUN_CANCELED = "RUN_CANCELED"
    STEP_START = "STEP_START"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_SKIPPED = "STEP_SKIPPED"
    STEP_UP_FOR_RETRY = "STEP_UP_FOR_RETRY"
    STEP_CANCELED = "STEP_CANCELED"
    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    ASSET_CHECK_EVALUATION = "ASSET_CHECK_EVALUATION"
    LOG = "LOG"


@record
class RunEvent:
    """One event of a run. ``data`` is JSON-able and already free of secret values."""

    run_id: str
    kind: EventKind
    timestamp: float = field(default_factory=time.time)
    step_key: str | None = None
    asset_key: AssetKey | None = None
    level: str = "INFO"
    message: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "run_id": self.run_id,
            "kind": self.kind.value,
            "timestamp": self.timestamp,
            "step_key": self.step_key,
            "asset_key": None if self.asset_key is None else self.asset_key.to_user_string(),
            "level": self.level,
            "message": self.message,
            "data": dict(self.data),
        }
