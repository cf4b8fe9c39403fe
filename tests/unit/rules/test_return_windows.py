"""return_windows: 10 days for the return tracking number, else close in the seller's favour; abandon the return
(refund at once) when shipping it back costs more than the goods; received → refund."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    T0,
    US,
    briefs,
    customer_refunds,
    dispute,
    placed,
    return_accepted,
    return_received,
    return_shipped,
    run,
    shipped,
)

S = T0 + DAY
OPEN = S + 3 * DAY
R = "return_windows"


def accepted(*events, reason="quality"):
    return [placed(order_id="V1"), shipped(order_id="V1", at=S), dispute(reason, order_id="V1", at=OPEN), *events]


def ev(fn, days, **kw):
    return fn(order_id="V1", at=OPEN + days * DAY, **kw)


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            accepted(),
            OPEN + 10 * DAY + US,
            [("close_dispute", R, None, None, None)],
            id="no tracking in 10 days: close",
        ),
        pytest.param(accepted(), OPEN + 10 * DAY, [], id="exactly 10 days: not yet"),
        pytest.param(accepted(ev(return_shipped, 9)), OPEN + 11 * DAY, [], id="tracking on day 9: stays open"),
        pytest.param(accepted(ev(return_shipped, 10)), OPEN + 11 * DAY, [], id="tracking at exactly 10 days: in time"),
        pytest.param(
            accepted(ev(return_shipped, 2), ev(return_received, 6)),
            OPEN + 60 * DAY,
            [("refund", R, "customer", "100.00", None)],
            id="returned goods received: refund",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2, return_cost="100.01")),
            OPEN + 60 * DAY,
            [("abandon_return", R, "customer", "100.00", None)],
            id="return costs more than the order: abandon, buyer refunded at once",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2, return_cost="100.00")),
            OPEN + 2 * DAY + US,
            [],
            id="return costs exactly the order value: no abandon",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2, return_cost="150.00"), ev(return_received, 6)),
            OPEN + 60 * DAY,
            [("abandon_return", R, "customer", "100.00", None)],
            id="goods arriving after an abandon: no second refund",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2)),
            OPEN + 32 * DAY + US,
            [("escalate", R, None, None, "return_not_received")],
            id="shipped back but not received in 30 days: a person decides",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2)), OPEN + 32 * DAY, [], id="exactly 30 days after shipping back: not yet"
        ),
        pytest.param(
            accepted(ev(return_accepted, 1), reason="not_as_described"),
            OPEN + 11 * DAY + US,
            [("close_dispute", R, None, None, None)],
            id="a return accepted by the platform starts the same window",
        ),
    ],
)
def test_return_windows(events, until, expected):
    actions = run(events, until=until)
    assert briefs([a for a in actions if a.rule == R]) == expected
    assert len(customer_refunds(actions)) <= 1


def test_abandon_carries_the_cause_and_closes_the_case():
    actions = run(accepted(ev(return_shipped, 2, return_cost="120.00")))
    (abandon,) = [a for a in actions if a.type == "abandon_return"]
    assert abandon.cause == "dispute-1" and abandon.currency == "CNY"
