"""buyer_remorse: a return for the buyer's own reason; costlier than 30% of the order → a coupon instead."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import (
    DAY,
    T0,
    briefs,
    closed,
    customer_refunds,
    delivered,
    dispute,
    evidence,
    item,
    placed,
    return_received,
    return_shipped,
    run,
    shipped,
)

S = T0 + DAY
OPEN = S + 5 * DAY
R = "buyer_remorse"


def order(return_cost=None, quantity=None, *events, amount="100.00"):
    return [
        placed(order_id="B1", amount=amount),
        shipped(order_id="B1", at=S),
        delivered(order_id="B1", at=S + 2 * DAY),
        dispute("buyer_remorse", order_id="B1", at=OPEN, return_cost=return_cost, quantity=quantity),
        *events,
    ]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(order("10.00"), [("accept_return", R, None, None, None)], id="cheap return (10 of 100): accept"),
        pytest.param(
            order("30.00"), [("accept_return", R, None, None, None)], id="exactly 30% of the order: still accept"
        ),
        pytest.param(
            order("30.01"), [("offer_coupon", R, "customer", "10.00", None)], id="above 30%: coupon of 10% instead"
        ),
        pytest.param(
            order("80.00", amount="250.00"),
            [("offer_coupon", R, "customer", "25.00", None)],
            id="coupon is 10% of the order",
        ),
        pytest.param(order(None), [("accept_return", R, None, None, None)], id="return cost unknown: accept"),
    ],
)
def test_return_or_coupon(events, expected):
    actions = run(events, until=OPEN + DAY)
    assert briefs(actions) == expected
    assert not customer_refunds(actions)


def test_accepted_return_refunds_when_the_goods_arrive():
    actions = run(
        order(
            "10.00",
            None,
            return_shipped(order_id="B1", at=OPEN + DAY),
            return_received(order_id="B1", at=OPEN + 5 * DAY),
        )
    )
    assert briefs(customer_refunds(actions)) == [("refund", "return_windows", "customer", "100.00", None)]


def test_partial_return_of_a_retail_order_is_not_capped():
    events = [
        placed(order_id="B2", amount="100.00", items=[item(quantity=4, unit_price="25.00")]),
        shipped(order_id="B2", at=S),
        dispute("buyer_remorse", order_id="B2", at=OPEN, quantity=3, return_cost="5.00"),
        return_shipped(order_id="B2", at=OPEN + DAY),
        return_received(order_id="B2", at=OPEN + 3 * DAY),
    ]
    actions = run(events)
    assert [(a.type, a.quantity) for a in actions if a.type == "accept_return"] == [("accept_return", 3)]
    assert [str(a.amount) for a in customer_refunds(actions)] == ["75.00"]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(order("10.00"), [("accept_return", OPEN)], id="accepted at the dispute"),
        pytest.param(order("30.01"), [("offer_coupon", OPEN)], id="coupon at the dispute"),
    ],
)
def test_decision_times(events, expected):
    assert [(a.type, a.decided_at) for a in run(events) if a.rule == R] == expected


def test_the_coupon_is_in_the_order_s_currency():
    (coupon,) = [a for a in run(order("30.01")) if a.type == "offer_coupon"]
    assert (coupon.party, coupon.amount, coupon.currency) == ("customer", Decimal("10.00"), "CNY")


def test_evidence_on_a_return_for_the_buyer_s_own_reason_changes_nothing():
    events = order("10.00", None, evidence(order_id="B1", at=OPEN + DAY))
    assert [a.type for a in run(events) if a.rule == R] == ["accept_return"]


def test_two_returns_for_the_buyer_s_own_reason_are_two_decisions():
    events = [
        *order("10.00", 1, closed(order_id="B1", at=OPEN + DAY), amount="200.00"),
        dispute("buyer_remorse", order_id="B1", at=OPEN + 2 * DAY, return_cost="10.00", quantity=1),
        closed(order_id="B1", at=OPEN + 3 * DAY),
        dispute("buyer_remorse", order_id="B1", at=OPEN + 4 * DAY, return_cost="150.00"),
        closed(order_id="B1", at=OPEN + 5 * DAY),
        dispute("buyer_remorse", order_id="B1", at=OPEN + 6 * DAY, return_cost="150.00"),
    ]
    decided = [a for a in run(events) if a.rule == R]
    assert [a.type for a in decided] == ["accept_return", "accept_return", "offer_coupon", "offer_coupon"]
    assert len({a.action_id for a in decided}) == 4
