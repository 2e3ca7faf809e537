"""Cron schedules evaluated: the next tick after a moment, in a timezone.

The one place flowdev calls croniter, so its errors (``ValueError`` subclasses, and
``KeyError`` for some day-of-week forms) and zoneinfo's unknown-zone ``KeyError`` become
a `CronError` that says which string is wrong and how to write it. croniter and dateutil
cost ~25 ms to import: they are imported on the first call, never by ``import flowdev``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from flowdev.errors import CronError

CRON_HINT = (
    "Write five fields 'minute hour day-of-month month day-of-week' within their ranges"
    " (minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6) on a date that exists,"
    " e.g. '0 9 * * *', or an alias such as @daily."
)


def zone(timezone: str | None) -> tzinfo:
    """The IANA zone ``timezone`` (UTC when None or empty), else `CronError`."""
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(timezone or "UTC")
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise CronError(
            f"timezone {timezone!r} is unknown; use an IANA name such as 'Europe/Berlin'"
        ) from None


def next_tick(cron: str, after: datetime | float, timezone: str | None = None) -> datetime:
    """The first moment strictly after ``after`` (a datetime or a POSIX timestamp) that
    ``cron`` names, evaluated in ``timezone``; `CronError` if either cannot be used."""
    from croniter import croniter

    start = (
        datetime.fromtimestamp(after, zone(timezone))
        if isinstance(after, int | float)
        else after.astimezone(zone(timezone))
    )
    try:
        tick: datetime = croniter(cron, start).get_next(datetime)
    except (ValueError, KeyError) as error:  # croniter's errors are ValueErrors
        raise CronError(f"cron schedule {cron!r} is not valid ({error}). {CRON_HINT}") from None
    return tick
