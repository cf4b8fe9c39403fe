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
    closed,
    dispute,
    of_type,
    placed,
    run,
    run_full,
    shipped,
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
