"""held_refunds: a refund the executor held for a person is escalated at once; a refund a person dropped is no
longer awaited; any other failure still escalates when the refund is overdue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from models.actions import action_id_for
from rules.held_refunds import refund_status
from tests.factories import (
    DAY,
    HOUR,
    T0,
    action_failed,
    action_held,
    briefs,
    delivered,
    dispute,
    evidence,
    of_type,
    placed,
    refunded,
    run,
    run_full,
    shipped,
    verified,
)

R = "wrong_or_missing"
VERIFIED = T0 + 20 * DAY
HELD_AT = VERIFIED + HOUR
LATER = VERIFIED + 60 * DAY  # far past the refund's 15 working days
REFUND = action_id_for("H1", R, "refund", "customer-dispute-1")
BREAKER = "refund 100.00 CNY is above the single-refund limit 50"
HELD = ("escalate", R, "customer", "100.00", "refund_held")
OVERDUE = ("escalate", R, None, None, "refund_overdue")


def verified_refund(*events):
    """An aliexpress order whose wrong-item claim is verified: the engine decides a customer refund of 100.00."""
    return [
        placed(order_id="H1", marketplace="aliexpress"),
        shipped(order_id="H1", at=T0 + DAY),
        delivered(order_id="H1", at=T0 + 5 * DAY),
        dispute("wrong_item", order_id="H1", at=T0 + 6 * DAY),
        evidence(order_id="H1", at=T0 + 7 * DAY),
        verified(True, order_id="H1", at=VERIFIED),
        *events,
    ]


def held(at=HELD_AT, event_id="held-1", action_id=REFUND):
    return action_held(order_id="H1", at=at, action_id=action_id, reason=BREAKER, event_id=event_id)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(verified_refund(), [OVERDUE], id="no outcome at all: refund overdue"),
        pytest.param(verified_refund(held()), [HELD, OVERDUE], id="held: escalate now; never released: overdue too"),
        pytest.param(
            verified_refund(held(), refunded(order_id="H1", at=HELD_AT + DAY, caused_by=REFUND)),
            [HELD],
            id="held, then released and done: no overdue escalation",
        ),
        pytest.param(
            verified_refund(
                held(),
                action_failed(order_id="H1", at=HELD_AT + DAY, action_id=REFUND, outcome="dropped", reason="x"),
            ),
            [HELD],
            id="held, then dropped by a person: not awaited any more",
        ),
        pytest.param(
            verified_refund(action_failed(order_id="H1", at=HELD_AT, action_id=REFUND, outcome="rejected")),
            [OVERDUE],
            id="rejected by the receiver (422): still overdue",
        ),
        pytest.param(
            verified_refund(action_failed(order_id="H1", at=HELD_AT, action_id=REFUND, outcome="failed")),
            [OVERDUE],
            id="given up after retries: still overdue",
        ),
        pytest.param(
            verified_refund(held(), held(event_id="held-1")),
            [HELD, OVERDUE],
            id="the same held event twice: one escalation",
        ),
        pytest.param(
            verified_refund(held(), held(at=HELD_AT + HOUR, event_id="held-again")),
            [HELD, OVERDUE],
            id="held again (another event, same action): one escalation",
        ),
        pytest.param(
            verified_refund(held(action_id="act-someone-elses")),
            [OVERDUE],
            id="held action this order never decided: ignored",
        ),
    ],
)
def test_held_and_dropped_refunds(events, expected):
    assert briefs(of_type(run(events, until=LATER), "escalate", R)) == expected


def test_the_escalation_tells_a_person_what_was_held_why_and_what_to_run():
    [escalation] = of_type(run(verified_refund(held()), until=HELD_AT + HOUR), "escalate")
    assert escalation.decided_at == HELD_AT and escalation.currency == "CNY"
    assert escalation.caused_by == ("held-1",)
    assert BREAKER in escalation.reason and REFUND in escalation.reason
    assert "postsale actions release|drop" in escalation.reason


def test_a_dropped_refund_no_longer_counts_as_refunded():
    dropped = action_failed(order_id="H1", at=HELD_AT + DAY, action_id=REFUND, outcome="dropped", reason="x")
    before = run_full(verified_refund(held())).states["H1"]
    after = run_full(verified_refund(held(), dropped)).states["H1"]
    assert before.customer_refunded == Decimal("100.00")
    assert [d.key for d in before.deadlines if d.key.startswith("refund-due")] == ["refund-due-dispute-1"]
    assert after.customer_refunded == Decimal("0")
    assert [d.key for d in after.deadlines if d.key.startswith("refund-due")] == []


@pytest.mark.parametrize(
    ("after_verified", "status"),
    [
        pytest.param((), "awaiting", id="sent, no outcome yet"),
        pytest.param((held(),), "held", id="held by the executor"),
        pytest.param(
            (held(), refunded(order_id="H1", at=HELD_AT + DAY, caused_by=REFUND)), "confirmed", id="released, done"
        ),
        pytest.param((refunded(order_id="H1", at=HELD_AT, caused_by=REFUND),), "confirmed", id="done"),
        pytest.param((held(action_id="act-someone-elses"),), "awaiting", id="another order's hold"),
    ],
)
def test_the_order_view_says_where_each_refund_stands(after_verified, status):
    order = run_full(verified_refund(*after_verified)).states["H1"]
    assert [(r.action_id, refund_status(order, r)) for r in order.customer_refunds] == [(REFUND, status)]


def test_a_dropped_refund_is_not_in_the_order_view_any_more():
    dropped = action_failed(order_id="H1", at=HELD_AT + DAY, action_id=REFUND, outcome="dropped", reason="x")
    assert run_full(verified_refund(held(), dropped)).states["H1"].customer_refunds == ()
