"""order.refunded (party customer): the execution of a refund the engine decided (caused_by = its action id, or,
with no caused_by, the first unconfirmed engine refund of the same amount) confirms it and settles only that
refund's refund-due deadline; any other customer refund (the platform, a person) is external, recorded confirmed:
it counts against what may still be refunded, settles none of the engine's refund deadlines, and a full one before
shipment makes customer_cancel cancel the supplier order."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from models.state import CustomerRefund
from tests.factories import (
    CST,
    DAY,
    HOUR,
    T0,
    briefs,
    cancel_requested,
    closed,
    customer_refunds,
    delivered,
    dispute,
    evidence,
    of_type,
    one,
    out_of_stock,
    placed,
    refunded,
    return_received,
    return_shipped,
    run,
    run_full,
    shipped,
    supplier_ordered,
    verified,
)

SB = T0 + 3 * DAY  # placed + 72 h handling
PRE_SHIPMENT = {"overdue_expedite", "overdue_switch", "supplier_unresponsive", "penalty_points"}
BLOCKED = "refund_blocked"
OVERDUE = "refund_overdue"
CANCEL = ("cancel_supplier_order", "customer_cancel", None, None, None)


# ---------------------------------------------------------------- the reproduction


REPRO_DISPUTE = datetime(2026, 3, 6, 10, 0, tzinfo=CST)  # a day after ship-by (03-05 10:00)
REPRO_CLOSED = datetime(2026, 3, 7, 10, 0, tzinfo=CST)
REPRO_REFUND = datetime(2026, 3, 7, 11, 0, tzinfo=CST)
APRIL = datetime(2026, 4, 1, 0, 0, tzinfo=CST)


def test_a_platform_refund_after_a_lost_non_receipt_dispute_ends_the_order():
    refund = refunded(order_id="T1", at=REPRO_REFUND, amount="100.00", party="customer", event_id="plat-refund-1")
    events = [
        placed(order_id="T1", marketplace="taobao", amount="100.00"),
        supplier_ordered(order_id="T1", at=T0 + HOUR),
        dispute("in_transit", order_id="T1", at=REPRO_DISPUTE),
        closed(order_id="T1", at=REPRO_CLOSED, outcome="buyer_won"),
        refund,
    ]
    result = run_full(events, until=APRIL)
    assert customer_refunds(result.actions) == []
    assert of_type(result.actions, "reorder") == []
    assert [a for a in result.actions if a.notice == BLOCKED] == []
    # not shipped when the platform refunded in full: customer_cancel cancels the supplier order, then nothing
    assert [brief(a) for a in result.actions if a.decided_at >= REPRO_REFUND] == [CANCEL[:4]]
    cancel = one(result.actions, "cancel_supplier_order")
    assert cancel.decided_at == REPRO_REFUND
    assert cancel.caused_by == ("plat-refund-1",)
    state = result.state("T1")
    assert state.cancelled_at == REPRO_REFUND
    assert state.customer_refunds == (
        CustomerRefund(
            cause="external-plat-refund-1", amount=Decimal("100.00"), action_id="plat-refund-1", confirmed=True
        ),
    )
    assert state.customer_refunded == state.refunds_done == Decimal("100.00")
    assert not [d for d in state.deadlines if d.rule in PRE_SHIPMENT]
    retire = state.deadline("retire")
    assert retire is not None and retire.due == REPRO_REFUND + 60 * DAY


def brief(action):
    return (action.type, action.rule, action.party, None if action.amount is None else str(action.amount))


# ---------------------------------------------------------------- before shipment


def unshipped(*events):
    return [placed(order_id="E1", marketplace="jd"), supplier_ordered(order_id="E1", at=T0 + HOUR), *events]


SWITCHED = [
    ("expedite", "overdue_expedite", "supplier", None, None),
    ("refund", "supplier_unresponsive", "supplier", "60.00", None),
    ("reorder", "supplier_unresponsive", "supplier", None, None),
    ("refund", "overdue_switch", "supplier", None, None),
]


@pytest.mark.parametrize(
    ("events", "expected", "cancelled_at", "refunded_total"),
    [
        pytest.param(
            unshipped(refunded(order_id="E1", at=T0 + DAY, amount="100.00")),
            [CANCEL],
            T0 + DAY,
            "100.00",
            id="refunded in full before shipment: supplier order cancelled, no expedite, no switch, no refund",
        ),
        pytest.param(
            unshipped(
                refunded(order_id="E1", at=T0 + DAY, amount="30.00"),
                refunded(order_id="E1", at=T0 + 2 * DAY, amount="70.00"),
            ),
            [CANCEL],
            T0 + 2 * DAY,
            "100.00",
            id="refunded in two parts: cancelled when the total reaches the amount",
        ),
        pytest.param(
            unshipped(refunded(order_id="E1", at=T0 + DAY, amount="120.00")),
            [CANCEL],
            T0 + DAY,
            "120.00",
            id="refunded more than the amount: cancelled too",
        ),
        pytest.param(
            unshipped(refunded(order_id="E1", at=T0 + DAY, amount="30.00")),
            [
                *SWITCHED,
                ("refund", "overdue_switch", "customer", "70.00", None),
                ("notify_customer", "overdue_switch", None, None, "no_alternative_supplier"),
            ],
            SB + 11 * DAY,
            "100.00",
            id="refunded in part: not cancelled; the final customer refund is only what is left",
        ),
        pytest.param(
            unshipped(refunded(order_id="E1", at=T0 + DAY, amount="100.00", party="supplier")),
            [
                *SWITCHED,
                ("refund", "overdue_switch", "customer", "100.00", None),
                ("notify_customer", "overdue_switch", None, None, "no_alternative_supplier"),
            ],
            SB + 11 * DAY,
            "100.00",
            id="a supplier refund is not a customer refund: nothing cancelled",
        ),
        pytest.param(
            unshipped(
                refunded(order_id="E1", at=T0 + DAY, amount="30.00"),
                cancel_requested(order_id="E1", at=T0 + 2 * DAY),
            ),
            [
                ("cancel_supplier_order", "customer_cancel", None, None, None),
                ("refund", "customer_cancel", "customer", "70.00", None),
            ],
            T0 + 2 * DAY,
            "100.00",
            id="refunded in part, then cancelled by the buyer: the cancel refunds what is left",
        ),
        pytest.param(
            unshipped(
                refunded(order_id="E1", at=T0 + DAY, amount="100.00"),
                cancel_requested(order_id="E1", at=T0 + 2 * DAY),
                out_of_stock(order_id="E1", at=T0 + 3 * DAY),
            ),
            [CANCEL],
            T0 + DAY,
            "100.00",
            id="refunded in full: a later cancel request or stock-out refunds and reorders nothing",
        ),
    ],
)
def test_a_refund_the_engine_did_not_decide_counts_before_shipment(events, expected, cancelled_at, refunded_total):
    result = run_full(events, until=T0 + 40 * DAY)  # a cancelled order is kept 60 days
    assert briefs(result.actions) == expected
    state = result.state("E1")
    assert state.cancelled_at == cancelled_at
    assert state.customer_refunded == Decimal(refunded_total)
    assert not [d for d in state.deadlines if d.rule in PRE_SHIPMENT]  # cancelled (or switched) before the clock
    assert [d.rule for d in state.deadlines] == ["retire"]
    assert state.deadline("retire").due == cancelled_at + 60 * DAY


def test_the_external_refund_is_recorded_under_its_event_id():
    result = run_full(unshipped(refunded(order_id="E1", at=T0 + DAY, amount="30.00", event_id="ops-77")))
    state = result.state("E1")
    assert state.customer_refunds == (
        CustomerRefund(cause="external-ops-77", amount=Decimal("30.00"), action_id="ops-77", confirmed=True),
    )
    assert state.cancelled_at is None
    assert {d.rule for d in state.deadlines} >= {"overdue_expedite", "overdue_switch"}


# ---------------------------------------------------------------- after shipment


def shipped_order(*events):
    return [
        placed(order_id="E2", marketplace="aliexpress"),
        shipped(order_id="E2", at=T0 + HOUR),
        *events,
    ]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            shipped_order(
                refunded(order_id="E2", at=T0 + DAY, amount="100.00"),
                dispute("returned", order_id="E2", at=T0 + 2 * DAY),
            ),
            [("escalate", "dispute_reasons", "customer", "100.00", BLOCKED)],
            id="refunded in full by the platform, then returned to sender: the refund becomes an escalation",
        ),
        pytest.param(
            shipped_order(
                refunded(order_id="E2", at=T0 + DAY, amount="30.00"),
                dispute("returned", order_id="E2", at=T0 + 2 * DAY),
            ),
            [("refund", "dispute_reasons", "customer", "70.00", None)],
            id="refunded 30 by the platform, then returned to sender: 70 left to refund",
        ),
        pytest.param(
            shipped_order(
                refunded(order_id="E2", at=T0 + DAY, amount="100.00", party="supplier"),
                dispute("returned", order_id="E2", at=T0 + 2 * DAY),
            ),
            [("refund", "dispute_reasons", "customer", "100.00", None)],
            id="a supplier refund does not count against the customer's",
        ),
    ],
)
def test_a_refund_the_engine_did_not_decide_counts_after_shipment(events, expected):
    result = run_full(events, until=T0 + 3 * DAY)
    assert briefs(a for a in result.actions if a.rule == "dispute_reasons") == expected
    assert result.state("E2").cancelled_at is None  # shipped: an external refund cancels nothing


# ---------------------------------------------------------------- the engine's own refund, executed


def two_causes(confirmation=None):
    """60 refunded for a verified missing item (aliexpress resolves by refund), then a quality return: 40 left."""
    events = [
        placed(order_id="E3", marketplace="aliexpress"),
        shipped(order_id="E3", at=T0 + HOUR),
        delivered(order_id="E3", at=T0 + DAY),
        dispute("missing_item", order_id="E3", at=T0 + 2 * DAY, amount_claimed="60.00"),
        evidence(order_id="E3", at=T0 + 3 * DAY),
        verified(True, order_id="E3", at=T0 + 4 * DAY),
    ]
    later = [
        closed(order_id="E3", at=T0 + 5 * DAY + HOUR),
        dispute("quality", order_id="E3", at=T0 + 6 * DAY),
        return_shipped(order_id="E3", at=T0 + 7 * DAY),
        return_received(order_id="E3", at=T0 + 9 * DAY),
    ]
    return events, later


def first_refund_id() -> str:
    events, _ = two_causes()
    return one(run(events), "refund", "wrong_or_missing").action_id


@pytest.mark.parametrize(
    ("caused_by", "amount", "refunds", "blocked", "refunded_total", "confirmed"),
    [
        pytest.param(
            "ENGINE",
            "60.00",
            ["60.00", "40.00"],
            0,
            "100.00",
            [True, False],
            id="caused_by the engine's refund: not counted twice, 40 still paid",
        ),
        pytest.param(
            None,
            "60.00",
            ["60.00", "40.00"],
            0,
            "100.00",
            [True, False],
            id="no caused_by, same amount: the engine's refund, confirmed; not counted twice, 40 still paid",
        ),
        pytest.param(
            None,
            "50.00",
            ["60.00"],
            1,
            "110.00",
            [False, True],
            id="no caused_by, another amount: external; nothing is left to refund",
        ),
        pytest.param(
            "act-not-ours",
            "60.00",
            ["60.00"],
            1,
            "120.00",
            [False, True],
            id="caused_by an id the engine never decided: external, even of the same amount",
        ),
    ],
)
def test_the_execution_of_an_engine_refund_is_not_counted_twice(
    caused_by, amount, refunds, blocked, refunded_total, confirmed
):
    events, later = two_causes()
    cause = first_refund_id() if caused_by == "ENGINE" else caused_by
    confirmation = refunded(order_id="E3", at=T0 + 5 * DAY, amount=amount, caused_by=cause, event_id="conf-1")
    result = run_full([*events, confirmation, *later], until=T0 + 90 * DAY)
    money = customer_refunds(result.actions)
    assert [str(a.amount) for a in money] == refunds
    assert len([a for a in result.actions if a.notice == BLOCKED]) == blocked
    state = result.state("E3")
    assert state.customer_refunded == Decimal(refunded_total)
    assert state.refunds_done == Decimal(amount)
    matched = confirmed[0]
    assert [r.cause for r in state.customer_refunds] == (
        ["dispute-1", "dispute-2"] if matched else ["dispute-1", "external-conf-1"]
    )
    assert [r.confirmed for r in state.customer_refunds] == confirmed
    # the engine's 60 is owed by verification + 15 working days: confirmed → settled, else chased
    overdue = [a for a in result.actions if a.notice == OVERDUE]
    assert [(a.rule, a.decided_at) for a in overdue] == ([] if matched else [("wrong_or_missing", money[0].due_by)])


def test_the_execution_of_a_cancel_refund_does_not_cancel_twice_or_count_twice():
    cancel = [placed(order_id="E4", marketplace="jd"), cancel_requested(order_id="E4", at=T0 + HOUR)]
    refund_id = one(run(cancel), "refund", "customer_cancel").action_id
    result = run_full(
        [*cancel, refunded(order_id="E4", at=T0 + DAY, amount="100.00", caused_by=refund_id)], until=T0 + 30 * DAY
    )
    state = result.state("E4")
    assert state.customer_refunded == state.refunds_done == Decimal("100.00")
    assert [r.action_id for r in state.customer_refunds] == [refund_id]
    assert state.cancelled_at == T0 + HOUR
    assert briefs(result.actions) == [
        ("cancel_supplier_order", "customer_cancel", None, None, None),
        ("refund", "customer_cancel", "customer", "100.00", None),
    ]


# ---------------------------------------------------------------- an unrelated refund settles no engine refund


VERIFIED_AT = T0 + 4 * DAY  # 2026-03-06, a Friday
REFUND_DUE = datetime(2026, 3, 27, 10, 0, tzinfo=CST)  # + 15 working days (no holiday in between)


def pending_dispute_refund(*events):
    """A shipped aliexpress order whose verified missing-item claim made the engine refund 60 (not confirmed yet)."""
    return [
        placed(order_id="E7", marketplace="aliexpress"),
        shipped(order_id="E7", at=T0 + HOUR),
        delivered(order_id="E7", at=T0 + DAY),
        dispute("missing_item", order_id="E7", at=T0 + 2 * DAY, amount_claimed="60.00"),
        evidence(order_id="E7", at=T0 + 3 * DAY),
        verified(True, order_id="E7", at=VERIFIED_AT),
        *events,
    ]


@pytest.mark.parametrize(
    "caused_by",
    [
        pytest.param(None, id="no caused_by, another amount"),
        pytest.param("act-not-ours", id="caused_by an id the engine never decided"),
    ],
)
def test_an_unrelated_external_refund_does_not_settle_the_engine_refund_deadline(caused_by):
    extra = refunded(order_id="E7", at=T0 + 5 * DAY, amount="10.00", caused_by=caused_by, event_id="ops-10")
    result = run_full(pending_dispute_refund(extra), until=T0 + 60 * DAY)
    mine = one(result.actions, "refund", "wrong_or_missing")
    assert (mine.party, mine.amount, mine.cause, mine.due_by) == ("customer", Decimal("60.00"), "dispute-1", REFUND_DUE)
    overdue = one(result.actions, "escalate", "wrong_or_missing")
    assert (overdue.notice, overdue.decided_at) == (OVERDUE, REFUND_DUE)
    assert [a for a in result.actions if a.decided_at > T0 + 5 * DAY] == [overdue]
    state = result.state("E7")
    assert state.customer_refunds == (
        CustomerRefund(cause="dispute-1", amount=Decimal("60.00"), action_id=mine.action_id),
        CustomerRefund(cause="external-ops-10", amount=Decimal("10.00"), action_id="ops-10", confirmed=True),
    )
    assert state.customer_refunded == Decimal("70.00")
    assert state.refunds_done == Decimal("10.00")
    assert state.cancelled_at is None  # shipped


def test_the_engine_refund_deadline_is_still_pending_after_an_unrelated_external_refund():
    extra = refunded(order_id="E7", at=T0 + 5 * DAY, amount="10.00", event_id="ops-10")
    state = run_full(pending_dispute_refund(extra)).state("E7")
    due = [d for d in state.deadlines if d.key == "refund-due-dispute-1"]
    assert [(d.rule, d.due) for d in due] == [("wrong_or_missing", REFUND_DUE)]


def test_a_confirmation_then_an_unrelated_refund_keeps_the_engine_refund_settled():
    """The engine's refund confirmed by id, then a 10.00 goodwill refund: nothing is chased."""
    mine = one(run(pending_dispute_refund()), "refund", "wrong_or_missing").action_id
    result = run_full(
        pending_dispute_refund(
            refunded(order_id="E7", at=T0 + 5 * DAY, amount="60.00", caused_by=mine),
            refunded(order_id="E7", at=T0 + 6 * DAY, amount="10.00", event_id="ops-10"),
        ),
        until=T0 + 60 * DAY,
    )
    assert [a for a in result.actions if a.notice == OVERDUE] == []
    state = result.state("E7")
    assert [(r.cause, r.confirmed) for r in state.customer_refunds] == [("dispute-1", True), ("external-ops-10", True)]
    assert not [d for d in state.deadlines if d.key.startswith("refund-due")]


# ---------------------------------------------------------------- a confirmation without caused_by


def full_dispute_refund(*events):
    """A shipped aliexpress order returned to sender: the engine refunds the whole 100 (dispute-1)."""
    return [
        placed(order_id="E8", marketplace="aliexpress"),
        shipped(order_id="E8", at=T0 + HOUR),
        dispute("returned", order_id="E8", at=T0 + DAY),
        *events,
    ]


def test_a_confirmation_without_caused_by_of_the_same_amount_confirms_the_engine_refund():
    result = run_full(
        full_dispute_refund(
            refunded(order_id="E8", at=T0 + 2 * DAY, amount="100.00", event_id="conf-1"),
            closed(order_id="E8", at=T0 + 3 * DAY),
            dispute("missing_item", order_id="E8", at=T0 + 4 * DAY, amount_claimed="30.00"),
            evidence(order_id="E8", at=T0 + 5 * DAY),
            verified(True, order_id="E8", at=T0 + 6 * DAY),
        ),
        until=T0 + 60 * DAY,
    )
    mine = one(result.actions, "refund", "dispute_reasons")
    assert (mine.party, mine.amount, mine.cause) == ("customer", Decimal("100.00"), "dispute-1")
    state = result.state("E8")
    assert state.customer_refunds == (
        CustomerRefund(cause="dispute-1", amount=Decimal("100.00"), action_id=mine.action_id, confirmed=True),
    )
    assert state.customer_refunded == state.refunds_done == state.amount == Decimal("100.00")  # not 200
    assert [a for a in result.actions if a.notice == OVERDUE and a.rule == "dispute_reasons"] == []  # settled
    # the later claim's refund has nothing left to pay: a person decides
    assert customer_refunds(result.actions) == [mine]
    assert briefs(a for a in result.actions if a.decided_at == T0 + 6 * DAY) == [
        ("escalate", "wrong_or_missing", "customer", "30.00", BLOCKED)
    ]


def test_a_confirmation_without_caused_by_confirms_the_first_unconfirmed_refund_of_that_amount_only_once():
    """Two confirmations of 100 without caused_by: the first is the engine's, the second can only be external."""
    result = run_full(
        full_dispute_refund(
            refunded(order_id="E8", at=T0 + 2 * DAY, amount="100.00", event_id="conf-1"),
            refunded(order_id="E8", at=T0 + 3 * DAY, amount="100.00", event_id="conf-2"),
        ),
    )
    state = result.state("E8")
    assert [(r.cause, r.confirmed) for r in state.customer_refunds] == [("dispute-1", True), ("external-conf-2", True)]
    assert state.customer_refunded == state.refunds_done == Decimal("200.00")


def test_a_confirmation_without_caused_by_of_another_amount_is_external():
    result = run_full(
        full_dispute_refund(refunded(order_id="E8", at=T0 + 2 * DAY, amount="99.00", event_id="ops-99")),
        until=T0 + 60 * DAY,
    )
    mine = one(result.actions, "refund", "dispute_reasons")
    state = result.state("E8")
    assert state.customer_refunds == (
        CustomerRefund(cause="dispute-1", amount=Decimal("100.00"), action_id=mine.action_id),
        CustomerRefund(cause="external-ops-99", amount=Decimal("99.00"), action_id="ops-99", confirmed=True),
    )
    assert state.customer_refunded == Decimal("199.00")
    assert state.refunds_done == Decimal("99.00")
    overdue = one(result.actions, "escalate", "dispute_reasons")
    assert (overdue.notice, overdue.decided_at) == (OVERDUE, mine.due_by)


# ---------------------------------------------------------------- a full external refund before shipment


@pytest.mark.parametrize(
    "after",
    [
        pytest.param([], id="nothing follows"),
        pytest.param([cancel_requested(order_id="E1", at=T0 + 2 * DAY)], id="the buyer then cancels"),
        pytest.param(
            [
                cancel_requested(order_id="E1", at=T0 + 2 * DAY),
                refunded(order_id="E1", at=T0 + 3 * DAY, amount="100.00", event_id="ops-2"),
                out_of_stock(order_id="E1", at=T0 + 4 * DAY),
            ],
            id="a cancel request, a second full refund and a stock-out follow",
        ),
    ],
)
def test_a_full_external_refund_before_shipment_cancels_the_supplier_order_once(after):
    result = run_full(
        unshipped(refunded(order_id="E1", at=T0 + DAY, amount="100.00", event_id="ops-1"), *after),
        until=T0 + 40 * DAY,
    )
    assert briefs(result.actions) == [CANCEL]
    cancel = result.actions[0]
    assert (cancel.decided_at, cancel.caused_by) == (T0 + DAY, ("ops-1",))
    state = result.state("E1")
    assert state.cancelled_at == T0 + DAY
    assert [d.rule for d in state.deadlines] == ["retire"]


def test_the_refund_cancel_and_a_buyer_cancel_share_one_decision():
    """Same rule, type and key: a consumer dropping repeats by id sees the supplier order cancelled once."""
    refund_first = run(unshipped(refunded(order_id="E1", at=T0 + DAY, amount="100.00")))
    buyer_first = run(unshipped(cancel_requested(order_id="E1", at=T0 + DAY)))
    assert one(refund_first, "cancel_supplier_order").action_id == one(buyer_first, "cancel_supplier_order").action_id


# ---------------------------------------------------------------- engine defects found by these tests, fixed


def test_a_blocked_refund_is_not_chased_as_overdue():
    result = run_full(
        full_dispute_refund(
            refunded(order_id="E8", at=T0 + 2 * DAY, amount="100.00"),
            closed(order_id="E8", at=T0 + 3 * DAY),
            dispute("missing_item", order_id="E8", at=T0 + 4 * DAY, amount_claimed="30.00"),
            evidence(order_id="E8", at=T0 + 5 * DAY),
            verified(True, order_id="E8", at=T0 + 6 * DAY),
        ),
        until=T0 + 60 * DAY,
    )
    assert [a for a in result.actions if a.notice == OVERDUE] == []


def test_an_earlier_cause_is_chased_even_when_a_later_cause_is_confirmed():
    events, later = two_causes()
    second = one(run([*events, *later]), "refund", "return_windows").action_id
    confirmation = refunded(order_id="E3", at=T0 + 10 * DAY, amount="40.00", caused_by=second)
    result = run_full([*events, *later, confirmation], until=T0 + 90 * DAY)
    overdue = [a for a in result.actions if a.notice == OVERDUE]
    assert [a.decided_at for a in overdue] == [REFUND_DUE]  # dispute-1's 60, verified on the same day as E7's


def test_a_supplier_refund_does_not_cancel_the_supplier_order():
    unshipped_dispute = [
        placed(order_id="E6", marketplace="aliexpress"),
        supplier_ordered(order_id="E6", at=T0 + HOUR),
        dispute("returned", order_id="E6", at=T0 + 2 * HOUR),  # the engine refunds the buyer 100
    ]
    result = run_full([*unshipped_dispute, refunded(order_id="E6", at=T0 + 3 * HOUR, amount="60.00", party="supplier")])
    assert of_type(result.actions, "cancel_supplier_order") == []
