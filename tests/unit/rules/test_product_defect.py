"""product_defect: the seller's product is at fault → accept the return or exchange at once."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    T0,
    briefs,
    customer_refunds,
    dispute,
    item,
    placed,
    return_received,
    return_shipped,
    run,
    shipped,
)

S = T0 + DAY
OPEN = S + 3 * DAY


@pytest.mark.parametrize(
    ("placed_event", "quantity", "accepted"),
    [
        pytest.param(placed(order_id="Q1"), None, 1, id="quality problem: accept the return at once"),
        pytest.param(
            placed(
                order_id="Q1",
                marketplace="1688",
                wholesale=True,
                items=[item(quantity=50, unit_price="10.00", weight_kg=0.1)],
                amount="500.00",
            ),
            20,
            20,
            id="wholesale quality return of 20 of 50: not capped",
        ),
        pytest.param(
            placed(
                order_id="Q1",
                marketplace="1688",
                wholesale=True,
                items=[item(quantity=50, unit_price="10.00", weight_kg=0.1)],
                amount="500.00",
            ),
            None,
            50,
            id="wholesale quality return, quantity not given: all units",
        ),
    ],
)
def test_accept_return_at_once(placed_event, quantity, accepted):
    actions = run(
        [placed_event, shipped(order_id="Q1", at=S), dispute("quality", order_id="Q1", at=OPEN, quantity=quantity)]
    )
    opened = [a for a in actions if a.decided_at == OPEN]
    assert briefs(opened) == [("accept_return", "product_defect", None, None, None)]
    assert opened[0].quantity == accepted


def test_defective_goods_returned_are_refunded():
    events = [
        placed(order_id="Q2"),
        shipped(order_id="Q2", at=S),
        dispute("quality", order_id="Q2", at=OPEN),
        return_shipped(order_id="Q2", at=OPEN + DAY, return_cost="12.00"),
        return_received(order_id="Q2", at=OPEN + 4 * DAY),
    ]
    assert briefs(customer_refunds(run(events))) == [("refund", "return_windows", "customer", "100.00", None)]
