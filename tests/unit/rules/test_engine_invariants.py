"""What the engine guarantees for every row: repeats change nothing, an action id is decided once, one customer
refund per cause and never more than the buyer paid, unknown orders are refused, finished orders are forgotten."""

from __future__ import annotations

from collections import Counter

import pytest

from rules.engine import advance, handle_event
from tests.factories import (
    DAY,
    HOUR,
    T0,
    US,
    briefs,
    cancel_requested,
    closed,
    customer_refunds,
    default_policy,
    delivered,
    dispute,
    evidence,
    intercept_result,
    out_of_stock,
    paid,
    placed,
    policy_with,
    return_received,
    return_shipped,
    run,
    run_full,
    shipped,
    status,
    verified,
)

S = T0 + DAY


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([placed(order_id="I1"), out_of_stock(order_id="I1", at=S)], id="out of stock"),
        pytest.param([placed(order_id="I1"), cancel_requested(order_id="I1", at=S)], id="cancel"),
        pytest.param(
            [placed(order_id="I1"), shipped(order_id="I1", at=S), status("customs_hold", order_id="I1", at=S + DAY)],
            id="hold",
        ),
        pytest.param(
            [placed(order_id="I1"), shipped(order_id="I1", at=S), dispute("quality", order_id="I1", at=S + DAY)],
            id="dispute",
        ),
    ],
)
def test_a_repeated_event_changes_nothing(events):
    policy = default_policy()
    state = None
    for event in events:
        state = handle_event(state, event, policy).state
    again = handle_event(state, events[-1], policy)
    assert again.duplicate and again.actions == () and again.ledger == ()
    assert again.state == state


def test_a_repeated_event_after_time_moved_on_still_changes_nothing():
    first = placed(order_id="I2", event_id="p-1")
    ship = shipped(order_id="I2", at=S, event_id="s-1")
    once = run([first, ship], until=S + 90 * DAY)
    twice = run([first, ship, first, ship, ship], until=S + 90 * DAY)
    assert briefs(once) == briefs(twice)


def test_an_order_placed_twice_under_two_ids_keeps_the_first():
    result = run_full([placed(order_id="I3", amount="100.00"), placed(order_id="I3", amount="999.00", at=T0 + HOUR)])
    assert result.state("I3").amount == 100
    assert any("already placed" in n for n in result.decisions[-1].notes)


def test_an_action_id_is_never_decided_twice_for_one_order():
    events = [
        placed(order_id="I4"),
        shipped(order_id="I4", at=S),
        cancel_requested(order_id="I4", at=S + HOUR),
        cancel_requested(order_id="I4", at=S + 2 * HOUR),
        dispute("wrong_address", order_id="I4", at=S + 3 * HOUR),
        intercept_result(False, order_id="I4", at=S + DAY),
        intercept_result(False, order_id="I4", at=S + DAY + HOUR),
    ]
    result = run_full(events, until=S + 30 * DAY)
    counts = Counter(a.action_id for a in result.actions)
    assert result.actions and max(counts.values()) == 1
    decided = [d.action_id for d in result.state("I4").decided]
    assert len(decided) == len(set(decided)) == len(result.actions)


@pytest.mark.parametrize(
    ("events", "refunds", "blocked"),
    [
        pytest.param(
            [
                placed(order_id="I5", marketplace="aliexpress"),
                shipped(order_id="I5", at=S),
                status("delivery_refused", order_id="I5", at=S + DAY, refusal_reason="damaged"),
                dispute("returned", order_id="I5", at=S + 2 * DAY),
            ],
            ["100.00"],
            1,
            id="refused-damaged refund, then a returned-to-sender dispute: the second refund becomes an escalation",
        ),
        pytest.param(
            [
                placed(order_id="I5", marketplace="aliexpress"),
                shipped(order_id="I5", at=S),
                delivered(order_id="I5", at=S + DAY),
                dispute("missing_item", order_id="I5", at=S + 2 * DAY, amount_claimed="60.00"),
                evidence(order_id="I5", at=S + 3 * DAY),
                verified(True, order_id="I5", at=S + 4 * DAY),
                closed(order_id="I5", at=S + 5 * DAY),
                dispute("quality", order_id="I5", at=S + 6 * DAY),
                return_shipped(order_id="I5", at=S + 7 * DAY),
                return_received(order_id="I5", at=S + 9 * DAY),
            ],
            ["60.00", "40.00"],
            0,
            id="two causes: the second refund is capped at what is left",
        ),
        pytest.param(
            [
                placed(order_id="I5"),
                cancel_requested(order_id="I5", at=S),
                out_of_stock(order_id="I5", at=S + HOUR),
            ],
            ["100.00"],
            0,
            id="cancelled and refunded: a later stock-out refunds nothing",
        ),
    ],
)
def test_customer_refunds_are_once_per_cause_and_within_the_order_amount(events, refunds, blocked):
    actions = run(events, until=S + 90 * DAY)
    money = customer_refunds(actions)
    assert [str(a.amount) for a in money] == refunds
    assert len({a.cause for a in money}) == len(money)
    assert sum(a.amount for a in money) <= 100
    assert len([a for a in actions if a.notice == "refund_blocked"]) == blocked


def test_a_blocked_refund_is_escalated_once():
    events = [
        placed(order_id="I6", marketplace="aliexpress"),
        shipped(order_id="I6", at=S),
        status("delivery_refused", order_id="I6", at=S + DAY, refusal_reason="damaged"),
        dispute("returned", order_id="I6", at=S + 2 * DAY),
        closed(order_id="I6", at=S + 3 * DAY),
        dispute("returned", order_id="I6", at=S + 4 * DAY),
    ]
    actions = run(events)
    escalations = [a for a in actions if a.notice == "refund_blocked"]
    assert len(escalations) == 2  # one per cause (dispute-1, dispute-2), never a refund
    assert len(customer_refunds(actions)) == 1


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(shipped(order_id="ZZ"), id="a shipment"),
        pytest.param(dispute("damaged", order_id="ZZ"), id="a dispute"),
        pytest.param(paid(order_id="ZZ"), id="a payment"),
        pytest.param(cancel_requested(order_id="ZZ"), id="a cancellation"),
    ],
)
def test_events_for_an_unknown_order_are_rejected(event):
    decision = handle_event(None, event, default_policy())
    assert decision.state is None and decision.actions == ()
    assert decision.rejected is not None and "unknown order" in decision.rejected


def test_a_delivered_order_is_forgotten_60_days_later():
    policy = default_policy()
    result = run_full([placed(order_id="I7"), shipped(order_id="I7", at=S), delivered(order_id="I7", at=S + 2 * DAY)])
    state = result.state("I7")
    retire = state.deadline("retire")
    assert retire is not None and retire.due == S + 62 * DAY
    kept = advance(state, S + 62 * DAY, policy)
    assert kept.state is not None and not kept.retired
    gone = advance(state, S + 62 * DAY + US, policy)
    assert gone.retired and gone.state is None
    late = handle_event(state, dispute("damaged", order_id="I7", at=S + 63 * DAY), policy)
    assert late.state is None and late.retired and late.rejected is not None


def test_a_dispute_within_the_retention_keeps_the_order():
    events = [
        placed(order_id="I8"),
        shipped(order_id="I8", at=S),
        delivered(order_id="I8", at=S + 2 * DAY),
        dispute("damaged", order_id="I8", at=S + 50 * DAY),
    ]
    result = run_full(events, until=S + 70 * DAY)
    state = result.states["I8"]
    assert state is not None and state.dispute is not None  # an open dispute is not forgotten


def test_a_cancelled_order_retires_too():
    policy = policy_with({"retain_closed_days": 10})
    result = run_full(
        [placed(order_id="I9"), cancel_requested(order_id="I9", at=S)], until=S + 10 * DAY + US, policy=policy
    )
    assert result.states["I9"] is None


def test_every_action_explains_itself():
    events = [placed(order_id="I10", marketplace="aliexpress", dest="US"), shipped(order_id="I10", at=S)]
    events.append(status("customs_hold", order_id="I10", at=S + DAY))
    events.append(dispute("returned", order_id="I10", at=S + 3 * DAY))
    for action in run(events, until=S + 30 * DAY):
        assert action.order_id == "I10" and action.store_id == "s1"
        assert action.caused_by and action.reason and action.action_id.startswith("act-")
        assert action.decided_at.utcoffset() is not None


def test_the_engine_never_changes_a_state_it_was_given_nor_one_it_returned():
    """The engine changes its own copy of an order in place; the caller's state (the table's value, the one an
    action is sent before) stays as it was, and a state it returned stays as returned through later calls."""
    from datetime import timedelta
    from pathlib import Path

    from models.events import parse_event

    policy = default_policy()
    day = Path(__file__).resolve().parents[3] / "streams" / "samples" / "day.jsonl"
    orders = {}
    returned = []
    for line in day.read_bytes().splitlines():
        if not line.strip():
            continue
        event = parse_event(line)
        before = orders.get(event.order_id)
        given = before.model_dump() if before is not None else None
        decision = handle_event(before, event, policy)
        if before is not None:
            assert before.model_dump() == given, event.event_id
        if decision.state is not None:
            orders[event.order_id] = decision.state
            returned.append((decision.state, decision.state.model_dump()))
    for state, _ in returned[-50:]:
        advance(state, state.placed_at + timedelta(days=400), policy)  # fires every deadline, retires the order
    assert all(state.model_dump() == dumped for state, dumped in returned)
