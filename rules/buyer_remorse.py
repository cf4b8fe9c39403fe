"""buyer_remorse: the buyer returns a good item for their own reason (wrong size or style).

If the return costs more than `remorse_coupon_above_return_cost_share` of the
order value, offer a coupon to reorder instead of a return; otherwise accept
the return (up to the wholesale non-quality cap, see non_quality_return_cap,
which also says what happens to the units over it).
"""

from __future__ import annotations

from decimal import Decimal

from models.events import DisputeOpened
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger, money
from rules.non_quality_return_cap import capped_units, over_the_cap
from rules.return_windows import start_return_window


def buyer_remorse(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "buyer_remorse")
    thresholds = ctx.thresholds
    case = order.dispute
    if not isinstance(trigger, DisputeOpened) or case is None:
        return plan.done()
    limit = order.amount * Decimal(str(thresholds.remorse_coupon_above_return_cost_share))
    if trigger.return_cost is not None and trigger.return_cost > limit:
        plan.act(
            "offer_coupon",
            case.cause,
            f"a return for the buyer's own reason costs {trigger.return_cost} {order.currency}, more than "
            f"{thresholds.remorse_coupon_above_return_cost_share:.0%} of the order: offer a coupon to reorder instead",
            party="customer",
            amount=money(order.amount * Decimal(str(thresholds.coupon_share_of_order))),
            currency=order.currency,
        )
        return plan.done()
    share = thresholds.non_quality_return_cap_share
    units, capped = capped_units(order, share, trigger.quantity)
    asked = trigger.quantity if trigger.quantity is not None else order.units
    if capped and units == 0:
        assert share is not None
        over_the_cap(plan, case.cause, asked, units, share)
        return plan.done()
    plan.update(dispute=case.model_copy(update={"quantity": units, "return_cost": trigger.return_cost}))
    if order.wholesale and share is not None:  # what the order's cap has left
        plan.update(non_quality_units_accepted=order.non_quality_units_accepted + units)
    if capped:
        assert share is not None
        plan.act(
            "accept_return",
            case.cause,
            f"wholesale non-quality return capped at {share:.0%} of {order.units} units: accept {units} of the "
            f"{asked} asked",
            rule="non_quality_return_cap",
            quantity=units,
        )
        over_the_cap(plan, case.cause, asked, units, share)
    else:
        plan.act(
            "accept_return",
            case.cause,
            "a return for the buyer's own reason at a reasonable cost: accept it",
            quantity=units,
        )
    start_return_window(plan)
    return plan.done()
