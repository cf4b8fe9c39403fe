"""overdue_switch: not shipped 4 days after ship-by → the no_stock path (supplier refund + reorder elsewhere).

Cancels any pending expedite follow-up. A late shipment settles it (see
`lifecycle`); each alternative supplier gets its own check, counted from its
own ship-by.
"""

from __future__ import annotations

from models.events import OrderPlaced
from models.state import OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, days, fmt
from rules.no_stock import switch_supplier


def overdue_switch(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "overdue_switch")
    thresholds = ctx.thresholds
    if isinstance(trigger, OrderPlaced):
        plan.schedule("attempt-0", order.ship_by + days(thresholds.overdue_switch_after_days))
    elif isinstance(trigger, Due):
        switch_supplier(
            plan, f"not shipped {thresholds.overdue_switch_after_days:g} days after ship-by {fmt(order.ship_by)}"
        )
    return plan.done()
