"""Freshness and retry policies: pure data, with the arithmetic their users need."""

from __future__ import annotations

import random
from datetime import timedelta
from enum import Enum

from flowdev.errors import InvalidDefinitionError
from flowdev.records import builder, record


@record(init=False)
class FreshnessPolicy:
    """How old an asset may get before it is overdue.

    Written as Dagster writes it, in either form:
    ``FreshnessPolicy(maximum_lag_minutes=60, cron_schedule="0 9 * * *")`` or
    ``FreshnessPolicy.time_window(fail_window=timedelta(hours=1), warn_window=...)``.
    With a cron schedule the asset must, at each tick, hold data no older than the lag.
    """

    fail_window: timedelta
    warn_window: timedelta | None = None
    cron_schedule: str | None = None
    cron_schedule_timezone: str | None = None

    def __new__(
        cls,
        maximum_lag_minutes: float | None = None,
        *,
        cron_schedule: str | None = None,
        cron_schedule_timezone: str | None = None,
        fail_window: timedelta | None = None,
        warn_window: timedelta | None = None,
    ) -> FreshnessPolicy:
        if fail_window is None:
            if maximum_lag_minutes is None:
                raise InvalidDefinitionError(
                    "FreshnessPolicy needs maximum_lag_minutes= (or use "
                    "FreshnessPolicy.time_window(fail_window=...))"
                )
            fail_window = timedelta(minutes=maximum_lag_minutes)
        if fail_window <= timedelta(0):
            raise InvalidDefinitionError(
                f"FreshnessPolicy: the allowed lag must be positive, got {fail_window}"
            )
        if warn_window is not None and warn_window >= fail_window:
            raise InvalidDefinitionError(
                f"FreshnessPolicy: warn_window ({warn_window}) must be shorter than "
                f"fail_window ({fail_window})"
            )
        if cron_schedule is not None:
            validate_cron(cron_schedule, "FreshnessPolicy(cron_schedule=...)")
        return _new_freshness_policy(
            fail_window=fail_window,
            warn_window=warn_window,
            cron_schedule=cron_schedule,
            cron_schedule_timezone=cron_schedule_timezone,
        )

    @classmethod
    def time_window(
        cls, fail_window: timedelta, warn_window: timedelta | None = None
    ) -> FreshnessPolicy:
        """Overdue when the last materialization is older than ``fail_window``."""
        return cls(fail_window=fail_window, warn_window=warn_window)

    @property
    def maximum_lag_minutes(self) -> float:
        """The allowed lag in minutes (Dagster's legacy field)."""
        return self.fail_window.total_seconds() / 60

    def describe(self) -> str:
        """A short human description, e.g. ``"within 1h, by 0 9 * * *"``."""
        text = f"within {_short(self.fail_window)}"
        if self.warn_window is not None:
            text += f" (warn after {_short(self.warn_window)})"
        if self.cron_schedule:
            text += f", by {self.cron_schedule}"
        return text

    def to_json(self) -> dict[str, object]:
        """A JSON-able description for snapshots and storage."""
        return {
            "fail_window_seconds": self.fail_window.total_seconds(),
            "warn_window_seconds": (
                None if self.warn_window is None else self.warn_window.total_seconds()
            ),
            "cron_schedule": self.cron_schedule,
            "cron_schedule_timezone": self.cron_schedule_timezone,
        }


_new_freshness_policy = builder(FreshnessPolicy)


def _short(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_CRON_FIELD_CHARS = set("0123456789*/,-?LW#ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def validate_cron(expression: str, where: str) -> None:
    """Check a cron string's shape: five fields (or an @alias) of cron characters."""
    text = expression.strip()
    if text in _CRON_ALIASES:
        return
    fields = text.split()
    if len(fields) != 5 or not all(set(f) <= _CRON_FIELD_CHARS for f in fields):
        raise InvalidDefinitionError(
            f"{where}: {expression!r} is not a cron schedule; write five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 9 * * *', or @daily"
        )


class Backoff(Enum):
    """How the delay between retries grows."""

    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(Enum):
    """Randomness added to each retry delay, so retries of many steps spread out."""

    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


@record(init=False)
class RetryPolicy:
    """Retry a failed step up to ``max_retries`` times, waiting ``delay`` seconds between."""

    max_retries: int = 1
    delay: float | None = None
    backoff: Backoff | None = None
    jitter: Jitter | None = None

    def __new__(
        cls,
        max_retries: int = 1,
        delay: float | None = None,
        backoff: Backoff | None = None,
        jitter: Jitter | None = None,
    ) -> RetryPolicy:
        if max_retries < 0:
            raise InvalidDefinitionError(
                f"RetryPolicy(max_retries={max_retries}): must be 0 or more"
            )
        if delay is not None and delay < 0:
            raise InvalidDefinitionError(f"RetryPolicy(delay={delay}): must be 0 or more")
        if backoff is not None and not delay:
            raise InvalidDefinitionError("RetryPolicy: backoff= needs a delay= to grow from")
        return _new_retry_policy(
            max_retries=max_retries, delay=delay, backoff=backoff, jitter=jitter
        )

    def delay_for(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        base = self.delay or 0.0
        if self.backoff is Backoff.LINEAR:
            base *= attempt
        elif self.backoff is Backoff.EXPONENTIAL:
            base *= 2 ** (attempt - 1)
        rng = rng or random.Random()
        if self.jitter is Jitter.FULL:
            return rng.random() * base
        if self.jitter is Jitter.PLUS_MINUS:
            return max(0.0, base + rng.uniform(-1, 1) * (self.delay or 0.0))
        return base

    def to_json(self) -> dict[str, object]:
        """A JSON-able description for snapshots."""
        return {
            "max_retries": self.max_retries,
            "delay": self.delay,
            "backoff": None if self.backoff is None else self.backoff.value,
            "jitter": None if self.jitter is None else self.jitter.value,
        }


_new_retry_policy = builder(RetryPolicy)
