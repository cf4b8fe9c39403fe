"""non_quality_return_cap: a wholesale store caps non-quality returns at 10% of the units, and says so up front."""

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

R = "non_quality_return_cap"


def wholesale(units=50, marketplace="1688", is_wholesale=True):
    return placed(
        order_id="H1",
        marketplace=marketplace,
        wholesale=is_wholesale,
        amount=f"{units * 10}.00",
        items=[item(quantity=units, unit_price="10.00", weight_kg=0.1)],
    )


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        pytest.param(
            wholesale(),
            [("notify_customer", R, None, None, "non_quality_return_cap")],
            id="1688 wholesale: tell the cap up front",
        ),
        pytest.param(wholesale(is_wholesale=False), [], id="1688 retail order: no cap"),
        pytest.param(wholesale(marketplace="tmall"), [], id="wholesale on a marketplace without a cap: none"),
    ],
)
def test_cap_notice_before_the_order(order, expected):
    actions = run([order])
    assert briefs([a for a in actions if a.rule == R]) == expected
    assert all(a.decided_at == T0 for a in actions if a.rule == R)


@pytest.mark.parametrize(
    ("units", "asked", "accepted", "rule"),
    [
        pytest.param(50, 20, 5, R, id="remorse return of 20 of 50: accept 5"),
        pytest.param(50, 5, 5, "buyer_remorse", id="5 of 50 is within the cap"),
        pytest.param(50, 6, 5, R, id="6 of 50: capped to 5"),
        pytest.param(50, None, 5, R, id="quantity not given means all: capped to 5"),
        pytest.param(5, 3, 1, R, id="a small order still allows 1 unit"),
    ],
)
def test_partial_return_up_to_the_cap(units, asked, accepted, rule):
    events = [
        wholesale(units),
        shipped(order_id="H1", at=T0 + DAY),
        dispute("buyer_remorse", order_id="H1", at=T0 + 5 * DAY, quantity=asked, return_cost="1.00"),
    ]
    (action,) = [a for a in run(events) if a.type == "accept_return"]
    assert (action.rule, action.quantity) == (rule, accepted)


def test_refund_covers_only_the_accepted_units():
    events = [
        wholesale(50),
        shipped(order_id="H1", at=T0 + DAY),
        dispute("buyer_remorse", order_id="H1", at=T0 + 5 * DAY, quantity=20, return_cost="1.00"),
        return_shipped(order_id="H1", at=T0 + 6 * DAY),
        return_received(order_id="H1", at=T0 + 9 * DAY),
    ]
    assert [str(a.amount) for a in customer_refunds(run(events))] == ["50.00"]
