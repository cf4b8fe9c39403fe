"""non_quality_return_cap: a wholesale store may cap non-quality returns at a share (10%) of the ordered
quantity, and must say so to the buyer before the order (seed 003: "丑话说前头").

At placement of a wholesale order, the buyer is told the cap; a return for the
buyer's own reason is accepted up to the cap (partial return).
"""

from __future__ import annotations

import math

from models.events import OrderPlaced
from models.state import OrderState
from rules.base import Ctx, Outcome, Plan, Trigger


def capped_units(order: OrderState, share: float | None, requested: int | None) -> tuple[int, bool]:
    """Units to accept for a non-quality return and whether the cap cut the request."""
    wanted = requested if requested is not None else order.units
    if not order.wholesale or share is None:
        return wanted, False
    cap = max(1, math.floor(order.units * share))
    return (cap, True) if wanted > cap else (wanted, False)


def non_quality_return_cap(order: OrderState, trigger: Trigger, ctx: Ctx) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "non_quality_return_cap")
    share = ctx.thresholds.non_quality_return_cap_share
    if isinstance(trigger, OrderPlaced) and order.wholesale and share is not None:
        cap = max(1, math.floor(order.units * share))
        plan.act(
            "notify_customer",
            "cap-notice",
            f"wholesale order of {order.units} units: tell the buyer before the order that returns not caused by "
            f"quality are capped at {share:.0%} ({cap} units)",
            notice="non_quality_return_cap",
        )
    return plan.done()
