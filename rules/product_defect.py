"""product_defect: the seller's product is at fault (a quality problem) → accept the return or exchange
at once, before the buyer's mood turns into a dispute (seed 004)."""

from __future__ import annotations

from models.events import DisputeOpened
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger
from rules.return_windows import start_return_window


def product_defect(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "product_defect")
    case = order.dispute
    if isinstance(trigger, DisputeOpened) and case is not None:
        units = trigger.quantity if trigger.quantity is not None else order.units
        plan.update(dispute=case.model_copy(update={"quantity": units}))
        plan.act(
            "accept_return",
            case.cause,
            "quality problem with the product: accept the return or exchange at once, before it becomes a dispute",
            quantity=units,
        )
        start_return_window(plan)
    return plan.done()
