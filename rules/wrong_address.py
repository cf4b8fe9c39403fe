"""wrong_address: the buyer gave a wrong address → the same path as customer_cancel.

Not shipped: cancel the supplier order and refund; shipped domestic: intercept,
refund only if it succeeds; shipped international: no interception, no refund,
tell the buyer. Triggered by `order.address_invalid` or a "wrong address" dispute.
"""

from __future__ import annotations

from models.events import DisputeOpened, OrderAddressInvalid
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger
from rules.customer_cancel import cancel_or_intercept, interception_result


def wrong_address(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "wrong_address")
    if isinstance(trigger, OrderAddressInvalid | DisputeOpened):
        cancel_or_intercept(plan, "the buyer gave a wrong address", "wrong_address")
    else:
        interception_result(plan, trigger)
    return plan.done()
