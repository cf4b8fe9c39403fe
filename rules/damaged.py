"""damaged: the buyer reports damage → the wrong_or_missing path (evidence, claim, verification, resolution).

If the buyer refused delivery because of transit damage (seed 003: have the
buyer refuse the parcel with the reason written down, refund directly, then
claim against the carrier): customer refund at once, then claim the carrier.
"""

from __future__ import annotations

from models.events import ShipmentUpdate
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger
from rules.claims import claim_path


def damaged(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    if isinstance(trigger, ShipmentUpdate) and not (
        trigger.status == "delivery_refused" and trigger.refusal_reason == "damaged"
    ):
        return Outcome(order)  # most tracking updates
    plan = Plan.of(order, trigger, ctx, "damaged")
    if isinstance(trigger, ShipmentUpdate):
        if trigger.status == "delivery_refused" and trigger.refusal_reason == "damaged":
            plan.refund_customer(
                "order", order.amount, "buyer refused delivery of a parcel damaged in transit: refund at once"
            )
            plan.act(
                "claim_carrier",
                f"refused-{trigger.event_id}",
                f"parcel {trigger.tracking_number} damaged in transit ({trigger.carrier}): claim against the carrier",
            )
        return plan.done()
    claim_path(plan, trigger, "damage")
    return plan.done()
