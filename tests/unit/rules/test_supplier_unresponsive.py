"""supplier_unresponsive: no answer to an expedite within the reply window (48 h), or an event says so
→ the no_stock path."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    HOUR,
    T0,
    US,
    briefs,
    placed,
    policy_with,
    reordered,
    run,
    run_full,
    shipped,
    supplier_ordered,
    supplier_replied,
    supplier_unresponsive,
)

SB = T0 + 3 * DAY
EXPEDITE = SB + 2 * DAY
SHORT_WINDOW = policy_with({"supplier_reply_window_hours": 24}, version="reply-24h")
SWITCH = [
    ("refund", "supplier_unresponsive", "supplier", None, None),
    ("reorder", "supplier_unresponsive", "supplier", None, None),
]


def order(*events):
    return [placed(marketplace="jd", order_id="U1", ship_by=SB), *events]


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            order(), EXPEDITE + 24 * HOUR + US, SWITCH, id="no answer 24 h after the expedite: switch supplier"
        ),
        pytest.param(order(), EXPEDITE + 24 * HOUR, [], id="exactly at the end of the window: not yet"),
        pytest.param(
            order(supplier_replied(order_id="U1", at=EXPEDITE + 23 * HOUR)),
            EXPEDITE + 36 * HOUR,
            [],
            id="a reply inside the window closes it",
        ),
        pytest.param(
            order(supplier_replied(order_id="U1", at=EXPEDITE + 24 * HOUR)),
            EXPEDITE + 36 * HOUR,
            [],
            id="a reply at exactly the end of the window is in time",
        ),
        pytest.param(
            order(shipped(order_id="U1", at=EXPEDITE + 12 * HOUR)),
            EXPEDITE + 10 * DAY,
            [],
            id="a shipment ends the wait",
        ),
    ],
)
def test_reply_window(events, until, expected):
    actions = [a for a in run(events, until=until, policy=SHORT_WINDOW) if a.rule == "supplier_unresponsive"]
    assert briefs(actions) == expected


def test_reply_closes_the_window_in_the_state():
    result = run_full(order(supplier_replied(order_id="U1", at=EXPEDITE + HOUR)), until=EXPEDITE + US)
    assert result.state("U1").deadline("supplier_unresponsive") is None
    assert result.state("U1").awaiting_supplier_since is None


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [
                supplier_ordered(order_id="U1", at=T0 + HOUR, cost="60.00"),
                supplier_unresponsive(order_id="U1", at=T0 + DAY),
            ],
            [("refund", "supplier_unresponsive", "supplier", "60.00", None), SWITCH[1]],
            id="an event says the supplier is unresponsive: switch at once",
        ),
        pytest.param(
            [
                supplier_unresponsive(order_id="U1", at=T0 + DAY),
                supplier_unresponsive(order_id="U1", at=T0 + DAY + HOUR),
            ],
            SWITCH,
            id="said twice while the reorder is unconfirmed: once",
        ),
        pytest.param(
            [
                supplier_unresponsive(order_id="U1", at=T0 + DAY),
                reordered(order_id="U1", at=T0 + DAY + HOUR),
                supplier_unresponsive(order_id="U1", at=T0 + 2 * DAY),
            ],
            [
                *SWITCH,
                ("refund", "supplier_unresponsive", "supplier", "65.00", None),
                ("refund", "supplier_unresponsive", "customer", "100.00", None),
                ("notify_customer", "supplier_unresponsive", None, None, "no_alternative_supplier"),
            ],
            id="the alternative is unresponsive too: the customer is not left waiting",
        ),
        pytest.param(
            [shipped(order_id="U1", at=T0 + DAY), supplier_unresponsive(order_id="U1", at=T0 + 2 * DAY)],
            [],
            id="already shipped: nothing to switch",
        ),
    ],
)
def test_unresponsive_event(events, expected):
    actions = [a for a in run(order(*events)) if a.rule == "supplier_unresponsive"]
    assert briefs(actions) == expected


def test_the_switch_is_dated_at_the_end_of_the_reply_window():
    actions = run(order(), until=EXPEDITE + 48 * HOUR + US)
    assert [(a.type, a.rule, a.decided_at) for a in actions] == [
        ("expedite", "overdue_expedite", EXPEDITE),
        ("refund", "supplier_unresponsive", EXPEDITE + 48 * HOUR),
        ("reorder", "supplier_unresponsive", EXPEDITE + 48 * HOUR),
    ]
    reported = run(order(supplier_unresponsive(order_id="U1", at=SB + HOUR)), until=SB + 2 * HOUR)
    assert [(a.type, a.decided_at) for a in reported] == [("refund", SB + HOUR), ("reorder", SB + HOUR)]
