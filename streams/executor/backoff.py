"""Retry delays: exponential backoff with full jitter, and the receiver's `Retry-After`.

Pure: the random draw and the current time are arguments.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 86_400.0
"""A `Retry-After` is read as at most a day (`retry_after_max_seconds` shortens it further): a 400-digit one
is a day, not infinity."""


def backoff_delay(
    retry: int, base: float, cap: float, draw: float, retry_after: float | None = None, retry_after_max: float = 3600
) -> float:
    """Seconds to wait before retry number `retry` (1 = the wait after the first failed attempt).

    Full jitter: `draw` (uniform in [0, 1)) times min(cap, base * 2**(retry-1)).
    A `Retry-After` from the receiver is a floor, not a suggestion: the delay is
    at least that, and at most `retry_after_max` (a receiver asking for a day is
    not left holding the partition for a day).
    """
    if retry < 1:
        raise ValueError("retry counts from 1")
    if not 0 <= draw < 1:
        raise ValueError("draw must be in [0, 1)")
    ceiling = min(cap, base * 2.0 ** min(retry - 1, 62))
    delay = draw * ceiling
    if retry_after is not None:
        delay = max(delay, min(retry_after, retry_after_max))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` in seconds from now: delta-seconds or an HTTP date; None when absent or unreadable.

    A date in the past means "now" (0). `now` must be timezone-aware.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit also takes "²", which float() refuses
        return min(float(text), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return min(MAX_RETRY_AFTER, max(0.0, (when - now).total_seconds()))
