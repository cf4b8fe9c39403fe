"""overdue_expedite: not shipped 2 days after ship-by → expedite: contact the supplier. Once per order.

Boundary: the check runs at ship_by + `overdue_expedite_after_days`; a shipment
at exactly that instant is in time (deadlines fire when the clock passes them).
The expedite opens the supplier's reply window (supplier_unresponsive).
"""

from __future__ import annotations

from models.events import OrderPlaced
from models.state import OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, days, fmt, hours


def overdue_expedite(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "overdue_expedite")
    thresholds = ctx.thresholds
    if isinstance(trigger, OrderPlaced):
        plan.schedule("attempt-0", order.ship_by + days(thresholds.overdue_expedite_after_days))
    elif isinstance(trigger, Due):
        if order.shipped or order.cancelled_at is not None:
            plan.note("already shipped or cancelled: no expedite")
        elif order.expedited:
            plan.note("the order was already expedited once")
        else:
            plan.act(
                "expedite",
                "once",
                f"not shipped {thresholds.overdue_expedite_after_days:g} days after ship-by {fmt(order.ship_by)}: "
                "contact the supplier to expedite",
                party="supplier",
            )
            plan.update(expedited=True, awaiting_supplier_since=plan.at)
            plan.schedule(
                "reply", plan.at + hours(thresholds.supplier_reply_window_hours), rule="supplier_unresponsive"
            )
    return plan.done()
