"""overdue_switch: not shipped 4 days after ship-by → the no_stock path; cancels the pending expedite follow-up."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    HOUR,
    T0,
    US,
    briefs,
    customer_refunds,
    of_type,
    placed,
    policy_with,
    run,
    run_full,
    shipped,
    supplier_ordered,
    supplier_replied,
)

SB = T0 + 3 * DAY
SWITCH = SB + 4 * DAY


def switch_actions(actions):
    return [a for a in actions if a.rule == "overdue_switch"]


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            [placed(marketplace="jd", ship_by=SB), supplier_ordered(at=T0 + HOUR, cost="60.00")],
            SWITCH + US,
            [
                ("refund", "overdue_switch", "supplier", "60.00", None),
                ("reorder", "overdue_switch", "supplier", None, None),
            ],
            id="not shipped 4 days after ship-by: supplier refund of what we paid, then reorder elsewhere",
        ),
        pytest.param([placed(marketplace="jd", ship_by=SB)], SWITCH, [], id="clock exactly at +4d: not yet"),
        pytest.param(
            [placed(marketplace="jd", ship_by=SB), shipped(at=SB + 3 * DAY)],
            SWITCH + 30 * DAY,
            [],
            id="late shipment at +3d settles it",
        ),
        pytest.param(
            [placed(marketplace="jd", ship_by=SB), shipped(at=SWITCH)],
            SWITCH + 30 * DAY,
            [],
            id="shipment at exactly +4d is in time",
        ),
        pytest.param(
            [placed(marketplace="jd", ship_by=SB), supplier_replied(at=SB + 3 * DAY)],
            SWITCH + US,
            [
                ("refund", "overdue_switch", "supplier", None, None),
                ("reorder", "overdue_switch", "supplier", None, None),
            ],
            id="a supplier reply is not a shipment: still switched at +4d",
        ),
    ],
)
def test_switch_supplier(events, until, expected):
    assert briefs(switch_actions(run(events, until=until))) == expected


def test_switch_cancels_the_pending_supplier_reply_follow_up():
    # expedite at +2d opens a 48 h reply window ending exactly at +4d, where the switch happens first
    result = run_full([placed(marketplace="jd", ship_by=SB)], until=SWITCH + US)
    assert [a.rule for a in result.actions] == ["overdue_expedite", "overdue_switch", "overdue_switch"]
    state = result.state()
    assert state.deadline("supplier_unresponsive") is None
    assert state.awaiting_supplier_since is None
    # nothing from the reply window later either
    later = run([placed(marketplace="jd", ship_by=SB)], until=SWITCH + 2 * DAY)
    assert not [a for a in later if a.rule == "supplier_unresponsive"]


def test_switch_again_when_the_alternative_is_late_too_then_refund_the_customer():
    actions = run([placed(marketplace="jd", ship_by=SB)], until=SB + 60 * DAY)
    second_ship_by = SWITCH + 72 * HOUR
    tail = [a for a in switch_actions(actions) if a.decided_at == second_ship_by + 4 * DAY]
    assert briefs(tail) == [
        ("refund", "overdue_switch", "supplier", None, None),
        ("refund", "overdue_switch", "customer", "100.00", None),
        ("notify_customer", "overdue_switch", None, None, "no_alternative_supplier"),
    ]
    assert len(customer_refunds(actions)) == 1


def test_a_shorter_switch_threshold_in_the_policy_switches_a_day_earlier():
    policy = policy_with({"overdue_switch_after_days": 3}, version="switch-3d")
    actions = run([placed(marketplace="jd", ship_by=SB)], until=SB + 3 * DAY + US, policy=policy)
    reorder = of_type(actions, "reorder", "overdue_switch")
    assert [a.decided_at for a in reorder] == [SB + 3 * DAY]
    assert {a.policy_version for a in actions} == {"switch-3d"}
    assert "3 days after ship-by" in reorder[0].reason
