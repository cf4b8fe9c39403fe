"""misuse: the buyer misuses a working product → send usage guidance in plain words; no refund (seed 004)."""

from __future__ import annotations

from models.events import DisputeOpened
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger


def misuse(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "misuse")
    if isinstance(trigger, DisputeOpened) and order.dispute is not None:
        plan.act(
            "send_guidance",
            order.dispute.cause,
            "the product works but is being misused: send usage guidance in plain words; no refund",
        )
    return plan.done()
