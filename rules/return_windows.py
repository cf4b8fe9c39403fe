"""return_windows: after a return is accepted, the buyer has 10 days to enter the return tracking
number, or the case closes in the seller's favour; within 30 days of that, the seller may abandon the
returned goods and the buyer is refunded at once (seed 004).

Abandon (refund without taking the goods back) when the return shipping costs
more than `abandon_above_return_cost_share` of the order value. Otherwise the
refund follows the goods' arrival (the returned units' worth, or the amount
claimed if less); if they have not arrived 30 days after the
buyer shipped them, a person decides. Goods that arrive after the case closed
(abandoned and refunded, or closed in the seller's favour) refund nothing.
"""

from __future__ import annotations

from decimal import Decimal

from models.events import DisputeReturnAccepted, DisputeReturnReceived, DisputeReturnShipped
from models.state import DisputeCase, OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, days

RETURNING = frozenset({"return_accepted", "return_shipped", "return_received", "closed"})
"""Case statuses in which return events are the return's: closed stays, so that goods arriving after an
abandoned return or a seller's win are noted as owing nothing."""


def refund_for_return(order: OrderState, case: DisputeCase) -> Decimal:
    """What a returned case refunds: the returned units' share of the order (all of it when the quantity is not
    known), or the claimed amount if the buyer asked for less. Never more than the units that come back are
    worth: a return capped at fewer units than asked (non_quality_return_cap) refunds only those."""
    worth = order.amount
    if case.quantity is not None and order.units > 0:
        worth = order.amount * min(case.quantity, order.units) / order.units
    if case.amount_claimed is not None:
        return min(case.amount_claimed, worth)
    return worth


def start_return_window(plan: Plan) -> None:
    case = plan.order.dispute
    if case is None:
        return
    plan.update(dispute=case.model_copy(update={"status": "return_accepted"}))
    plan.schedule(
        f"return-tracking-{case.cause}", plan.at + days(plan.thresholds.return_tracking_days), rule="return_windows"
    )


def return_windows(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "return_windows")
    thresholds = ctx.thresholds
    case = order.dispute
    if case is None:
        plan.note("return event with no open dispute")
        return plan.done()
    if isinstance(trigger, DisputeReturnAccepted):
        if trigger.return_cost is not None:
            case = case.model_copy(update={"return_cost": trigger.return_cost})
            plan.update(dispute=case)
        start_return_window(plan)
    elif isinstance(trigger, DisputeReturnShipped) and case.status == "closed":
        # Closed in the seller's favour (no tracking in time) or abandoned: goods sent back now owe nothing.
        plan.note(f"return shipped for {case.cause}, which is already closed: ignored")
    elif isinstance(trigger, DisputeReturnShipped | DisputeReturnReceived) and case.status not in RETURNING:
        # No return was accepted for this case (by the store or the platform): goods sent back without one
        # are not a refund, least of all on a case resolved by a reissue or handed to a person.
        plan.note(
            f"return {trigger.type.rsplit('_', 1)[-1]} for {case.cause} ({case.status}), no return accepted: ignored"
        )
    elif isinstance(trigger, DisputeReturnShipped):
        plan.settle("return_windows", key=f"return-tracking-{case.cause}")
        cost = trigger.return_cost if trigger.return_cost is not None else case.return_cost
        case = case.model_copy(update={"status": "return_shipped", "return_cost": cost})
        plan.update(dispute=case)
        limit = order.amount * Decimal(str(thresholds.abandon_above_return_cost_share))
        if cost is not None and cost > limit:
            plan.act(
                "abandon_return",
                case.cause,
                f"return shipping {cost} {order.currency} costs more than the goods are worth "
                f"({thresholds.abandon_above_return_cost_share:g} × {order.amount}): abandon the return, "
                "the buyer is refunded at once",
                party="customer",
                amount=refund_for_return(order, case).quantize(Decimal("0.01")),
                currency=order.currency,
                cause=case.cause,
            )
            plan.update(dispute=case.model_copy(update={"status": "closed"}))
        else:
            plan.schedule(f"return-receipt-{case.cause}", plan.at + days(thresholds.return_abandon_window_days))
    elif isinstance(trigger, DisputeReturnReceived):
        plan.settle("return_windows", key=f"return-receipt-{case.cause}")
        if case.status == "closed":
            # Abandoned (already refunded) or closed in the seller's favour: goods arriving anyway owe nothing.
            plan.note(f"returned goods arrived for {case.cause}, which is already closed: no refund")
            return plan.done()
        plan.update(dispute=case.model_copy(update={"status": "return_received"}))
        plan.refund_customer(case.cause, refund_for_return(order, case), "the returned goods arrived: refund the buyer")
    elif isinstance(trigger, Due):
        if trigger.key.startswith("return-tracking-") and case.status == "return_accepted":
            plan.act(
                "close_dispute",
                case.cause,
                f"the buyer entered no return tracking number within {thresholds.return_tracking_days} days: "
                "the case closes in the seller's favour",
            )
            plan.update(dispute=case.model_copy(update={"status": "closed"}))
        elif trigger.key.startswith("return-receipt-") and case.status == "return_shipped":
            plan.act(
                "escalate",
                case.cause + "-receipt",
                f"returned goods not received {thresholds.return_abandon_window_days} days after the buyer shipped "
                "them: "
                "abandon (refund) or chase the parcel",
                notice="return_not_received",
            )
    return plan.done()
