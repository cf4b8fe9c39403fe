"""oversize: logistics rejects the order as oversized/overweight, or its items already exceed the carrier limits.

The check at placement is ours: catch it before the supplier does. Then
nothing was bought yet, so there is no supplier refund: the order is placed
again as an adjusted/alternative product within the limits. A carrier's
rejection later takes the no_stock path (supplier refund + reorder); a
rejection naming a supplier other than the one the order was moved to is noted and ignored
(see no_stock: which messages are matched).
"""

from __future__ import annotations

from models.events import OrderOversize, OrderPlaced
from models.policy import CarrierLimits
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger
from rules.no_stock import from_another_supplier, reorder_pending, switch_supplier


def limits_exceeded(event: OrderPlaced, limits: CarrierLimits) -> list[str]:
    """Which carrier limits the order's items break, in words; empty when it fits."""
    # Per unit: several units can travel as several parcels, one unit cannot be split.
    problems = []
    weight = max(item.weight_kg for item in event.items)
    if weight > limits.max_weight_kg:
        problems.append(f"a unit weighs {weight:g} kg > {limits.max_weight_kg:g} kg")
    side = max(max(i.dimensions_cm.length, i.dimensions_cm.width, i.dimensions_cm.height) for i in event.items)
    if side > limits.max_side_cm:
        problems.append(f"longest side {side:g} cm > {limits.max_side_cm:g} cm")
    girth = max(i.dimensions_cm.girth_rule_cm() for i in event.items)
    if girth > limits.max_length_plus_girth_cm:
        problems.append(f"length + girth {girth:g} cm > {limits.max_length_plus_girth_cm:g} cm")
    return problems


ADJUSTED = "an adjusted or alternative product within the carrier limits"


def oversize(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "oversize")
    if isinstance(trigger, OrderPlaced):
        problems = limits_exceeded(trigger, ctx.thresholds.carrier_limits)
        if problems:
            plan.act(
                "reorder",
                "at-placement",
                f"items exceed the carrier limits ({'; '.join(problems)}): order {ADJUSTED} before the supplier "
                "ships (nothing bought yet, so no supplier refund)",
                party="supplier",
                attempt=0,
            )
    elif isinstance(trigger, OrderOversize):
        stale = from_another_supplier(order, trigger.supplier_id)
        if stale is not None:
            plan.note(f"oversize rejection: {stale}")
        elif reorder_pending(order):
            plan.note("a reorder is already under way")
        else:
            detail = f" ({trigger.detail})" if trigger.detail else ""
            switch_supplier(plan, f"logistics rejected the order as oversized{detail}", product=ADJUSTED)
    return plan.done()
