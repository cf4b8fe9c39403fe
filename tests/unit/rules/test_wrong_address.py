"""wrong_address: the same path as customer_cancel, from `order.address_invalid` or a "wrong address" dispute."""

from __future__ import annotations

import pytest

from tests.factories import DAY, HOUR, T0, US, address_invalid, briefs, dispute, intercept_result, placed, run, shipped

S = T0 + DAY
C = S + HOUR
R = "wrong_address"
REFUND = ("refund", R, "customer", "100.00", None)
INTERCEPT = ("intercept", R, None, None, None)


def order(dest="CN", *, ship=True):
    evs = [placed(order_id="Y1", dest=dest)]
    return [*evs, shipped(order_id="Y1", at=S)] if ship else evs


@pytest.mark.parametrize(
    "report", [address_invalid, lambda **kw: dispute("wrong_address", **kw)], ids=["address event", "dispute"]
)
@pytest.mark.parametrize(
    ("dest", "ship", "result", "until", "expected"),
    [
        pytest.param(
            "CN",
            False,
            None,
            C,
            [("cancel_supplier_order", R, None, None, None), REFUND],
            id="before shipment: cancel, refund",
        ),
        pytest.param("CN", True, True, C + 10 * DAY, [INTERCEPT, REFUND], id="shipped domestic, intercepted: refund"),
        pytest.param(
            "CN",
            True,
            False,
            C + 10 * DAY,
            [INTERCEPT, ("notify_customer", R, None, None, "interception_failed")],
            id="shipped domestic, interception failed: tell the buyer, no refund",
        ),
        pytest.param(
            "CN",
            True,
            None,
            C + 3 * DAY + US,
            [INTERCEPT, ("escalate", R, None, None, "interception_overdue")],
            id="no result: escalate",
        ),
        pytest.param(
            "US",
            True,
            None,
            C + 10 * DAY,
            [("notify_customer", R, None, None, "international_no_interception")],
            id="shipped international: tell the buyer, no refund",
        ),
    ],
)
def test_wrong_address(report, dest, ship, result, until, expected):
    events = [*order(dest, ship=ship), report(order_id="Y1", at=C)]
    if result is not None:
        events.append(intercept_result(result, order_id="Y1", at=C + DAY))
    assert briefs([a for a in run(events, until=until) if a.rule == R]) == expected


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            [*order(ship=False), address_invalid(order_id="Y1", at=C)],
            C + DAY,
            [("cancel_supplier_order", C), ("refund", C)],
            id="before shipment: at the report",
        ),
        pytest.param(
            [*order(), address_invalid(order_id="Y1", at=C), intercept_result(True, order_id="Y1", at=C + DAY)],
            C + 2 * DAY,
            [("intercept", C), ("refund", C + DAY)],
            id="intercepted: the refund at the carrier's result",
        ),
        pytest.param(
            [*order(), address_invalid(order_id="Y1", at=C)],
            C + 4 * DAY,
            [("intercept", C), ("escalate", C + 3 * DAY)],
            id="no result: escalated at the deadline",
        ),
    ],
)
def test_decision_times(events, until, expected):
    assert [(a.type, a.decided_at) for a in run(events, until=until) if a.rule == R] == expected
