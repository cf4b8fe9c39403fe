"""The refund breaker's arithmetic, with time as an argument."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from streams.executor.breaker import RefundBook, Sent, check_refund
from streams.executor.config import Breaker, CurrencyLimits, StoreBreaker

NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
LIMITS = CurrencyLimits(single=Decimal("500"), per_hour=Decimal("1000"), min_hourly_baseline=Decimal("0"))


def ago(minutes: float, amount: str) -> Sent:
    return Sent(NOW - timedelta(minutes=minutes), Decimal(amount))


# A store that refunds 10/hour on average for a week: 167 hours before the current one.
STEADY = [ago(60 * h + 30, "10") for h in range(1, 168)]


@pytest.mark.parametrize(
    ("history", "amount", "limits", "multiple", "hold", "why"),
    [
        ([], "25", LIMITS, 5.0, False, "within limits"),
        ([], "500", LIMITS, 5.0, False, "within limits"),  # the single limit is inclusive
        ([], "500.01", LIMITS, 5.0, True, "single-refund limit"),
        ([ago(10, "900")], "100", LIMITS, 5.0, False, "within limits"),  # exactly per_hour
        ([ago(10, "900")], "100.01", LIMITS, 5.0, True, "exceed the limit 1000"),
        ([ago(60, "900")], "200", LIMITS, 1000.0, False, "within limits"),  # 60 min ago: outside the hour
        ([ago(59.9, "900")], "200", LIMITS, 5.0, True, "exceed the limit"),
        ([ago(-1, "900")], "200", LIMITS, 5.0, False, "within limits"),  # a future record is not counted
        (STEADY, "50", LIMITS, 5.0, False, "within limits"),  # 50 = 5 x usual 10
        (STEADY, "50.01", LIMITS, 5.0, True, "more than 5x the usual 10.00"),
        ([*STEADY, ago(5, "40")], "10.01", LIMITS, 5.0, True, "more than 5x"),
        (STEADY, "60", LIMITS, 10.0, False, "within limits"),
        ([], "100", LIMITS.model_copy(update={"min_hourly_baseline": Decimal("10")}), 5.0, True, "5x the usual 10"),
        ([], "50", LIMITS.model_copy(update={"min_hourly_baseline": Decimal("10")}), 5.0, False, "within"),
        ([], "1", None, 5.0, True, "no refund limits configured for USD"),
    ],
)
def test_check_refund(history, amount, limits, multiple, hold, why) -> None:  # type: ignore[no-untyped-def]
    verdict = check_refund(history, Decimal(amount), "USD", NOW, limits, multiple, baseline_hours=168)
    assert verdict.hold is hold
    assert why in verdict.reason


def test_usual_rate_ignores_history_older_than_the_baseline() -> None:
    old = [Sent(NOW - timedelta(hours=200), Decimal("100000"))]
    assert check_refund(old, Decimal("1"), "USD", NOW, LIMITS, 5.0, 168).usual_hourly == 0


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        check_refund([], Decimal("1"), "USD", datetime(2026, 1, 1), LIMITS, 5.0, 168)  # noqa: DTZ001


def test_book_counts_each_action_once_per_store_and_currency() -> None:
    breaker = Breaker(
        limits={"USD": LIMITS},
        stores={"big": StoreBreaker(limits={"USD": LIMITS.model_copy(update={"per_hour": Decimal("5000")})})},
    )
    book = RefundBook(breaker)
    for _ in range(3):  # the outcome topic replayed: same action id, counted once
        book.record("act-1", "small", "USD", Decimal("600"), NOW - timedelta(minutes=5))
    assert book.check("small", "USD", Decimal("400"), NOW).hold is False
    assert book.check("small", "USD", Decimal("400.01"), NOW).hold is True
    assert book.check("other", "USD", Decimal("400.01"), NOW).hold is False  # per store
    assert book.check("small", "EUR", Decimal("1"), NOW).hold is True  # no EUR limits
    book.record("act-2", "big", "USD", Decimal("490"), NOW - timedelta(minutes=5))
    for i in range(8):
        book.record(f"act-b{i}", "big", "USD", Decimal("490"), NOW - timedelta(minutes=6 + i))
    assert book.check("big", "USD", Decimal("400"), NOW).hold is False  # 4810 < 5000
    book.forget("act-1")
    assert book.check("small", "USD", Decimal("500"), NOW).hold is False


def test_book_forgets_what_left_the_baseline_window() -> None:
    book = RefundBook(Breaker(limits={"USD": LIMITS}, baseline_hours=2))
    book.record("act-1", "s", "USD", Decimal("900"), NOW - timedelta(minutes=30))
    assert book.check("s", "USD", Decimal("200"), NOW).hold is True
    assert book.check("s", "USD", Decimal("200"), NOW + timedelta(hours=3)).hold is False
