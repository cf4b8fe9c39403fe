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
EXPEDITE = SB + 2 * DAY
SWITCH = SB + 4 * DAY
# with the default numbers the expedite's 48 h reply window ends exactly at the switch; at that instant
# supplier_unresponsive fires first (rules.engine.FIRING_ORDER), so overdue_switch only decides when the
# expedite was answered (or its window ends later)
ANSWERED = EXPEDITE + HOUR
SWITCH_RULES = ("overdue_switch", "supplier_unresponsive")


def switch_actions(actions):
    """The actions either switching rule decided, with the rule: who decided the switch is part of the answer."""
    return [a for a in actions if a.rule in SWITCH_RULES]


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            [
                placed(marketplace="jd", ship_by=SB),
                supplier_ordered(at=T0 + HOUR, cost="60.00"),
                supplier_replied(at=ANSWERED),
            ],
            SWITCH + US,
            [
                ("refund", "overdue_switch", "supplier", "60.00", None),
                ("reorder", "overdue_switch", "supplier", None, None),
            ],
            id="expedite answered but not shipped 4 days after ship-by: supplier refund of what we paid, then reorder",
        ),
        pytest.param(
            [placed(marketplace="jd", ship_by=SB), supplier_ordered(at=T0 + HOUR, cost="60.00")],
            SWITCH + US,
            [
                ("refund", "supplier_unresponsive", "supplier", "60.00", None),
                ("reorder", "supplier_unresponsive", "supplier", None, None),
            ],
            id="expedite unanswered: the reply window ends at +4d too and supplier_unresponsive decides the switch",
        ),
        pytest.param(
            [placed(marketplace="jd", ship_by=SB), supplier_replied(at=ANSWERED)],
            SWITCH,
            [],
            id="clock exactly at +4d: not yet",
        ),
        pytest.param(
            [placed(marketplace="jd", ship_by=SB)], SWITCH, [], id="unanswered, clock exactly at +4d: not yet"
        ),
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


LONG_WINDOW = policy_with({"supplier_reply_window_hours": 72}, version="reply-72h")


def test_switch_cancels_the_pending_supplier_reply_follow_up():
    # a 72 h reply window after the +2d expedite would end at +5d: the switch at +4d comes first and ends the wait
    result = run_full([placed(marketplace="jd", ship_by=SB)], until=SWITCH + US, policy=LONG_WINDOW)
    assert [a.rule for a in result.actions] == ["overdue_expedite", "overdue_switch", "overdue_switch"]
    state = result.state()
    assert state.deadline("supplier_unresponsive") is None
    assert state.awaiting_supplier_since is None
    # nothing from the reply window later either
    later = run([placed(marketplace="jd", ship_by=SB)], until=SWITCH + 2 * DAY, policy=LONG_WINDOW)
    assert not [a for a in later if a.rule == "supplier_unresponsive"]


def test_when_the_reply_window_ends_at_the_switch_the_supplier_is_switched_once_as_unresponsive():
    # default numbers: expedite at +2d, its 48 h window and the +4d switch are due at the same instant
    result = run_full([placed(marketplace="jd", ship_by=SB)], until=SWITCH + US)
    assert [(a.rule, a.type, a.decided_at) for a in result.actions] == [
        ("overdue_expedite", "expedite", EXPEDITE),
        ("supplier_unresponsive", "refund", SWITCH),
        ("supplier_unresponsive", "reorder", SWITCH),
    ]
    assert "48 h after the expedite" in result.actions[-1].reason
    state = result.state()
    assert state.awaiting_supplier_since is None
    assert state.deadline("supplier_unresponsive") is None
    # the +4d switch of the first supplier is settled; what is left is the alternative supplier's own
    switch = state.deadline("overdue_switch")
    assert switch is not None and switch.due == SWITCH + 72 * HOUR + 4 * DAY


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
