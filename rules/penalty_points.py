"""penalty_points: Taobao/Alibaba "refusal to ship" points, kept per store, and acting before they accrue.

Cases (points are policy defaults): promised, did not ship, did not cooperate
in the dispute: 60; did not ship but cooperated: 24; refused to ship for lack
of stock and refunded the buyer: 12. An order costs its store the worst case
it reached, once. Acting early: `penalty_warning_hours_before_ship_by` before
ship-by, an unshipped order gets an expedite, so that the penalty is avoided.
The store's running total and its alert live in the store ledger
(`rules.store_ledger`) and in Prometheus, not in an order's actions, so they
never depend on the order in which different orders are processed.
"""

from __future__ import annotations

from models.events import DisputeClosed, OrderPlaced
from models.ledger import LedgerEntry, PenaltyCase
from models.state import OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, fmt, hours

NON_RECEIPT_REASONS = frozenset({"invalid_tracking", "wrong_address", "in_transit", "customs_held", "returned"})


def case_points(plan: Plan, case: PenaltyCase) -> int:
    thresholds = plan.thresholds
    return {
        "no_ship_no_cooperation": thresholds.penalty_no_ship_no_cooperation,
        "no_ship_cooperated": thresholds.penalty_no_ship_cooperated,
        "out_of_stock_refunded": thresholds.penalty_out_of_stock_refunded,
    }[case]


def penalize(plan: Plan, case: PenaltyCase) -> None:
    """Book this order's penalty case on its store, if the marketplace deducts points; only the worst case counts."""
    if not plan.thresholds.penalty_points_apply:
        return
    points = case_points(plan, case)
    extra = points - plan.order.penalty_points
    if extra <= 0:
        return
    plan.update(penalty_points=points)
    plan.ledger.append(
        LedgerEntry.of(
            store_id=plan.order.store_id,
            order_id=plan.order.order_id,
            kind="penalty",
            at=plan.at,
            points=extra,
            case=case,
            alert_at_points=plan.thresholds.penalty_points_alert_at,
        )
    )
    plan.note(f"refusal-to-ship case {case}: {points} points for store {plan.order.store_id}")


def unshipped_past_ship_by(order: OrderState, plan: Plan) -> bool:
    return order.shipped_at is None and plan.at > order.ship_by


def penalty_points(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "penalty_points")
    thresholds = ctx.thresholds
    if isinstance(trigger, OrderPlaced):
        # A big sale's 12 h handling time would put a 12 h warning at placement: warn halfway instead.
        window = order.ship_by - order.placed_at
        warn_at = order.ship_by - min(hours(thresholds.penalty_warning_hours_before_ship_by), window / 2)
        if thresholds.penalty_points_apply and warn_at > order.placed_at:
            plan.schedule("ship-by-warning", warn_at)
    elif isinstance(trigger, Due):
        if order.shipped or order.cancelled_at is not None:
            plan.note("shipped or cancelled before the warning: nothing to do")
        else:
            plan.act(
                "expedite",
                "ship-by-warning",
                f"ship-by {fmt(order.ship_by)} is {(order.ship_by - plan.at).total_seconds() / 3600:g} h away "
                "and the order has "
                f"not shipped: ship now to avoid refusal-to-ship points ({thresholds.penalty_out_of_stock_refunded}-"
                f"{thresholds.penalty_no_ship_no_cooperation} a case)",
                party="supplier",
            )
    elif isinstance(trigger, DisputeClosed):
        if not trigger.seller_cooperated and order.shipped_at is None and trigger.occurred_at > order.ship_by:
            penalize(plan, "no_ship_no_cooperation")
    return plan.done()
