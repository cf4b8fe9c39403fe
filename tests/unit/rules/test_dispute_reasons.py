"""dispute_reasons: each AliExpress dispute reason goes to its own path (ROUTE)."""

from __future__ import annotations

import pytest

from models.events import DISPUTE_REASONS
from rules.dispute_reasons import ROUTE
from tests.factories import (
    DAY,
    HOUR,
    T0,
    US,
    briefs,
    cancel_requested,
    closed,
    dispute,
    evidence,
    of_type,
    placed,
    return_received,
    run,
    run_full,
    shipped,
    verified,
)

S = T0 + DAY  # shipped, before ship-by
OPEN = S + 2 * DAY  # within every delivery estimate


def shipped_order(marketplace="tmall", dest="CN", *events):
    return [placed(order_id="R1", marketplace=marketplace, dest=dest), shipped(order_id="R1", at=S), *events]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        pytest.param(
            "invalid_tracking",
            [("expedite", "dispute_reasons", "supplier", None, None)],
            id="invalid tracking: get a valid number",
        ),
        pytest.param(
            "wrong_address",
            [("intercept", "wrong_address", None, None, None)],
            id="wrong address: the wrong_address row",
        ),
        pytest.param(
            "in_transit",
            [("notify_customer", "dispute_reasons", None, None, "tracking_state")],
            id="in transit: tell the tracking state",
        ),
        pytest.param(
            "customs_held", [("notify_customs", "customs_hold", None, None, None)], id="held by customs: customs_hold"
        ),
        pytest.param(
            "returned", [("reissue", "dispute_reasons", None, None, None)], id="returned to sender: reissue (tmall)"
        ),
        pytest.param(
            "not_as_described",
            [("request_evidence", "dispute_reasons", None, None, None)],
            id="not as described: evidence first",
        ),
        pytest.param("quality", [("accept_return", "product_defect", None, None, None)], id="quality: product_defect"),
        pytest.param("damaged", [("request_evidence", "damaged", None, None, None)], id="damaged: the damaged row"),
        pytest.param(
            "short_shipment",
            [("request_evidence", "wrong_or_missing", None, None, None)],
            id="short shipment: wrong_or_missing",
        ),
        pytest.param(
            "counterfeit", [("escalate", "dispute_reasons", None, None, "counterfeit")], id="counterfeit: escalate"
        ),
        pytest.param(
            "wrong_item",
            [("request_evidence", "wrong_or_missing", None, None, None)],
            id="wrong item: wrong_or_missing",
        ),
        pytest.param(
            "missing_item",
            [("request_evidence", "wrong_or_missing", None, None, None)],
            id="missing item: wrong_or_missing",
        ),
        pytest.param(
            "buyer_remorse", [("accept_return", "buyer_remorse", None, None, None)], id="own reason: buyer_remorse"
        ),
        pytest.param("misuse", [("send_guidance", "misuse", None, None, None)], id="misuse: guidance"),
    ],
)
def test_each_reason_goes_to_its_path(reason, expected):
    actions = run(shipped_order("tmall", "CN", dispute(reason, order_id="R1", at=OPEN)), until=OPEN + HOUR)
    assert briefs([a for a in actions if a.decided_at == OPEN]) == expected
    assert ROUTE[reason] in {a.rule for a in actions if a.decided_at == OPEN}


def test_the_route_covers_the_whole_taxonomy():
    assert set(ROUTE) == set(DISPUTE_REASONS)


@pytest.mark.parametrize(
    ("marketplace", "dest", "opened", "expected"),
    [
        pytest.param(
            "tmall",
            "CN",
            S + 7 * DAY,
            ("notify_customer", None, "tracking_state"),
            id="domestic, exactly 7 days: within",
        ),
        pytest.param(
            "tmall", "CN", S + 7 * DAY + US, ("reissue", None, None), id="domestic, past 7 days: reissue (tmall)"
        ),
        pytest.param(
            "aliexpress",
            "CN",
            S + 7 * DAY + US,
            ("refund", "100.00", None),
            id="domestic, past 7 days: refund (aliexpress)",
        ),
        pytest.param(
            "aliexpress",
            "FR",
            S + 29 * DAY,
            ("notify_customer", None, "tracking_state"),
            id="international, day 29 of 30: within",
        ),
        pytest.param(
            "aliexpress", "FR", S + 30 * DAY + US, ("refund", "100.00", None), id="international, past 30 days: refund"
        ),
        pytest.param(
            "aliexpress",
            "US",
            S + 21 * DAY,
            ("refund", "100.00", None),
            id="to the US the estimate is 20 days (region)",
        ),
        pytest.param(
            "aliexpress",
            "US",
            S + 19 * DAY,
            ("notify_customer", None, "tracking_state"),
            id="to the US, day 19: within",
        ),
    ],
)
def test_in_transit_within_vs_beyond_the_delivery_estimate(marketplace, dest, opened, expected):
    actions = run(shipped_order(marketplace, dest, dispute("in_transit", order_id="R1", at=opened)))
    (action,) = [a for a in actions if a.rule == "dispute_reasons"]
    assert (action.type, None if action.amount is None else str(action.amount), action.notice) == expected


def test_in_transit_before_shipment_and_before_ship_by_says_when_it_ships():
    actions = run([placed(order_id="R1"), dispute("in_transit", order_id="R1", at=T0 + DAY)])
    assert briefs(actions) == [("notify_customer", "dispute_reasons", None, None, "not_yet_shipped")]


def test_returned_to_sender_on_aliexpress_refunds():
    actions = run(shipped_order("aliexpress", "FR", dispute("returned", order_id="R1", at=OPEN)))
    assert briefs(actions) == [("refund", "dispute_reasons", "customer", "100.00", None)]


def test_a_second_dispute_while_one_is_open_is_escalated():
    events = shipped_order(
        "tmall", "CN", dispute("damaged", order_id="R1", at=OPEN), dispute("counterfeit", order_id="R1", at=OPEN + HOUR)
    )
    actions = [a for a in run(events) if a.decided_at == OPEN + HOUR]
    assert briefs(actions) == [("escalate", "dispute_reasons", None, None, "overlapping_dispute")]


def test_a_new_dispute_after_the_first_closed_is_a_new_case():
    events = shipped_order(
        "aliexpress",
        "FR",
        dispute("returned", order_id="R1", at=OPEN),
        closed(order_id="R1", at=OPEN + DAY),
        dispute("misuse", order_id="R1", at=OPEN + 2 * DAY),
    )
    result = run_full(events)
    assert result.state("R1").dispute is not None and result.state("R1").dispute.cause == "dispute-2"
    assert [a.type for a in of_type(result.actions, "send_guidance")] == ["send_guidance"]


# ---------------------------------------------------------------- resolutions re-checked against the playbook

DR = "dispute_reasons"
REISSUE = ("reissue", DR, None, None, None)


def r1(fn, at, *args, **kw):
    return fn(*args, order_id="R1", at=at, **kw)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [r1(cancel_requested, T0 + HOUR), r1(dispute, T0 + DAY, "returned")],
            [
                ("cancel_supplier_order", "customer_cancel", None, None, None),
                ("refund", "customer_cancel", "customer", "100.00", None),
                ("escalate", DR, None, None, "already_refunded"),
            ],
            id="cancelled, refunded in full, never shipped, then 'returned': no reissue, a person answers",
        ),
        pytest.param(
            [r1(dispute, T0 + DAY, "returned")],
            [("escalate", DR, None, None, "reissue_unshipped")],
            id="'returned' on an order that never shipped: nothing to reissue, a person decides",
        ),
        pytest.param(
            [r1(shipped, S), r1(dispute, OPEN, "returned")],
            [REISSUE],
            id="'returned' on a shipped order: reissue, as before",
        ),
        pytest.param(
            [
                r1(shipped, S),
                r1(dispute, OPEN, "returned"),
                r1(dispute, OPEN + DAY, "returned"),
                r1(return_received, OPEN + 2 * DAY),
            ],
            [REISSUE, ("escalate", DR, None, None, "overlapping_dispute")],
            id="reissued, a second dispute escalated, then goods arrive: no refund on top of the reissue",
        ),
        pytest.param(
            [r1(dispute, T0 + HOUR, "in_transit"), r1(dispute, T0 + 2 * HOUR, "customs_held"), r1(verified, T0 + DAY)],
            [
                ("notify_customer", DR, None, None, "not_yet_shipped"),
                ("escalate", DR, None, None, "overlapping_dispute"),
            ],
            id="a verification after a second dispute was escalated does not resolve a where-is-it question",
        ),
        pytest.param(
            [r1(shipped, S), r1(dispute, OPEN, "counterfeit"), r1(verified, OPEN + DAY)],
            [("escalate", DR, None, None, "counterfeit")],
            id="a counterfeit handed to a person is not reissued on a verification",
        ),
        pytest.param(
            [
                r1(shipped, S),
                r1(dispute, OPEN, "wrong_item"),
                r1(evidence, OPEN + HOUR),
                r1(dispute, OPEN + DAY, "damaged"),
            ],
            [
                ("request_evidence", "wrong_or_missing", None, None, None),
                ("open_claim", "wrong_or_missing", None, None, None),
                ("escalate", DR, None, None, "overlapping_dispute"),
            ],
            id="evidence given, then a second dispute: no 'no evidence' escalation later",
        ),
        pytest.param(
            [r1(shipped, S), r1(dispute, OPEN, "buyer_remorse", return_cost="90.00"), r1(return_received, OPEN + DAY)],
            [("offer_coupon", "buyer_remorse", "customer", "10.00", None)],
            id="a coupon instead of a return, then goods arrive anyway: no refund",
        ),
    ],
)
def test_decisions_rechecked_against_the_playbook(events, expected):
    everything = [placed(order_id="R1"), *events]
    # the clock's own checks of an unshipped order (expedite, switch) are not what this is about
    clock = {"penalty_points", "overdue_expedite", "overdue_switch", "supplier_unresponsive"}
    actions = [a for a in run(everything, until=OPEN + 20 * DAY) if a.rule not in clock]
    assert briefs(actions) == expected
    when = {e.event_id: e.occurred_at for e in everything}
    assert all(a.decided_at == when[a.caused_by[-1]] for a in actions)


@pytest.mark.parametrize(
    ("before", "notice"),
    [
        pytest.param([r1(cancel_requested, T0 + HOUR)], "already_refunded", id="refunded in full"),
        pytest.param([], "reissue_unshipped", id="never shipped"),
    ],
)
def test_each_dispute_on_an_order_with_nothing_to_reissue_is_escalated(before, notice):
    events = [placed(order_id="R1"), *before]
    for n in range(2):  # both before the ship-by (a non-receipt dispute after it is a refusal-to-ship case)
        events += [r1(dispute, T0 + (2 + 3 * n) * HOUR, "returned"), r1(closed, T0 + (3 + 3 * n) * HOUR)]
    escalations = [a for a in run(events) if a.notice == notice]
    assert [a.decided_at for a in escalations] == [T0 + 2 * HOUR, T0 + 5 * HOUR]
    assert escalations[0].action_id != escalations[1].action_id
