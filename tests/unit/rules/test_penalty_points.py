"""penalty_points: refusal-to-ship points on Taobao/Tmall/1688 (60 / 24 / 12), worst case once per order,
summed per store; an expedite 12 h before ship-by to avoid them."""

from __future__ import annotations

from datetime import datetime

import pytest

from rules.store_ledger import apply_entry
from tests.factories import (
    CST,
    DAY,
    HOUR,
    T0,
    US,
    closed,
    dispute,
    of_type,
    out_of_stock,
    placed,
    policy_with,
    run,
    run_full,
    shipped,
)

SB = T0 + 2 * DAY
WARN = SB - 12 * HOUR
D11 = datetime(2026, 11, 11, 0, 5, tzinfo=CST)  # inside double11: tmall/taobao handling time 12 h


def warnings(actions):
    return of_type(actions, "expedite", "penalty_points")


@pytest.mark.parametrize(
    ("events", "until", "expected_at"),
    [
        pytest.param([placed(ship_by=SB)], WARN + US, [WARN], id="tmall: expedite 12 h before ship-by"),
        pytest.param([placed(ship_by=SB)], WARN, [], id="tmall: not before the 12 h mark has passed"),
        pytest.param([placed(ship_by=SB, marketplace="taobao")], WARN + US, [WARN], id="taobao: the same"),
        pytest.param(
            [placed(ship_by=SB), shipped(at=WARN - HOUR)], SB + 10 * DAY, [], id="shipped before the warning: nothing"
        ),
        pytest.param(
            [placed(ship_by=SB, marketplace="aliexpress")],
            SB + 10 * DAY,
            [],
            id="aliexpress deducts no points: no warning",
        ),
        pytest.param(
            [placed(ship_by=T0 + 11 * HOUR)],
            SB,
            [T0 + 5.5 * HOUR],
            id="ship-by 11 h after placement: warned halfway, 5.5 h before ship-by",
        ),
        pytest.param(
            [placed(ship_by=T0 + 11 * HOUR)], T0 + 5.5 * HOUR, [], id="short window: not before the halfway mark"
        ),
        pytest.param(
            [placed(ship_by=T0 + 11 * HOUR), shipped(at=T0 + 5 * HOUR)],
            SB,
            [],
            id="short window: shipped before the halfway mark, nothing",
        ),
        pytest.param(
            [placed(ship_by=T0 + 24 * HOUR)], SB, [T0 + 12 * HOUR], id="ship-by 24 h after placement: 12 h before"
        ),
        pytest.param(
            [placed(ship_by=T0 + 30 * HOUR)], SB, [T0 + 18 * HOUR], id="ship-by 30 h after placement: 12 h before"
        ),
        pytest.param([placed(ship_by=T0)], SB, [], id="ship-by at placement: no warning"),
        pytest.param(
            [placed(at=D11)], D11 + 6 * HOUR + US, [D11 + 6 * HOUR], id="double11 on tmall (12 h handling): 6 h before"
        ),
        pytest.param([placed(at=D11)], D11 + 6 * HOUR, [], id="double11 on tmall: not before the 6 h mark"),
        pytest.param(
            [placed(at=D11, marketplace="taobao")], D11 + 10 * DAY, [D11 + 6 * HOUR], id="double11 on taobao: the same"
        ),
        pytest.param(
            [placed(at=D11, marketplace="aliexpress")], D11 + 10 * DAY, [], id="double11 on aliexpress: no points"
        ),
        pytest.param(
            [placed(at=D11), shipped(at=D11 + 5 * HOUR)], D11 + 10 * DAY, [], id="double11 shipped in 5 h: nothing"
        ),
    ],
)
def test_ship_by_warning(events, until, expected_at):
    actions = warnings(run(events, until=until))
    assert [a.decided_at for a in actions] == expected_at
    assert all(a.party == "supplier" for a in actions)


@pytest.mark.parametrize(
    ("hours_before", "ship_by", "expected_at"),
    [
        pytest.param(4, T0 + 12 * HOUR, T0 + 8 * HOUR, id="4 h before a 12 h window: the policy's 4 h"),
        pytest.param(8, T0 + 12 * HOUR, T0 + 6 * HOUR, id="8 h before a 12 h window: halfway (6 h) instead"),
        pytest.param(24, SB, SB - 24 * HOUR, id="24 h before a 48 h window: exactly halfway either way"),
    ],
)
def test_ship_by_warning_uses_the_policy_hours_or_half_the_window(hours_before, ship_by, expected_at):
    policy = policy_with({"penalty_warning_hours_before_ship_by": hours_before}, version=f"warn-{hours_before}h")
    actions = warnings(run([placed(ship_by=ship_by)], until=SB + DAY, policy=policy))
    assert [(a.decided_at, a.policy_version) for a in actions] == [(expected_at, f"warn-{hours_before}h")]


AFTER = SB + DAY


@pytest.mark.parametrize(
    ("marketplace", "events", "policy", "expected"),
    [
        pytest.param(
            "tmall",
            [dispute("in_transit", order_id="P1", at=AFTER)],
            None,
            [("no_ship_cooperated", 24)],
            id="never shipped, buyer reports non-receipt: 24 points",
        ),
        pytest.param(
            "tmall",
            [
                dispute("in_transit", order_id="P1", at=AFTER),
                closed(order_id="P1", at=AFTER + DAY, seller_cooperated=False),
            ],
            None,
            [("no_ship_cooperated", 24), ("no_ship_no_cooperation", 36)],
            id="then closed as not cooperated: 60 in all, not 84",
        ),
        pytest.param(
            "tmall",
            [closed(order_id="P1", at=AFTER, seller_cooperated=False)],
            None,
            [("no_ship_no_cooperation", 60)],
            id="not shipped and did not cooperate: 60",
        ),
        pytest.param(
            "tmall",
            [closed(order_id="P1", at=AFTER, seller_cooperated=True)],
            None,
            [],
            id="closed with cooperation and no earlier case: nothing",
        ),
        pytest.param(
            "tmall",
            [shipped(order_id="P1", at=SB - HOUR), closed(order_id="P1", at=AFTER, seller_cooperated=False)],
            None,
            [],
            id="shipped in time: a not-cooperated close is no refusal to ship",
        ),
        pytest.param(
            "tmall",
            [dispute("in_transit", order_id="P1", at=SB - HOUR)],
            None,
            [],
            id="non-receipt dispute before ship-by: no case yet",
        ),
        pytest.param(
            "tmall",
            [out_of_stock(order_id="P1", at=T0 + HOUR)],
            policy_with({"max_reorder_attempts": 0}),
            [("out_of_stock_refunded", 12)],
            id="out of stock and refunded: 12",
        ),
        pytest.param(
            "tmall",
            [out_of_stock(order_id="P1", at=T0 + HOUR), dispute("in_transit", order_id="P1", at=AFTER)],
            policy_with({"max_reorder_attempts": 0}),
            [("out_of_stock_refunded", 12), ("no_ship_cooperated", 12)],
            id="the worst case counts once: 12 then 24 → 24 in all",
        ),
        pytest.param(
            "aliexpress",
            [
                dispute("in_transit", order_id="P1", at=AFTER),
                closed(order_id="P1", at=AFTER + DAY, seller_cooperated=False),
            ],
            None,
            [],
            id="aliexpress: no points",
        ),
        pytest.param(
            "aliexpress",
            [out_of_stock(order_id="P1", at=T0 + HOUR)],
            policy_with({"max_reorder_attempts": 0}),
            [],
            id="aliexpress out of stock: no points",
        ),
    ],
)
def test_penalty_cases(marketplace, events, policy, expected):
    result = run_full([placed(order_id="P1", ship_by=SB, marketplace=marketplace), *events], policy=policy)
    entries = [e for e in result.ledger if e.kind == "penalty"]
    assert [(e.case, e.points) for e in entries] == expected
    total = sum(points for _, points in expected)
    assert result.state("P1").penalty_points == total
    stores = result.stores()
    assert stores["s1"].penalty_points == total


def test_never_shipped_non_receipt_dispute_escalates_to_cooperate():
    actions = run([placed(order_id="P1", ship_by=SB), dispute("in_transit", order_id="P1", at=AFTER)])
    (escalate,) = of_type(actions, "escalate", "dispute_reasons")
    assert escalate.notice == "not_shipped_dispute"


def test_store_ledger_sums_points_across_orders_and_alerts_at_36():
    no_alt = policy_with({"max_reorder_attempts": 0})
    events = [
        placed(order_id="P1", ship_by=SB),
        placed(order_id="P2", ship_by=SB),
        placed(order_id="P3", ship_by=SB, store_id="s2"),
        dispute("in_transit", order_id="P1", at=AFTER),
        out_of_stock(order_id="P2", at=T0 + HOUR),
        closed(order_id="P3", at=AFTER, seller_cooperated=False),
    ]
    result = run_full(events, policy=no_alt)
    stores = result.stores()
    assert stores["s1"].penalty_points == 36
    assert stores["s1"].penalty_cases == {"no_ship_cooperated": 1, "out_of_stock_refunded": 1}
    assert stores["s1"].penalty_alert
    assert stores["s2"].penalty_points == 60

    # apply_entry is a pure sum: any order of the same entries gives the same ledger
    penalties = [e for e in result.ledger if e.kind == "penalty" and e.store_id == "s1"]
    forward = backward = None
    for e in penalties:
        forward = apply_entry(forward, e)
    for e in reversed(penalties):
        backward = apply_entry(backward, e)
    assert forward is not None and backward is not None
    assert forward.penalty_points == backward.penalty_points == 36


def test_below_the_alert_threshold_no_alert():
    result = run_full([placed(order_id="P1", ship_by=SB), dispute("in_transit", order_id="P1", at=AFTER)])
    assert result.stores()["s1"].penalty_points == 24
    assert not result.stores()["s1"].penalty_alert
