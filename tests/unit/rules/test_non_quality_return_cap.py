"""non_quality_return_cap: a wholesale store caps non-quality returns at 10% of the units, and says so up front."""

from __future__ import annotations

import pytest

from models.actions import action_id_for
from tests.factories import (
    DAY,
    T0,
    briefs,
    closed,
    customer_refunds,
    dispute,
    item,
    placed,
    return_received,
    return_shipped,
    run,
    run_full,
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


OVER = ("notify_customer", R, None, None, "non_quality_return_cap_exceeded")
REACHED = ("notify_customer", R, None, None, "non_quality_return_cap_reached")


@pytest.mark.parametrize(
    ("units", "returns", "expected"),
    [
        pytest.param(
            100,
            [dict(quantity=15)],
            [("accept_return", R, None, None, None), OVER, ("refund", "return_windows", "customer", "100.00", None)],
            id="15 of 100 on 1688: 10 accepted and refunded, the buyer told the other 5 stay",
        ),
        pytest.param(
            100,
            [dict(quantity=15, amount_claimed="150.00")],
            [("accept_return", R, None, None, None), OVER, ("refund", "return_windows", "customer", "100.00", None)],
            id="a claim for all 15 units is refunded for the 10 accepted only",
        ),
        pytest.param(
            100,
            [dict(quantity=10, amount_claimed="40.00")],
            [
                ("accept_return", "buyer_remorse", None, None, None),
                ("refund", "return_windows", "customer", "40.00", None),
            ],
            id="within the cap, a smaller claim is what is refunded",
        ),
        pytest.param(
            100,
            [dict(quantity=15, ship_cost="1500.00")],
            [
                ("accept_return", R, None, None, None),
                OVER,
                ("abandon_return", "return_windows", "customer", "100.00", None),
            ],
            id="abandoned return shipping: the buyer keeps the goods, refunded for the 10 accepted only",
        ),
        pytest.param(
            100,
            [dict(quantity=6), dict(quantity=6)],
            [
                ("accept_return", "buyer_remorse", None, None, None),
                ("refund", "return_windows", "customer", "60.00", None),
                ("accept_return", R, None, None, None),
                OVER,
                ("refund", "return_windows", "customer", "40.00", None),
            ],
            id="the cap is the order's: a second return of 6 after 6 gets the 4 left",
        ),
        pytest.param(
            100,
            [dict(quantity=15), dict(quantity=3, goods_back=False), dict(quantity=2, goods_back=False)],
            [
                ("accept_return", R, None, None, None),
                OVER,
                ("refund", "return_windows", "customer", "100.00", None),
                REACHED,
                REACHED,
            ],
            id="over the cap, then two more returns: each told the cap is used up",
        ),
        pytest.param(
            100,
            [dict(quantity=10), dict(quantity=3, goods_back=False)],
            [
                ("accept_return", "buyer_remorse", None, None, None),
                ("refund", "return_windows", "customer", "100.00", None),
                REACHED,
            ],
            id="cap used up: the next non-quality return is not accepted, the buyer is told",
        ),
    ],
)
def test_the_cap_applies_to_goods_and_money(units, returns, expected):
    events = [wholesale(units), shipped(order_id="H1", at=T0 + DAY)]
    at = T0 + 5 * DAY
    for asked in returns:
        kw = dict(asked)  # the table's own dicts stay as they are (a test may run twice in one process)
        ship_cost = kw.pop("ship_cost", "1.00")
        goods_back = kw.pop("goods_back", True)
        events.append(dispute("buyer_remorse", order_id="H1", at=at, return_cost="1.00", **kw))
        if goods_back:
            events += [
                return_shipped(order_id="H1", at=at + DAY, return_cost=ship_cost),
                return_received(order_id="H1", at=at + 4 * DAY),
            ]
        events.append(closed(order_id="H1", at=at + 5 * DAY))
        at += 10 * DAY
    actions = [a for a in run(events) if a.notice != "non_quality_return_cap"]
    assert [b if b[0] != "accept_return" else (*b[:2], None, None, None) for b in briefs(actions)] == expected
    accepted = [a.quantity for a in actions if a.type == "accept_return"]
    assert sum(accepted) <= 10
    decided = {a.action_id: a.decided_at for a in actions}
    assert all(d >= T0 + 5 * DAY for d in decided.values())


def test_the_over_cap_notice_names_the_units_that_stay():
    events = [
        wholesale(100),
        shipped(order_id="H1", at=T0 + DAY),
        dispute("buyer_remorse", order_id="H1", at=T0 + 5 * DAY, quantity=15, return_cost="1.00"),
    ]
    accept, notice = [a for a in run(events) if a.decided_at == T0 + 5 * DAY]
    assert (accept.type, accept.quantity) == ("accept_return", 10)
    assert notice.notice == "non_quality_return_cap_exceeded"
    assert notice.reason == (
        "5 of the 15 units asked are over the 10% non-quality return cap announced at placement (10 of 100 units): "
        "they stay with the buyer, unrefunded; tell the buyer"
    )
    assert notice.action_id == action_id_for("H1", R, "notify_customer", "dispute-1-over-cap")
    assert run_full(events).state("H1").non_quality_units_accepted == 10


def test_the_cap_reached_notice_says_what_was_announced():
    events = [
        wholesale(100),
        shipped(order_id="H1", at=T0 + DAY),
        dispute("buyer_remorse", order_id="H1", at=T0 + 5 * DAY, quantity=10, return_cost="1.00"),
        closed(order_id="H1", at=T0 + 6 * DAY),
        dispute("buyer_remorse", order_id="H1", at=T0 + 7 * DAY, quantity=3, return_cost="1.00"),
    ]
    (notice,) = [a for a in run(events) if a.notice == "non_quality_return_cap_reached"]
    assert notice.reason == (
        "the 10% non-quality return cap announced at placement (10 of 100 units) is used up: the 3 unit(s) asked "
        "cannot come back; tell the buyer"
    )
    assert notice.decided_at == T0 + 7 * DAY


def test_a_retail_order_on_a_capped_marketplace_returns_in_full():
    events = [
        wholesale(50, is_wholesale=False),
        shipped(order_id="H1", at=T0 + DAY),
        dispute("buyer_remorse", order_id="H1", at=T0 + 5 * DAY, quantity=20, return_cost="1.00"),
    ]
    (action,) = [a for a in run(events) if a.type == "accept_return"]
    assert (action.rule, action.quantity) == ("buyer_remorse", 20)


def test_the_cap_notice_names_the_units():
    (notice,) = run([wholesale(50)])
    assert notice.reason == (
        "wholesale order of 50 units: tell the buyer before the order that returns not caused by quality are "
        "capped at 10% (5 units)"
    )
