"""customer_cancel: before shipment cancel + refund; shipped domestic intercept (refund only on success);
shipped international: no interception, no refund, tell the buyer."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    HOUR,
    T0,
    US,
    briefs,
    cancel_requested,
    customer_refunds,
    delivered,
    intercept_result,
    placed,
    run,
    run_full,
    shipped,
)

S = T0 + DAY
C = S + HOUR
R = "customer_cancel"
REFUND = ("refund", R, "customer", "100.00", None)
INTERCEPT = ("intercept", R, None, None, None)


def order(dest="CN", *, ship=True):
    evs = [placed(order_id="X1", dest=dest)]
    return [*evs, shipped(order_id="X1", at=S)] if ship else evs


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            [*order(ship=False), cancel_requested(order_id="X1", at=C)],
            C + 60 * DAY,
            [("cancel_supplier_order", R, None, None, None), REFUND],
            id="not shipped yet: cancel the supplier order and refund",
        ),
        pytest.param(
            [*order(dest="US", ship=False), cancel_requested(order_id="X1", at=C)],
            C,
            [("cancel_supplier_order", R, None, None, None), REFUND],
            id="not shipped yet, international: the same",
        ),
        pytest.param(
            [*order(), cancel_requested(order_id="X1", at=C)],
            C + HOUR,
            [INTERCEPT],
            id="shipped domestic: intercept, no refund yet",
        ),
        pytest.param(
            [*order(), cancel_requested(order_id="X1", at=C), intercept_result(True, order_id="X1", at=C + DAY)],
            C + 30 * DAY,
            [INTERCEPT, REFUND],
            id="interception succeeded: refund",
        ),
        pytest.param(
            [*order(), cancel_requested(order_id="X1", at=C), intercept_result(False, order_id="X1", at=C + DAY)],
            C + 30 * DAY,
            [INTERCEPT, ("notify_customer", R, None, None, "interception_failed")],
            id="interception failed: tell the buyer, no refund",
        ),
        pytest.param(
            [*order(), cancel_requested(order_id="X1", at=C)],
            C + 3 * DAY + US,
            [INTERCEPT, ("escalate", R, None, None, "interception_overdue")],
            id="no interception result in 3 days: escalate",
        ),
        pytest.param(
            [*order(), cancel_requested(order_id="X1", at=C), cancel_requested(order_id="X1", at=C + HOUR)],
            C + 2 * HOUR,
            [INTERCEPT],
            id="cancelled twice: one interception",
        ),
        pytest.param(
            [*order(dest="US"), cancel_requested(order_id="X1", at=C)],
            C + 30 * DAY,
            [("notify_customer", R, None, None, "international_no_interception")],
            id="shipped international: no interception, no refund, tell the buyer",
        ),
        pytest.param(
            [*order(), delivered(order_id="X1", at=S + DAY), cancel_requested(order_id="X1", at=S + 2 * DAY)],
            S + 3 * DAY,
            [("notify_customer", R, None, None, "already_delivered")],
            id="already delivered: nothing to intercept, tell the buyer",
        ),
        pytest.param(
            [*order(), intercept_result(True, order_id="X1", at=C)],
            C + HOUR,
            [],
            id="an interception result nobody asked for: nothing",
        ),
    ],
)
def test_customer_cancel(events, until, expected):
    actions = run(events, until=until)
    assert briefs([a for a in actions if a.rule == R]) == expected
    assert len(customer_refunds(actions)) <= 1


def test_cancel_before_shipment_stops_the_overdue_checks():
    result = run_full([*order(ship=False), cancel_requested(order_id="X1", at=C)], until=C + 59 * DAY)
    assert [a.rule for a in result.actions] == [R, R]
    assert result.state("X1").stage == "cancelled"


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            [placed(), cancel_requested(at=C)],
            C + DAY,
            [("cancel_supplier_order", C), ("refund", C)],
            id="before shipment: at the cancellation",
        ),
        pytest.param(
            [placed(), shipped(at=S), cancel_requested(at=C), intercept_result(True, at=C + 2 * DAY)],
            C + 5 * DAY,
            [("intercept", C), ("refund", C + 2 * DAY)],
            id="the refund at the carrier's result, not at the request",
        ),
        pytest.param(
            [placed(), shipped(at=S), cancel_requested(at=C)],
            C + 5 * DAY,
            [("intercept", C), ("escalate", C + 3 * DAY)],
            id="no result: escalated at the deadline",
        ),
    ],
)
def test_decision_times(events, until, expected):
    assert [(a.type, a.decided_at) for a in run(events, until=until) if a.rule == R] == expected
