"""flowdev.durations: one way to say how long, everywhere."""

from __future__ import annotations

import pytest
from flowdev.durations import ago, duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.9, "0s"),
        (45, "45s"),
        (60, "1m 0s"),
        (192, "3m 12s"),
        (3600, "1h 0m"),
        (3 * 3600 + 25 * 60 + 7, "3h 25m"),
        (2 * 86400 + 4 * 3600 + 59, "2d 4h"),
        (-5, "0s"),
    ],
)
def test_a_duration_reads_in_its_two_largest_units(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (12, "12s ago"),
        (59.9, "59s ago"),
        (300, "5m ago"),
        (3 * 3600 + 1, "3h ago"),
        (86400 * 2, "2d ago"),
    ],
)
def test_ago_is_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert ago(seconds) == text


def test_one_unit_or_three() -> None:
    assert duration(3 * 3600 + 25 * 60 + 7, units=1) == "3h"
    assert duration(3 * 3600 + 25 * 60 + 7, units=3) == "3h 25m 7s"
