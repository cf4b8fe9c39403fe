"""no_stock: supplier refund of the original purchase, then reorder elsewhere; none left → refund the customer."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    HOUR,
    T0,
    briefs,
    cancel_requested,
    out_of_stock,
    oversize_rejected,
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

P = placed(marketplace="jd", order_id="N1")
ORDERED = supplier_ordered(order_id="N1", at=T0 + HOUR, cost="60.00")


def n1(event_fn, **kw):
    return event_fn(order_id="N1", **kw)


SUPPLIER_REFUND_60 = ("refund", "no_stock", "supplier", "60.00", None)
REORDER = ("reorder", "no_stock", "supplier", None, None)
CUSTOMER_REFUND = ("refund", "no_stock", "customer", "100.00", None)
TELL_BUYER = ("notify_customer", "no_stock", None, None, "no_alternative_supplier")


@pytest.mark.parametrize(
    ("events", "policy", "expected"),
    [
        pytest.param(
            [P, ORDERED, n1(out_of_stock, at=T0 + DAY)],
            None,
            [SUPPLIER_REFUND_60, REORDER],
            id="no stock: supplier refund then reorder",
        ),
        pytest.param(
            [P, ORDERED, n1(out_of_stock, at=T0 + DAY), n1(out_of_stock, at=T0 + DAY + HOUR)],
            None,
            [SUPPLIER_REFUND_60, REORDER],
            id="a second report while the reorder is unconfirmed changes nothing",
        ),
        pytest.param(
            [
                P,
                ORDERED,
                n1(out_of_stock, at=T0 + DAY),
                n1(reordered, at=T0 + 2 * DAY, cost="70.00"),
                n1(out_of_stock, at=T0 + 3 * DAY),
            ],
            None,
            [
                SUPPLIER_REFUND_60,
                REORDER,
                ("refund", "no_stock", "supplier", "70.00", None),
                CUSTOMER_REFUND,
                TELL_BUYER,
            ],
            id="the alternative is out of stock too: refund the customer and tell them",
        ),
        pytest.param(
            [P, ORDERED, n1(out_of_stock, at=T0 + DAY)],
            policy_with({"max_reorder_attempts": 0}),
            [SUPPLIER_REFUND_60, CUSTOMER_REFUND, TELL_BUYER],
            id="no alternative allowed by the policy: refund at once",
        ),
        pytest.param(
            [
                P,
                ORDERED,
                n1(out_of_stock, at=T0 + DAY),
                n1(reordered, at=T0 + 2 * DAY, cost="70.00"),
                n1(out_of_stock, at=T0 + 3 * DAY),
            ],
            policy_with({"max_reorder_attempts": 2}),
            [SUPPLIER_REFUND_60, REORDER, ("refund", "no_stock", "supplier", "70.00", None), REORDER],
            id="two alternatives allowed: a second reorder",
        ),
        pytest.param(
            [P, ORDERED, n1(shipped, at=T0 + DAY), n1(out_of_stock, at=T0 + 2 * DAY)],
            None,
            [],
            id="already shipped: nothing",
        ),
        pytest.param(
            [P, n1(cancel_requested, at=T0 + HOUR), n1(out_of_stock, at=T0 + 2 * HOUR)],
            None,
            [],
            id="already cancelled: nothing more",
        ),
    ],
)
def test_no_stock(events, policy, expected):
    actions = [a for a in run(events, policy=policy) if a.rule == "no_stock"]
    assert briefs(actions) == expected


def test_reorder_numbers_the_attempt_and_resets_the_ship_by():
    result = run_full([P, ORDERED, n1(out_of_stock, at=T0 + DAY)])
    reorder = next(a for a in result.actions if a.type == "reorder")
    assert reorder.attempt == 1
    state = result.state("N1")
    assert state.supplier_attempt == 1 and not state.supplier_ordered
    assert state.ship_by == T0 + DAY + 72 * HOUR


def test_the_customer_refund_cancels_the_order_and_its_pre_shipment_checks():
    result = run_full([P, ORDERED, n1(out_of_stock, at=T0 + DAY)], policy=policy_with({"max_reorder_attempts": 0}))
    state = result.state("N1")
    assert state.cancelled_at == T0 + DAY
    assert {d.rule for d in state.deadlines} == {"retire"}
    # and the clock adds nothing afterwards
    later = run(
        [P, ORDERED, n1(out_of_stock, at=T0 + DAY)],
        until=T0 + 30 * DAY,
        policy=policy_with({"max_reorder_attempts": 0}),
    )
    assert len(later) == 3


# ---------------------------------------------------------------- messages from a supplier the order left

SUP1 = supplier_ordered(order_id="N1", at=T0 + HOUR, cost="60.00", supplier_id="sup-1")
TO_SUP2 = [
    SUP1,
    n1(out_of_stock, at=T0 + DAY, supplier_id="sup-1"),
    n1(reordered, at=T0 + 2 * DAY, supplier_id="sup-2"),
]
SWITCHED = [SUPPLIER_REFUND_60, REORDER]
LEFT_SUP1 = "the message names supplier sup-1, but the order was moved to sup-2: ignored"
OVERSIZE_SWITCH = [
    ("refund", "oversize", "supplier", "65.00", None),
    ("refund", "oversize", "customer", "100.00", None),
    ("notify_customer", "oversize", None, None, "no_alternative_supplier"),
]


@pytest.mark.parametrize(
    ("late", "expected_after_switch", "note"),
    [
        pytest.param(
            n1(out_of_stock, at=T0 + 3 * DAY, supplier_id="sup-1"),
            [],
            "no stock reported: " + LEFT_SUP1,
            id="late no-stock from the old supplier: ignored, no customer refund",
        ),
        pytest.param(
            n1(out_of_stock, at=T0 + 3 * DAY, supplier_id="sup-2"),
            [("refund", "no_stock", "supplier", "65.00", None), CUSTOMER_REFUND, TELL_BUYER],
            None,
            id="no stock from the supplier the order is with: the no_stock path",
        ),
        pytest.param(
            n1(out_of_stock, at=T0 + 3 * DAY),
            [("refund", "no_stock", "supplier", "65.00", None), CUSTOMER_REFUND, TELL_BUYER],
            None,
            id="no stock naming no supplier: taken as the current supplier's",
        ),
        pytest.param(
            n1(oversize_rejected, at=T0 + 3 * DAY, supplier_id="sup-1"),
            [],
            "oversize rejection: " + LEFT_SUP1,
            id="late oversize rejection about the old supplier: ignored",
        ),
        pytest.param(
            n1(oversize_rejected, at=T0 + 3 * DAY, supplier_id="sup-2"),
            OVERSIZE_SWITCH,
            None,
            id="oversize rejection about the current supplier: the no_stock path",
        ),
        pytest.param(
            n1(supplier_unresponsive, at=T0 + 3 * DAY, supplier_id="sup-1"),
            [],
            "supplier reported unresponsive: " + LEFT_SUP1,
            id="the old supplier reported unresponsive: ignored",
        ),
        pytest.param(
            n1(supplier_unresponsive, at=T0 + 3 * DAY, supplier_id="sup-2"),
            [
                ("refund", "supplier_unresponsive", "supplier", "65.00", None),
                ("refund", "supplier_unresponsive", "customer", "100.00", None),
                ("notify_customer", "supplier_unresponsive", None, None, "no_alternative_supplier"),
            ],
            None,
            id="the current supplier reported unresponsive: the no_stock path",
        ),
    ],
)
def test_only_the_current_supplier_drives_the_order(late, expected_after_switch, note):
    result = run_full([P, *TO_SUP2, late])
    assert briefs([a for a in result.actions if a.party is not None or a.notice]) == SWITCHED + expected_after_switch
    assert all(a.decided_at == late.occurred_at for a in result.actions[2:])
    notes = [n for d in result.decisions[-1:] for n in d.notes]
    assert (note in " | ".join(notes)) if note else not any("ignored" in n for n in notes)
    if note:
        assert result.state("N1").supplier_id == "sup-2"


def test_a_reply_from_the_old_supplier_does_not_close_the_new_one_s_reply_window():
    policy = policy_with({"supplier_reply_window_hours": 24}, version="reply-24h")
    expedite_at = T0 + DAY + 72 * HOUR + 2 * DAY  # the ship-by set at the switch + 2 days
    window_end = expedite_at + 24 * HOUR
    old_reply = n1(supplier_replied, at=expedite_at + HOUR, supplier_id="sup-1")
    new_reply = n1(supplier_replied, at=expedite_at + HOUR, supplier_id="sup-2")
    late = run([P, *TO_SUP2, old_reply], until=window_end + HOUR, policy=policy)[2:]
    assert [(a.type, a.rule, a.decided_at) for a in late] == [
        ("expedite", "overdue_expedite", expedite_at),
        ("refund", "supplier_unresponsive", window_end),
        ("refund", "supplier_unresponsive", window_end),
        ("notify_customer", "supplier_unresponsive", window_end),
    ]
    answered = run([P, *TO_SUP2, new_reply], until=window_end + HOUR, policy=policy)[2:]
    assert [(a.type, a.decided_at) for a in answered] == [("expedite", expedite_at)]


def test_after_a_reorder_any_other_supplier_is_ignored_even_one_never_seen():
    result = run_full([P, *TO_SUP2, n1(out_of_stock, at=T0 + 3 * DAY, supplier_id="sup-9")])
    assert briefs(result.actions) == SWITCHED
    assert result.state("N1").supplier_id == "sup-2"


@pytest.mark.parametrize(
    "events",
    [
        pytest.param([P, SUP1, n1(out_of_stock, at=T0 + DAY, supplier_id="sup-7")], id="before any switch"),
        pytest.param(
            [
                P,
                SUP1,
                n1(out_of_stock, at=T0 + DAY, supplier_id="sup-1"),
                reordered(order_id="N1", at=T0 + 2 * DAY, cost="65.00", supplier_id=None),
                n1(out_of_stock, at=T0 + 3 * DAY, supplier_id="sup-1"),
            ],
            id="after a reorder that named no supplier",
        ),
    ],
)
def test_with_nothing_to_match_against_a_message_is_applied(events):
    result = run_full(events)
    assert briefs(result.actions)[:2] == SWITCHED
    assert len(result.actions) == (2 if len(events) == 3 else 5)
    assert all("ignored" not in n for d in result.decisions for n in d.notes)


def test_the_no_alternative_refund_is_for_the_order():
    actions = run([P, ORDERED, n1(out_of_stock, at=T0 + DAY)], policy=policy_with({"max_reorder_attempts": 0}))
    (refund,) = [a for a in actions if a.party == "customer"]
    assert (refund.cause, refund.amount, refund.currency, refund.decided_at) == ("order", 100, "CNY", T0 + DAY)


def test_a_switch_keeps_the_warning_before_the_ship_by_promised_to_the_buyer():
    # Refusal-to-ship points count against the ship-by promised at placement, whoever supplies the order.
    events = [placed(marketplace="taobao", order_id="N2"), supplier_ordered(order_id="N2", at=T0 + HOUR)]
    events.append(out_of_stock(order_id="N2", at=T0 + DAY))
    warnings = [a for a in run(events, until=T0 + 3 * DAY) if a.rule == "penalty_points"]
    assert [(a.type, a.decided_at) for a in warnings] == [("expedite", T0 + 60 * HOUR)]
