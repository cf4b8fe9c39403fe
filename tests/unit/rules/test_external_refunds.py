"""order.refunded (party customer): the execution of a refund the engine decided (caused_by = its action id) only
settles it; any other customer refund (the platform, a person) is external: it counts against what may still be
refunded, and a full one before shipment cancels the order."""

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
    assert [brief(a) for a in result.actions if a.decided_at > REPRO_REFUND] == []
    state = result.state("T1")
    assert state.cancelled_at == REPRO_REFUND
    assert state.customer_refunds == (
        CustomerRefund(cause="external-plat-refund-1", amount=Decimal("100.00"), action_id="plat-refund-1"),
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
            [],
            T0 + DAY,
            "100.00",
            id="refunded in full before shipment: cancelled, no expedite, no switch, no refund",
        ),
        pytest.param(
            unshipped(
                refunded(order_id="E1", at=T0 + DAY, amount="30.00"),
                refunded(order_id="E1", at=T0 + 2 * DAY, amount="70.00"),
            ),
            [],
            T0 + 2 * DAY,
            "100.00",
            id="refunded in two parts: cancelled when the total reaches the amount",
        ),
        pytest.param(
            unshipped(refunded(order_id="E1", at=T0 + DAY, amount="120.00")),
            [],
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
            [],
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
    if not expected:
        assert not [d for d in state.deadlines if d.rule in PRE_SHIPMENT]


def test_the_external_refund_is_recorded_under_its_event_id():
    result = run_full(unshipped(refunded(order_id="E1", at=T0 + DAY, amount="30.00", event_id="ops-77")))
    state = result.state("E1")
    assert state.customer_refunds == (CustomerRefund(cause="external-ops-77", amount=Decimal("30.00"), action_id="ops-77"),)
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
    ("caused_by", "refunds", "blocked", "refunded_total"),
    [
        pytest.param(
            "ENGINE", ["60.00", "40.00"], 0, "100.00", id="caused_by the engine's refund: not counted twice, 40 still paid"
        ),
        pytest.param(None, ["60.00"], 1, "120.00", id="no caused_by: a second 60 was paid, nothing is left to refund"),
        pytest.param(
            "act-not-ours", ["60.00"], 1, "120.00", id="caused_by an id the engine never decided: external too"
        ),
    ],
)
def test_the_execution_of_an_engine_refund_is_not_counted_twice(caused_by, refunds, blocked, refunded_total):
    events, later = two_causes()
    cause = first_refund_id() if caused_by == "ENGINE" else caused_by
    confirmation = refunded(order_id="E3", at=T0 + 5 * DAY, amount="60.00", caused_by=cause)
    result = run_full([*events, confirmation, *later], until=T0 + 90 * DAY)
    money = customer_refunds(result.actions)
    assert [str(a.amount) for a in money] == refunds
    assert len([a for a in result.actions if a.notice == BLOCKED]) == blocked
    state = result.state("E3")
    assert state.customer_refunded == Decimal(refunded_total)
    assert state.refunds_done == Decimal("60.00")
    assert [r.cause.startswith("external-") for r in state.customer_refunds] == (
        [False, False] if caused_by == "ENGINE" else [False, True]
    )


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
