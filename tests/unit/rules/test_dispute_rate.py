"""dispute_rate: a ledger entry per placed order and per dispute; disputes / orders over a rolling window per store."""

from __future__ import annotations

import pytest

from rules.store_ledger import apply_entry
from tests.factories import DAY, HOUR, T0, dispute, placed, run_full, shipped


def test_one_entry_per_placed_order_and_per_dispute():
    result = run_full(
        [
            placed(order_id="E1"),
            shipped(order_id="E1", at=T0 + HOUR),
            dispute("damaged", order_id="E1", at=T0 + 2 * DAY),
            placed(order_id="E2", store_id="s2"),
        ]
    )
    entries = [(e.store_id, e.order_id, e.kind) for e in result.ledger if e.kind != "penalty"]
    assert entries == [("s1", "E1", "order_placed"), ("s1", "E1", "dispute_opened"), ("s2", "E2", "order_placed")]
    assert all(e.window_days == 30 and e.alert_at_rate == 0.05 for e in result.ledger)


@pytest.mark.parametrize(
    ("orders", "disputes", "rate", "alert"),
    [
        pytest.param(20, 1, 0.05, True, id="1 dispute in 20 orders: 5%, at the alert line"),
        pytest.param(21, 1, 1 / 21, False, id="1 in 21: below 5%"),
        pytest.param(10, 0, 0.0, False, id="no disputes: 0"),
        pytest.param(4, 2, 0.5, True, id="2 in 4: 50%"),
    ],
)
def test_rate_over_the_window(orders, disputes, rate, alert):
    events = []
    for n in range(orders):
        events += [placed(order_id=f"E{n}", at=T0 + n * HOUR), shipped(order_id=f"E{n}", at=T0 + n * HOUR + HOUR)]
    events += [dispute("misuse", order_id=f"E{n}", at=T0 + 2 * DAY) for n in range(disputes)]
    ledger = run_full(events).stores()["s1"]
    assert (ledger.orders_in_window(), ledger.disputes_in_window()) == (orders, disputes)
    assert ledger.dispute_rate() == pytest.approx(rate)
    assert ledger.dispute_rate_alert is alert


def test_old_days_leave_the_window():
    old = [placed(order_id=f"O{n}", at=T0) for n in range(3)]
    recent = [placed(order_id="N1", at=T0 + 40 * DAY), dispute("misuse", order_id="N1", at=T0 + 41 * DAY)]
    ledger = run_full([*old, *recent]).stores()["s1"]
    assert (ledger.orders_in_window(), ledger.disputes_in_window()) == (1, 1)
    assert ledger.dispute_rate() == 1.0


def test_window_boundary_is_the_last_30_days_by_utc_date():
    # T0 is 2026-03-02 02:00 UTC; an order 29 days before the latest day is in, 30 days before is out
    result = run_full(
        [placed(order_id="F1", at=T0), placed(order_id="F2", at=T0 + DAY), placed(order_id="F3", at=T0 + 30 * DAY)]
    )
    ledger = result.stores()["s1"]
    assert ledger.orders_in_window() == 2


def test_the_ledger_does_not_depend_on_the_order_of_entries():
    events = [placed(order_id=f"G{n}", at=T0 + n * DAY) for n in range(5)]
    events += [dispute("misuse", order_id="G1", at=T0 + 6 * DAY), dispute("misuse", order_id="G3", at=T0 + 7 * DAY)]
    entries = run_full(events).ledger
    forward = backward = None
    for e in entries:
        forward = apply_entry(forward, e)
    for e in reversed(entries):
        backward = apply_entry(backward, e)
    assert forward is not None and backward is not None
    assert forward.dispute_rate() == backward.dispute_rate() == pytest.approx(2 / 5)
    assert forward.days == backward.days
