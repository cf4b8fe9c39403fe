"""Working days in the marketplace's calendar: weekends, public holidays and make-up working days.

Expected dates are counted by hand from the published 2026 CN schedule (and checked against `holidays`):
Mid-Autumn Fri 09-25; National Day 10-01..10-07; make-up working days Sun 09-20 and Sat 10-10.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import add_working_days, is_working_day
from tests.factories import CST

SH = "Asia/Shanghai"


def cst(y, m, d, h=10):
    return datetime(y, m, d, h, 0, tzinfo=CST)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        pytest.param(date(2026, 9, 20), True, id="Sun 2026-09-20 is a make-up working day"),
        pytest.param(date(2026, 9, 27), False, id="Sun 2026-09-27 is an ordinary Sunday"),
        pytest.param(date(2026, 10, 10), True, id="Sat 2026-10-10 is a make-up working day"),
        pytest.param(date(2026, 10, 1), False, id="National Day"),
        pytest.param(date(2026, 10, 7), False, id="the last day of the National Day week"),
        pytest.param(date(2026, 10, 8), True, id="back to work on Thu 10-08"),
        pytest.param(date(2026, 9, 25), False, id="Mid-Autumn Festival"),
        pytest.param(date(2026, 2, 14), True, id="Sat 2026-02-14 before Spring Festival is worked"),
        pytest.param(date(2026, 3, 2), True, id="an ordinary Monday"),
    ],
)
def test_cn_working_days(day, working):
    assert is_working_day(day, "CN") is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        pytest.param(cst(2026, 3, 2), 0, cst(2026, 3, 2), id="0 working days: the same instant"),
        pytest.param(cst(2026, 3, 6), 1, cst(2026, 3, 9), id="Friday + 1: Monday"),
        pytest.param(cst(2026, 3, 6), 5, cst(2026, 3, 13), id="Friday + 5: next Friday"),
        pytest.param(cst(2026, 3, 7), 1, cst(2026, 3, 9), id="Saturday + 1: Monday"),
        pytest.param(cst(2026, 3, 13), 15, cst(2026, 4, 3), id="Fri 03-13 + 15: Fri 04-03 (before Qingming)"),
        pytest.param(cst(2026, 9, 18), 1, cst(2026, 9, 20), id="Fri 09-18 + 1: the make-up Sunday 09-20"),
        pytest.param(cst(2026, 9, 18), 15, cst(2026, 10, 15), id="Fri 09-18 + 15 across National Day: Thu 10-15"),
        pytest.param(cst(2026, 9, 18), 30, cst(2026, 11, 5), id="Fri 09-18 + 30 across National Day: Thu 11-05"),
        pytest.param(cst(2026, 9, 30), 1, cst(2026, 10, 8), id="Wed 09-30 + 1: skips the whole holiday week"),
        pytest.param(cst(2026, 10, 9), 1, cst(2026, 10, 10), id="Fri 10-09 + 1: the make-up Saturday 10-10"),
        pytest.param(cst(2026, 10, 2), 2, cst(2026, 10, 9), id="starting inside the holiday: counted from 10-08"),
    ],
)
def test_add_working_days_cn(start, n, expected):
    assert add_working_days(start, n, "CN", SH) == expected


def test_the_date_is_taken_in_the_calendar_zone():
    # Fri 2026-03-06 20:00 in New York is Sat 09:00 in Shanghai: +1 working day is Monday in CN,
    # and the same instant is Friday in the US calendar (+1 → Monday too, but at New York's time of day).
    ny = datetime(2026, 3, 6, 20, 0, tzinfo=ZoneInfo("America/New_York"))
    assert add_working_days(ny, 1, "CN", SH) == datetime(2026, 3, 9, 9, 0, tzinfo=CST)
    thu_ny = datetime(2026, 3, 5, 20, 0, tzinfo=ZoneInfo("America/New_York"))  # Fri 09:00 in Shanghai
    assert add_working_days(thu_ny, 1, "CN", SH) == datetime(2026, 3, 9, 9, 0, tzinfo=CST)
    assert add_working_days(thu_ny, 1, "US", "America/New_York") == datetime(
        2026, 3, 6, 20, 0, tzinfo=ZoneInfo("America/New_York")
    )


def test_result_keeps_the_offset_of_the_start():
    start = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    result = add_working_days(start, 1, "CN", SH)
    assert result.utcoffset() == timedelta(0)
    assert result == datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
