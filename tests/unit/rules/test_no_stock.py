"""no_stock: supplier refund of the original purchase, then reorder elsewhere; none left → refund the customer."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    HOUR,
    T0,
    briefs,
    cancel_requested,
    out_of_stock,
    placed,
    policy_with,
    reordered,
    run,
    run_full,
    shipped,
    supplier_ordered,
)

P = placed(marketplace="jd", order_id="N1")
ORDERED = supplier_ordered(order_id="N1", at=T0 + HOUR, cost="60.00")


def n1(event_fn, **kw):
    return event_fn(order_id="N1", **kw)


SUPPLIER_REFUND_60 = ("refund", "no_stock", "supplier", "60.00", None)
REORDER = ("reorder", "no_stock", "supplier", None, None)
CUSTOMER_REFUND = ("refund", "no_stock", "customer", "100.00", None)
TELL_BUYER = ("notify_customer", "no_stock", None, None, "no_alternative_supplier")


@pytest.mark.parametrize(
    ("events", "policy", "expected"),
    [
        pytest.param(
            [P, ORDERED, n1(out_of_stock, at=T0 + DAY)],
            None,
            [SUPPLIER_REFUND_60, REORDER],
            id="no stock: supplier refund then reorder",
        ),
        pytest.param(
            [P, ORDERED, n1(out_of_stock, at=T0 + DAY), n1(out_of_stock, at=T0 + DAY + HOUR)],
            None,
            [SUPPLIER_REFUND_60, REORDER],
            id="a second report while the reorder is unconfirmed changes nothing",
        ),
        pytest.param(
            [
                P,
                ORDERED,
                n1(out_of_stock, at=T0 + DAY),
                n1(reordered, at=T0 + 2 * DAY, cost="70.00"),
                n1(out_of_stock, at=T0 + 3 * DAY),
            ],
            None,
            [
                SUPPLIER_REFUND_60,
                REORDER,
                ("refund", "no_stock", "supplier", "70.00", None),
                CUSTOMER_REFUND,
                TELL_BUYER,
            ],
            id="the alternative is out of stock too: refund the customer and tell them",
        ),
        pytest.param(
            [P, ORDERED, n1(out_of_stock, at=T0 + DAY)],
            policy_with({"max_reorder_attempts": 0}),
            [SUPPLIER_REFUND_60, CUSTOMER_REFUND, TELL_BUYER],
            id="no alternative allowed by the policy: refund at once",
        ),
        pytest.param(
            [
                P,
                ORDERED,
                n1(out_of_stock, at=T0 + DAY),
                n1(reordered, at=T0 + 2 * DAY, cost="70.00"),
                n1(out_of_stock, at=T0 + 3 * DAY),
            ],
            policy_with({"max_reorder_attempts": 2}),
            [SUPPLIER_REFUND_60, REORDER, ("refund", "no_stock", "supplier", "70.00", None), REORDER],
            id="two alternatives allowed: a second reorder",
        ),
        pytest.param(
            [P, ORDERED, n1(shipped, at=T0 + DAY), n1(out_of_stock, at=T0 + 2 * DAY)],
            None,
            [],
            id="already shipped: nothing",
        ),
        pytest.param(
            [P, n1(cancel_requested, at=T0 + HOUR), n1(out_of_stock, at=T0 + 2 * HOUR)],
            None,
            [],
            id="already cancelled: nothing more",
        ),
    ],
)
def test_no_stock(events, policy, expected):
    actions = [a for a in run(events, policy=policy) if a.rule == "no_stock"]
    assert briefs(actions) == expected


def test_reorder_numbers_the_attempt_and_resets_the_ship_by():
    result = run_full([P, ORDERED, n1(out_of_stock, at=T0 + DAY)])
    reorder = next(a for a in result.actions if a.type == "reorder")
    assert reorder.attempt == 1
    state = result.state("N1")
    assert state.supplier_attempt == 1 and not state.supplier_ordered
    assert state.ship_by == T0 + DAY + 72 * HOUR


def test_the_customer_refund_cancels_the_order_and_its_pre_shipment_checks():
    result = run_full([P, ORDERED, n1(out_of_stock, at=T0 + DAY)], policy=policy_with({"max_reorder_attempts": 0}))
    state = result.state("N1")
    assert state.cancelled_at == T0 + DAY
    assert {d.rule for d in state.deadlines} == {"retire"}
    # and the clock adds nothing afterwards
    later = run(
        [P, ORDERED, n1(out_of_stock, at=T0 + DAY)],
        until=T0 + 30 * DAY,
        policy=policy_with({"max_reorder_attempts": 0}),
    )
    assert len(later) == 3
