"""The order view's JSON (`GET /orders/ID`): what a store manager reads when asking "why?"."""

from __future__ import annotations

import orjson

from models.actions import action_id_for
from streams.worker.web import order_view_json
from tests.factories import DAY, T0, action_held, delivered, dispute, evidence, placed, run_full, shipped, verified

REFUND = action_id_for("V1", "wrong_or_missing", "refund", "customer-dispute-1")


def test_a_held_refund_shows_as_held_with_its_amount_and_the_decisions_behind_it() -> None:
    events = [
        placed(order_id="V1", marketplace="aliexpress"),
        shipped(order_id="V1", at=T0 + DAY),
        delivered(order_id="V1", at=T0 + 5 * DAY),
        dispute("wrong_item", order_id="V1", at=T0 + 6 * DAY),
        evidence(order_id="V1", at=T0 + 7 * DAY),
        verified(True, order_id="V1", at=T0 + 20 * DAY),
        action_held(order_id="V1", at=T0 + 21 * DAY, action_id=REFUND, reason="above the single-refund limit"),
    ]
    view = orjson.loads(orjson.dumps(order_view_json(run_full(events).states["V1"])))  # as served: JSON
    assert view["customer_refunds"] == [
        {"action_id": REFUND, "cause": "dispute-1", "amount": "100.00", "currency": "CNY", "status": "held"}
    ]
    decided = {(d["action_id"], d["type"]) for d in view["decisions"]}
    assert (REFUND, "refund") in decided
    assert (action_id_for("V1", "wrong_or_missing", "escalate", f"held-{REFUND}"), "escalate") in decided
