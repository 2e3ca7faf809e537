"""flowdev.cron: the one door to croniter, whose errors become CronError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flowdev.cron import next_tick
from flowdev.errors import CronError, FlowdevError


def test_the_next_tick_is_strictly_after_the_moment_in_the_zone() -> None:
    nine_am = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert next_tick("0 9 * * *", nine_am) == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    berlin = next_tick("0 9 * * *", nine_am, "Europe/Berlin")
    assert berlin.utcoffset() is not None and berlin.astimezone(UTC).hour == 8


def test_a_timestamp_works_as_the_moment() -> None:
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert next_tick("@hourly", moment.timestamp()) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("cron", ["0 25 * * *", "61 * * * *", "0 0 31 2 *", "every day"])
def test_a_cron_string_croniter_refuses_is_a_cron_error_naming_it(cron: str) -> None:
    with pytest.raises(CronError, match="is not valid") as caught:
        next_tick(cron, 0.0)
    assert repr(cron) in str(caught.value) and "five fields" in str(caught.value)
    assert isinstance(caught.value, FlowdevError)


def test_an_unknown_timezone_is_a_cron_error_naming_it() -> None:
    with pytest.raises(CronError, match="'Mars/Olympus' is unknown"):
        next_tick("0 9 * * *", 0.0, "Mars/Olympus")
