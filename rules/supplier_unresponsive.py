"""supplier_unresponsive: no answer to an expedite within the reply window (48 h), or an event says so.

→ the no_stock path, "so the customer is not left waiting indefinitely".
A supplier reply closes the window. A reply or an "unresponsive" report about a
supplier other than the one the order was moved to is noted and ignored (see no_stock:
which messages are matched).
"""

from __future__ import annotations

from models.events import OrderSupplierReplied, OrderSupplierUnresponsive
from models.state import OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, fmt
from rules.no_stock import from_another_supplier, reorder_pending, switch_supplier


def supplier_unresponsive(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "supplier_unresponsive")
    thresholds = ctx.thresholds
    if isinstance(trigger, OrderSupplierReplied | OrderSupplierUnresponsive):
        stale = from_another_supplier(order, trigger.supplier_id)
        if stale is not None:
            what = "supplier reply" if isinstance(trigger, OrderSupplierReplied) else "supplier reported unresponsive"
            plan.note(f"{what}: {stale}")
            return plan.done()
    if isinstance(trigger, OrderSupplierReplied):
        plan.settle("supplier_unresponsive")
        plan.update(awaiting_supplier_since=None)
    elif isinstance(trigger, OrderSupplierUnresponsive):
        if reorder_pending(order):
            plan.note("a reorder from another supplier is already under way")
        else:
            switch_supplier(plan, "the supplier is unresponsive")
    elif isinstance(trigger, Due) and order.awaiting_supplier_since is not None:
        switch_supplier(
            plan,
            f"no supplier answer {thresholds.supplier_reply_window_hours:g} h after the expedite of "
            f"{fmt(order.awaiting_supplier_since)}",
        )
    return plan.done()
