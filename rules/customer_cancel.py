"""customer_cancel: the buyer cancels.

Not shipped yet: cancel the supplier order and refund. Shipped and domestic:
intercept, and refund only if the interception succeeds (failed → no refund,
tell the buyer). Shipped and international: no interception, no refund, tell
the buyer. wrong_address follows the same path (`cancel_or_intercept`).
Ours: no interception result within `intercept_result_wait_days` → escalate; a buyer refunded in full by
someone else before shipment is treated as a cancellation (the supplier order is cancelled).
"""

from __future__ import annotations

from typing import Literal

from models.events import OrderCancelRequested, OrderRefunded, ShipmentInterceptResult
from models.state import OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, days
from rules.lifecycle import PRE_SHIPMENT_RULES, retire_at

CancelCause = Literal["customer_cancel", "wrong_address"]


def cancel_or_intercept(plan: Plan, why: str, cause: CancelCause) -> None:
    order = plan.order
    if order.cancelled_at is not None:
        plan.note(f"{why}, but the order is already cancelled")
        return
    if not order.shipped:
        plan.act("cancel_supplier_order", "cancel", f"{why} before shipment: cancel the supplier order")
        plan.refund_customer("order", order.amount, f"{why} before shipment: refund the customer")
        plan.settle(*PRE_SHIPMENT_RULES)
        plan.update(cancelled_at=plan.at)
        plan.order = retire_at(plan.order, plan.ctx, plan.at)
    elif order.delivered_at is not None:
        plan.act(
            "notify_customer",
            "already-delivered",
            f"{why} after delivery: nothing to intercept; tell the buyer how to return it",
            notice="already_delivered",
        )
    elif order.domestic:
        if order.interception is not None:
            plan.note(f"{why}: an interception was already requested ({order.interception})")
            return
        plan.act("intercept", "intercept", f"{why} after shipment, domestic parcel: ask the carrier to intercept it")
        plan.update(interception="pending", interception_cause=cause)
        plan.schedule("intercept", plan.at + days(plan.thresholds.intercept_result_wait_days))
    else:
        plan.act(
            "notify_customer",
            "international-no-intercept",
            f"{why} after shipment, international parcel ({order.origin_country}→{order.destination_country}): "
            "no interception and no refund; tell the buyer",
            notice="international_no_interception",
        )


def interception_result(plan: Plan, trigger: Trigger) -> None:
    order = plan.order
    if isinstance(trigger, ShipmentInterceptResult):
        if order.interception != "pending":
            plan.note(f"interception result with no interception pending ({order.interception})")
            return
        plan.settle(plan.rule, key="intercept")
        if trigger.succeeded:
            plan.refund_customer("order", order.amount, "the carrier intercepted the parcel: refund the customer")
            plan.update(interception="succeeded", cancelled_at=plan.at)
            plan.order = retire_at(plan.order, plan.ctx, plan.at)
        else:
            plan.act(
                "notify_customer",
                "interception-failed",
                "the interception failed: no refund; tell the buyer",
                notice="interception_failed",
            )
            plan.update(interception="failed")
    elif isinstance(trigger, Due) and order.interception == "pending":
        plan.act(
            "escalate",
            "intercept-overdue",
            f"no interception result {plan.thresholds.intercept_result_wait_days:g} days after asking the carrier",
            notice="interception_overdue",
        )


def refunded_before_shipment(plan: Plan) -> None:
    """The buyer was paid back in full by someone else (the platform, a person) before the order shipped:
    there is no order left to ship, so the supplier order is cancelled as for a buyer's cancellation."""
    order = plan.order
    if order.shipped or order.cancelled_at is not None or order.customer_refunded < order.amount:
        return
    plan.act(
        "cancel_supplier_order", "cancel", "the buyer was refunded in full before shipment: cancel the supplier order"
    )
    plan.settle(*PRE_SHIPMENT_RULES)
    plan.update(cancelled_at=plan.at)
    plan.order = retire_at(plan.order, plan.ctx, plan.at)


def customer_cancel(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "customer_cancel")
    if isinstance(trigger, OrderCancelRequested):
        cancel_or_intercept(plan, "the buyer cancelled", "customer_cancel")
    elif isinstance(trigger, OrderRefunded) and trigger.party == "customer":
        external = any(
            r.action_id == trigger.event_id and r.cause.startswith("external-") for r in order.customer_refunds
        )
        if external:
            refunded_before_shipment(plan)
    else:
        interception_result(plan, trigger)
    return plan.done()
