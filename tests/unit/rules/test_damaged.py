"""damaged: the wrong_or_missing path; a delivery refused for transit damage → refund at once + claim the carrier."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    T0,
    US,
    briefs,
    customer_refunds,
    delivered,
    dispute,
    evidence,
    of_type,
    placed,
    run,
    shipped,
    status,
    verified,
)

S = T0 + DAY
R = "damaged"


def order(*events, marketplace="tmall"):
    return [placed(order_id="D1", marketplace=marketplace), shipped(order_id="D1", at=S), *events]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            order(status("delivery_refused", order_id="D1", at=S + 2 * DAY, refusal_reason="damaged")),
            [("refund", R, "customer", "100.00", None), ("claim_carrier", R, None, None, None)],
            id="buyer refused a parcel damaged in transit: refund at once, then claim the carrier",
        ),
        pytest.param(
            order(status("delivery_refused", order_id="D1", at=S + 2 * DAY, refusal_reason="other")),
            [],
            id="refused for another reason: not this row",
        ),
        pytest.param(
            order(status("delivery_refused", order_id="D1", at=S + 2 * DAY)),
            [],
            id="refused, no reason given: not this row",
        ),
        pytest.param(
            order(delivered(order_id="D1", at=S + 2 * DAY), dispute("damaged", order_id="D1", at=S + 3 * DAY)),
            [("request_evidence", R, None, None, None)],
            id="buyer reports damage: ask for evidence",
        ),
        pytest.param(
            order(
                delivered(order_id="D1", at=S + 2 * DAY),
                dispute("damaged", order_id="D1", at=S + 3 * DAY),
                evidence(order_id="D1", at=S + 4 * DAY, kind="video"),
                verified(True, order_id="D1", at=S + 10 * DAY),
            ),
            [
                ("request_evidence", R, None, None, None),
                ("open_claim", R, None, None, None),
                ("reissue", R, None, None, None),
            ],
            id="damage verified on tmall: reissue",
        ),
        pytest.param(
            order(
                delivered(order_id="D1", at=S + 2 * DAY),
                dispute("damaged", order_id="D1", at=S + 3 * DAY),
                evidence(order_id="D1", at=S + 4 * DAY),
                verified(True, order_id="D1", at=S + 10 * DAY),
                marketplace="aliexpress",
            ),
            [
                ("request_evidence", R, None, None, None),
                ("open_claim", R, None, None, None),
                ("refund", R, "customer", "100.00", None),
            ],
            id="damage verified on aliexpress: refund",
        ),
    ],
)
def test_damaged(events, expected):
    assert briefs([a for a in run(events) if a.rule == R]) == expected


def test_refund_at_once_is_dated_at_the_refusal():
    at = S + 2 * DAY
    actions = run(order(status("delivery_refused", order_id="D1", at=at, refusal_reason="damaged")), until=at + US)
    assert [a.decided_at for a in actions if a.rule == R] == [at, at]


def test_a_later_damage_claim_cannot_refund_the_refused_parcel_twice():
    events = order(
        status("delivery_refused", order_id="D1", at=S + 2 * DAY, refusal_reason="damaged"),
        dispute("damaged", order_id="D1", at=S + 3 * DAY),
        evidence(order_id="D1", at=S + 4 * DAY),
        verified(True, order_id="D1", at=S + 10 * DAY),
        marketplace="aliexpress",
    )
    actions = run(events)
    assert [a.amount for a in customer_refunds(actions)] == [100]
    (blocked,) = of_type(actions, "escalate", R)
    assert blocked.notice == "refund_blocked"
