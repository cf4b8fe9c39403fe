"""Exponential backoff with full jitter, and Retry-After as a floor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.executor.backoff import backoff_delay, parse_retry_after

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retry", "draw", "retry_after", "expected"),
    [
        (1, 0.0, None, 0.0),
        (1, 0.5, None, 0.5),  # ceiling base * 2**0 = 1
        (2, 0.5, None, 1.0),  # ceiling 2
        (4, 0.5, None, 4.0),  # ceiling 8
        (10, 0.5, None, 30.0),  # ceiling capped at 60
        (200, 0.999, None, 59.94),  # no overflow on a huge retry count
        (1, 0.1, 7.0, 7.0),  # Retry-After is a floor
        (10, 0.9, 7.0, 54.0),  # ... not a ceiling
        (1, 0.1, 86_400.0, 3600.0),  # shortened to retry_after_max
        (1, 0.1, 0.0, 0.1),
    ],
)
def test_backoff_delay(retry: int, draw: float, retry_after: float | None, expected: float) -> None:
    got = backoff_delay(retry, base=1.0, cap=60.0, draw=draw, retry_after=retry_after, retry_after_max=3600)
    assert got == pytest.approx(expected)


def test_full_jitter_stays_within_the_ceiling() -> None:
    for retry in range(1, 12):
        ceiling = min(60.0, 2.0 ** (retry - 1))
        assert backoff_delay(retry, 1.0, 60.0, 0.999999) <= ceiling


@pytest.mark.parametrize(("retry", "draw"), [(0, 0.5), (1, 1.0), (1, -0.1)])
def test_bad_arguments(retry: int, draw: float) -> None:
    with pytest.raises(ValueError):
        backoff_delay(retry, 1.0, 60.0, draw)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("120", 120.0),
        (" 3 ", 3.0),
        ("Wed, 11 Nov 2026 12:00:30 GMT", 30.0),
        ("Wed, 11 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("-5", None),
        ("", None),
        ("\u00b2", None),  # a digit to str.isdigit, not to float(): a receiver's junk is ignored, not a crash
        ("9" * 400, 86_400.0),  # not infinity
        ("Fri, 31 Dec 9999 23:59:59 GMT", 86_400.0),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected
