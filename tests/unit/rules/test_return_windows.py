"""return_windows: 10 days for the return tracking number, else close in the seller's favour; abandon the return
(refund at once) when shipping it back costs more than the goods; received → refund."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models.state import DisputeCase
from rules.return_windows import refund_for_return
from tests.factories import (
    DAY,
    T0,
    US,
    briefs,
    closed,
    customer_refunds,
    dispute,
    item,
    placed,
    policy_with,
    return_accepted,
    return_received,
    return_shipped,
    run,
    run_full,
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


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(accepted(), OPEN + 11 * DAY, [("close_dispute", OPEN + 10 * DAY)], id="closed at day 10"),
        pytest.param(
            accepted(ev(return_shipped, 2), ev(return_received, 6)),
            OPEN + 60 * DAY,
            [("refund", OPEN + 6 * DAY)],
            id="refund when the goods arrive",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2, return_cost="150.00")),
            OPEN + 60 * DAY,
            [("abandon_return", OPEN + 2 * DAY)],
            id="abandon when the buyer ships back",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2)),
            OPEN + 40 * DAY,
            [("escalate", OPEN + 32 * DAY)],
            id="not received: escalated 30 days after shipping back",
        ),
        pytest.param(
            accepted(ev(return_accepted, 1), reason="not_as_described"),
            OPEN + 12 * DAY,
            [("close_dispute", OPEN + 11 * DAY)],
            id="the platform's acceptance starts the window",
        ),
    ],
)
def test_decision_times(events, until, expected):
    assert [(a.type, a.decided_at) for a in run(events, until=until) if a.rule == R] == expected


@pytest.mark.parametrize(
    ("dispute_kw", "expected"),
    [
        pytest.param({"amount_claimed": "40.00"}, "40.00", id="a claim of 40.00 is refunded as 40.00, not 100.00"),
        pytest.param({"quantity": 1}, "50.00", id="1 of 2 units returned: half"),
        pytest.param({"quantity": 2, "amount_claimed": "150.00"}, "100.00", id="a claim above the goods' worth"),
    ],
)
def test_what_a_returned_case_refunds(dispute_kw, expected):
    events = [
        placed(order_id="V2", items=[item(quantity=2, unit_price="50.00")]),
        shipped(order_id="V2", at=S),
        dispute("quality", order_id="V2", at=OPEN, **dispute_kw),
        return_shipped(order_id="V2", at=OPEN + DAY),
        return_received(order_id="V2", at=OPEN + 3 * DAY),
    ]
    (refund,) = customer_refunds(run(events))
    assert (str(refund.amount), refund.decided_at) == (expected, OPEN + 3 * DAY)


def test_more_units_than_ordered_refund_the_order_once_without_a_cap_note():
    # quantity 3 of a 2-unit order: the goods are worth the order, not 150.00 (the engine's guard would cap it,
    # saying so in the reason: the buyer's refund reads differently)
    events = [
        placed(order_id="V3", items=[item(quantity=2, unit_price="50.00")]),
        shipped(order_id="V3", at=S),
        dispute("quality", order_id="V3", at=OPEN, quantity=3),
        return_shipped(order_id="V3", at=OPEN + DAY),
        return_received(order_id="V3", at=OPEN + 3 * DAY),
    ]
    (refund,) = customer_refunds(run(events))
    assert refund.amount == Decimal("100.00")
    assert refund.reason == "the returned goods arrived: refund the buyer"
    state = run_full(events).state("V3")
    case = DisputeCase(seq=1, reason="quality", rule="product_defect", opened_at=OPEN, opened_by="x", quantity=3)
    assert refund_for_return(state, case) == Decimal("100.00")


@pytest.mark.parametrize(
    ("events", "policy", "expected"),
    [
        pytest.param(
            accepted(ev(return_accepted, 1), ev(return_shipped, 2), ev(return_received, 5), reason="not_as_described"),
            None,
            [("refund", R, "customer", "100.00", None)],
            id="a return the platform accepted, no quantity given: the order's amount when the goods arrive",
        ),
        pytest.param(
            accepted(ev(return_accepted, 1, return_cost="150.00"), ev(return_shipped, 2), reason="not_as_described"),
            None,
            [("abandon_return", R, "customer", "100.00", None)],
            id="the return cost the platform gave decides the abandon when the buyer's shipment names none",
        ),
        pytest.param(
            [
                placed(order_id="V1"),
                shipped(order_id="V1", at=S),
                dispute("quality", order_id="V1", at=OPEN, return_cost="150.00"),
                ev(return_shipped, 2),
            ],
            None,
            [("abandon_return", R, "customer", "100.00", None)],
            id="the return cost given with the dispute decides it too",
        ),
        pytest.param(
            accepted(ev(return_shipped, 2, return_cost="60.00")),
            policy_with({"abandon_above_return_cost_share": 0.5}, version="abandon-half"),
            [("abandon_return", R, "customer", "100.00", None)],
            id="a store abandoning above half the order value: 60 of 100 is abandoned",
        ),
        pytest.param(
            accepted(ev(return_shipped, 12), ev(return_received, 15)),
            None,
            [("close_dispute", R, None, None, None)],
            id="goods shipped back after the case closed in the seller's favour: no refund",
        ),
    ],
)
def test_what_moves_money_on_a_return(events, policy, expected):
    actions = run(events, until=OPEN + 20 * DAY, policy=policy)
    assert briefs([a for a in actions if a.rule == R]) == expected


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        pytest.param([], "close_dispute", id="no tracking twice: two closures"),
        pytest.param([(return_shipped, 1, {"return_cost": "150.00"})], "abandon_return", id="two abandons"),
        pytest.param([(return_shipped, 1, {})], "escalate", id="two returns lost on the way"),
    ],
)
def test_each_dispute_s_return_is_decided_under_its_own_id(then, expected):
    # two units, one returned each time: the second abandon is within what was paid
    events = [placed(order_id="V4", items=[item(quantity=2, unit_price="50.00")]), shipped(order_id="V4", at=S)]
    for n in range(2):
        at = OPEN + n * 50 * DAY
        events.append(dispute("quality", order_id="V4", at=at, quantity=1))
        events += [fn(order_id="V4", at=at + days * DAY, **kw) for fn, days, kw in then]
        events.append(closed(order_id="V4", at=at + 45 * DAY))
    decided = [a for a in run(events, until=OPEN + 100 * DAY) if a.rule == R and a.type == expected]
    assert len(decided) == 2 and decided[0].action_id != decided[1].action_id
