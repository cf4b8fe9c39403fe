"""customs_hold: notify-customs at a hold; still held after 7 days → escalate; clearance or delivery closes it."""

from __future__ import annotations

import pytest

from models.state import ORDER_STATE_ADAPTER
from tests.factories import DAY, HOUR, T0, US, briefs, closed, dispute, placed, run, run_full, shipped, status

S = T0 + DAY
HOLD = S + 2 * DAY
NOTIFY = ("notify_customs", "customs_hold", None, None, None)
ESCALATE = ("escalate", "customs_hold", None, None, "customs_hold_overdue")


def parcel(*events):
    return [placed(order_id="C1", dest="US", marketplace="aliexpress"), shipped(order_id="C1", at=S), *events]


def st(name, at):
    return status(name, order_id="C1", at=at)


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            parcel(st("customs_hold", HOLD)),
            HOLD + 7 * DAY + US,
            [NOTIFY, ESCALATE],
            id="held for more than 7 days: escalate",
        ),
        pytest.param(parcel(st("customs_hold", HOLD)), HOLD + 7 * DAY, [NOTIFY], id="exactly 7 days: not yet"),
        pytest.param(
            parcel(st("customs_hold", HOLD), st("customs_cleared", HOLD + 3 * DAY)),
            HOLD + 30 * DAY,
            [NOTIFY],
            id="cleared after 3 days: no escalation",
        ),
        pytest.param(
            parcel(st("customs_hold", HOLD), st("delivered", HOLD + 5 * DAY)),
            HOLD + 30 * DAY,
            [NOTIFY],
            id="a delivered parcel closes its customs hold",
        ),
        pytest.param(
            parcel(st("customs_hold", HOLD), st("in_transit", HOLD + 2 * DAY)),
            HOLD + 30 * DAY,
            [NOTIFY],
            id="the parcel moving on closes the hold",
        ),
        pytest.param(
            parcel(st("customs_hold", HOLD), st("info_received", HOLD + 2 * DAY)),
            HOLD + 7 * DAY + US,
            [NOTIFY, ESCALATE],
            id="a label printed again while held is still held",
        ),
        pytest.param(
            parcel(st("customs_hold", HOLD), st("exception", HOLD + 2 * DAY)),
            HOLD + 7 * DAY + US,
            [NOTIFY, ESCALATE],
            id="an exception while held is still held",
        ),
        pytest.param(
            parcel(st("customs_hold", HOLD), st("customs_hold", HOLD + DAY)),
            HOLD + 7 * DAY + US,
            [NOTIFY, ESCALATE],
            id="a repeated hold status: one reminder, counted from the first",
        ),
        pytest.param(
            parcel(st("customs_hold", HOLD), st("customs_cleared", HOLD + DAY), st("customs_hold", HOLD + 2 * DAY)),
            HOLD + 2 * DAY + 7 * DAY + US,
            [NOTIFY, NOTIFY, ESCALATE],
            id="held again after clearance: a new reminder and a new clock",
        ),
        pytest.param(
            parcel(dispute("customs_held", order_id="C1", at=HOLD)),
            HOLD + 7 * DAY + US,
            [NOTIFY, ESCALATE],
            id="buyer's customs dispute starts the same path",
        ),
        pytest.param(
            parcel(st("customs_hold", HOLD), dispute("customs_held", order_id="C1", at=HOLD + HOUR)),
            HOLD + 3 * DAY,
            [NOTIFY],
            id="buyer's dispute about a hold already handled: no second reminder",
        ),
    ],
)
def test_customs_hold(events, until, expected):
    actions = [a for a in run(events, until=until) if a.rule == "customs_hold"]
    assert briefs(actions) == expected


def test_escalation_is_dated_at_the_deadline():
    actions = [a for a in run(parcel(st("customs_hold", HOLD)), until=HOLD + 30 * DAY) if a.type == "escalate"]
    assert [a.decided_at for a in actions] == [HOLD + 7 * DAY]


def test_each_hold_is_escalated_under_its_own_id():
    events = parcel(st("customs_hold", HOLD), st("customs_cleared", HOLD + 8 * DAY), st("customs_hold", HOLD + 9 * DAY))
    result = run_full(events, until=HOLD + 17 * DAY)
    escalations = [a for a in result.actions if a.type == "escalate"]
    assert [a.decided_at for a in escalations] == [HOLD + 7 * DAY, HOLD + 16 * DAY]
    assert len({a.action_id for a in escalations}) == 2
    # the order's state, with its pending hold deadline, survives the store's JSON round trip
    state = run_full(events[:-1] + [st("customs_hold", HOLD + 9 * DAY)]).state("C1")
    assert ORDER_STATE_ADAPTER.validate_json(ORDER_STATE_ADAPTER.dump_json(state)) == state


def test_each_customs_dispute_gets_its_own_reminder_and_escalation():
    events = parcel(
        dispute("customs_held", order_id="C1", at=HOLD),
        st("customs_cleared", HOLD + 8 * DAY),
        closed(order_id="C1", at=HOLD + 8 * DAY),
        dispute("customs_held", order_id="C1", at=HOLD + 10 * DAY),
    )
    actions = run(events, until=HOLD + 18 * DAY)
    assert [(a.type, a.decided_at) for a in actions if a.rule == "customs_hold"] == [
        ("notify_customs", HOLD),
        ("escalate", HOLD + 7 * DAY),
        ("notify_customs", HOLD + 10 * DAY),
        ("escalate", HOLD + 17 * DAY),
    ]
    reminders = [a.reason for a in actions if a.type == "notify_customs"]
    assert all(r.startswith("buyer reports the parcel held by customs: send the merchant") for r in reminders)
