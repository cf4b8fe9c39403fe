"""The order view's JSON (`GET /orders/ID`): what a store manager reads when asking "why?"."""

from __future__ import annotations

import orjson

from models.actions import action_id_for
from streams.worker.web import order_view_json
from tests.factories import (
    DAY,
    T0,
    action_held,
    delivered,
    dispute,
    evidence,
    placed,
    refunded,
    return_shipped,
    run_full,
    shipped,
    verified,
)

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
        {
            "action_id": REFUND,
            "type": "refund",
            "cause": "dispute-1",
            "amount": "100.00",
            "currency": "CNY",
            "status": "held",
        }
    ]
    decided = {(d["action_id"], d["type"]) for d in view["decisions"]}
    assert (REFUND, "refund") in decided
    assert (action_id_for("V1", "wrong_or_missing", "escalate", f"held-{REFUND}"), "escalate") in decided


ABANDON = action_id_for("V2", "return_windows", "abandon_return", "dispute-1")


def _abandoned(*later: object) -> dict[str, object]:
    events = [
        placed(order_id="V2"),
        shipped(order_id="V2", at=T0 + DAY),
        dispute("quality", order_id="V2", at=T0 + 4 * DAY),
        return_shipped(order_id="V2", at=T0 + 6 * DAY, return_cost="120.00"),
        *later,
    ]
    view: dict[str, object] = orjson.loads(orjson.dumps(order_view_json(run_full(events).states["V2"])))  # type: ignore[arg-type]
    return view


def test_an_abandoned_return_is_a_customer_refund_in_the_view_awaited_held_then_confirmed() -> None:
    """The buyer keeps the goods and is refunded: the view shows it among the customer refunds, with the
    status the executor's reports give it, like any refund."""
    (awaited,) = _abandoned()["customer_refunds"]  # type: ignore[misc]
    assert awaited == {
        "action_id": ABANDON,
        "type": "abandon_return",
        "cause": "dispute-1",
        "amount": "100.00",
        "currency": "CNY",
        "status": "awaiting",
    }
    held = action_held(order_id="V2", at=T0 + 7 * DAY, action_id=ABANDON, reason="above the single-refund limit")
    assert [r["status"] for r in _abandoned(held)["customer_refunds"]] == ["held"]  # type: ignore[attr-defined]
    done = refunded(order_id="V2", at=T0 + 8 * DAY, caused_by=ABANDON)
    assert [r["status"] for r in _abandoned(held, done)["customer_refunds"]] == ["confirmed"]  # type: ignore[attr-defined]
