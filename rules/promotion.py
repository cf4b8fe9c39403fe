"""promotion: during a big sale, tell buyers the shipping time up front, ship within 12 hours, track every
parcel, answer before the buyer asks (seed 003).

The shorter ship-by is the promotion window's `handling_time_hours` override
(see `lifecycle.ship_by_for`); this row sends the proactive notices when the
window's `proactive_notices` is on: at placement (ship-by), at shipment
(tracking), and at every tracking problem.
"""

from __future__ import annotations

from models.events import SHIPPED_STATUSES, OrderPlaced, ShipmentUpdate
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger, fmt

TROUBLE = frozenset(
    {"failed_attempt", "exception", "customs_hold", "returned_to_sender", "expired", "available_for_pickup"}
)


def promotion(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    if not ctx.thresholds.proactive_notices:
        return Outcome(order)
    if (
        isinstance(trigger, ShipmentUpdate)
        and trigger.status not in TROUBLE
        and not (trigger.status in SHIPPED_STATUSES and order.shipped_at == trigger.occurred_at)
    ):
        return Outcome(order)  # most tracking updates in a sale: nothing to tell the buyer
    plan = Plan.of(order, trigger, ctx, "promotion")
    sale = order.promotion or "big sale"
    if isinstance(trigger, OrderPlaced):
        plan.act(
            "notify_customer",
            "shipping-time",
            f"{sale}: tell the buyer up front that the order ships by {fmt(order.ship_by)}",
            notice="promotion_shipping_time",
        )
    elif isinstance(trigger, ShipmentUpdate):
        if (
            trigger.status in SHIPPED_STATUSES
            and order.shipped_at == trigger.occurred_at
            and trigger.status not in TROUBLE
        ):
            plan.act(
                "notify_customer",
                "shipped",
                f"{sale}: parcel {trigger.tracking_number} handed to {trigger.carrier}; "
                "send the buyer the tracking number",
                notice="shipped_tracking",
            )
        if trigger.status in TROUBLE:
            plan.act(
                "notify_customer",
                f"{trigger.status}-{trigger.event_id}",
                f"{sale}: tracking reports {trigger.status}; tell the buyer before they ask",
                notice="parcel_issue",
            )
    return plan.done()
