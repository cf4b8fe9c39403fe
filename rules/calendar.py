"""Working days in a marketplace's calendar (weekends, public holidays, make-up working days).

The `holidays` library knows them, China's make-up working weekends included
(2026-02-14 and 2026-02-28 are working Saturdays). A working day is a date in
the calendar's time zone, so the same instant can be Friday in New York and
Saturday in Shanghai.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays


@lru_cache(maxsize=64)
def _calendar(country: str) -> holidays.HolidayBase:
    # expand=True (the default) adds years lazily as dates are asked about
    return holidays.country_holidays(country)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65536)
def _nth_working_day(country: str, start: date, n: int) -> date:
    return _calendar(country).get_nth_working_day(start, n)


def is_working_day(day: date, country: str) -> bool:
    return bool(_calendar(country).is_working_day(day))


def add_working_days(start: datetime, n: int, country: str, timezone: str) -> datetime:
    """The same local time of day, `n` working days after `start`'s local date (n ≥ 0).

    "Within 15 working days of verification on Friday 2026-09-18 (CN)" is
    2026-10-15: the National Day week is skipped, the make-up Sunday 09-20 counts.
    """
    zone = _zone(timezone)
    local = start.astimezone(zone)
    if n <= 0:
        return start
    target = _nth_working_day(country, local.date(), n)
    return datetime.combine(target, local.timetz()).astimezone(start.tzinfo)
