"""no_stock: the supplier reports no stock for an order that has not shipped.

Supplier refund of the original purchase, then reorder the same or a similar
item from an alternative supplier; when no alternative is left (policy
`max_reorder_attempts`), refund the customer and tell them. The same path
serves oversize, overdue_switch and supplier_unresponsive
(`switch_supplier`), each under its own rule id.

After a switch, only the supplier the order was moved to drives it
(`from_another_supplier`): once a reorder named the alternative supplier, a
late "no stock" (or reply, oversize rejection, "unresponsive") naming any
other supplier — the old one, most often — is noted on the order's timeline
and ignored, so that it cannot send an order the new supplier is shipping
down the no-stock path to a customer refund. The alternative is the one
`order.reordered` named (or an `order.supplier_ordered` after the switch).
Everything else is applied as it comes, as before: a message naming no
supplier (it is the current supplier's), any message before the first switch
(stores' systems do not all agree on the original supplier's id, and ignoring
a genuine "no stock" would leave the buyer waiting), and any message after a
reorder that named no supplier (nothing to match against).
"""

from __future__ import annotations

import rules.penalty_points as penalty_points
from models.events import OrderOutOfStock
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger, days, hours
from rules.lifecycle import PRE_SHIPMENT_RULES, retire_at


def reorder_pending(order: OrderState) -> bool:
    """A switch to another supplier was decided and that supplier has not confirmed the order yet."""
    return order.supplier_attempt > 0 and not order.supplier_ordered


def from_another_supplier(order: OrderState, named: str | None) -> str | None:
    """Why a message naming supplier `named` must not drive the order, or None if it may."""
    if named is None or order.supplier_id is None or named == order.supplier_id:
        return None
    return f"the message names supplier {named}, but the order was moved to {order.supplier_id}: ignored"


def switch_supplier(plan: Plan, why: str, *, product: str = "the same or a similar item") -> None:
    """The no_stock path, decided under `plan.rule`."""
    order, thresholds = plan.order, plan.thresholds
    if order.shipped:
        plan.note(f"{why}, but the order already shipped: nothing to switch")
        return
    if order.cancelled_at is not None:
        plan.note(f"{why}, but the order is already cancelled")
        return
    attempt = order.supplier_attempt
    plan.refund_supplier(f"attempt-{attempt}", f"{why}: ask the supplier to refund the original purchase")
    plan.settle(*PRE_SHIPMENT_RULES - {"penalty_points"})
    if attempt < thresholds.max_reorder_attempts:
        n = attempt + 1
        plan.act(
            "reorder",
            f"attempt-{n}",
            f"{why}: reorder {product} from an alternative supplier (attempt {n} of {thresholds.max_reorder_attempts})",
            party="supplier",
            attempt=n,
        )
        ship_by = plan.at + hours(thresholds.handling_time_hours)
        plan.update(
            supplier_attempt=n,
            supplier_ordered=False,
            supplier_cost=None,
            awaiting_supplier_since=None,
            ship_by=ship_by,
        )
        # The new supplier gets its own overdue checks; expedite stays once per order.
        if not plan.order.expedited:
            plan.schedule(
                f"attempt-{n}", ship_by + days(thresholds.overdue_expedite_after_days), rule="overdue_expedite"
            )
        plan.schedule(f"attempt-{n}", ship_by + days(thresholds.overdue_switch_after_days), rule="overdue_switch")
        return
    plan.refund_customer(
        "order",
        order.amount,
        f"{why}; no alternative supplier left after {thresholds.max_reorder_attempts} reorder attempt(s): "
        "refund the customer",
    )
    plan.act(
        "notify_customer",
        "no-alternative",
        "tell the buyer the item cannot be supplied and the order is refunded",
        notice="no_alternative_supplier",
    )
    plan.settle(*PRE_SHIPMENT_RULES)
    plan.update(cancelled_at=plan.at)
    plan.order = retire_at(plan.order, plan.ctx, plan.at)
    penalty_points.penalize(plan, "out_of_stock_refunded")


def no_stock(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "no_stock")
    if isinstance(trigger, OrderOutOfStock):
        stale = from_another_supplier(order, trigger.supplier_id)
        if stale is not None:
            plan.note(f"no stock reported: {stale}")
        elif reorder_pending(order):
            plan.note("a reorder from another supplier is already under way; waiting for its confirmation")
        else:
            supplier = f" ({trigger.supplier_id})" if trigger.supplier_id else ""
            switch_supplier(plan, f"supplier{supplier} reports no stock")
    return plan.done()
