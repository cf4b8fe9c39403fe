"""non_quality_return_cap: a wholesale store may cap non-quality returns at a share (10%) of the ordered
quantity, and must say so to the buyer before the order (seed 003: "丑话说前头").

At placement of a wholesale order, the buyer is told the cap. A return for the
buyer's own reason (buyer_remorse) is then accepted up to the cap, and the
cap is applied to the money as well as to the goods: the refund covers only
the units accepted back (see return_windows, `refund_for_return`), whatever
amount the buyer claimed.

The cap is the order's, not each dispute's: units already accepted back for
non-quality reasons count against it (the seed's "本次定货量的10%, 不累计":
10% of this order, nothing carried over). What is over the cap is handled as
the seed advises, by standing on the rule the buyer was told up front:
- the units within the cap are accepted back (`accept_return` with the
  accepted quantity, under this row);
- the buyer is told, in the same breath, that the other units are over the
  cap announced at placement and stay with them (`notify_customer`, notice
  `non_quality_return_cap_exceeded`) — no refund for them, no escalation: it is
  the store's announced rule, not a case for a person;
- once the cap is used up, a further non-quality return is not accepted and
  the buyer is told why (notice `non_quality_return_cap_reached`); the dispute
  stays with the platform, which may still rule otherwise.
At least one unit may always come back (a 5-unit order still allows 1).
"""

from __future__ import annotations

import math

from models.events import OrderPlaced
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger


def cap_of(order: OrderState, share: float) -> int:
    """The units a wholesale order may send back for non-quality reasons, in all."""
    return max(1, math.floor(order.units * share))


def capped_units(order: OrderState, share: float | None, requested: int | None) -> tuple[int, bool]:
    """Units to accept for a non-quality return and whether the cap cut the request."""
    wanted = requested if requested is not None else order.units
    if not order.wholesale or share is None:
        return wanted, False
    left = max(0, cap_of(order, share) - order.non_quality_units_accepted)
    return (left, True) if wanted > left else (wanted, False)


def over_the_cap(plan: Plan, cause: str, asked: int, accepted: int, share: float) -> None:
    """Tell the buyer what the announced cap leaves with them (decided under this row)."""
    order = plan.order
    cap = cap_of(order, share)
    if accepted == 0:
        plan.act(
            "notify_customer",
            f"{cause}-cap-reached",
            f"the {share:.0%} non-quality return cap announced at placement ({cap} of {order.units} units) is "
            f"used up: the {asked} unit(s) asked cannot come back; tell the buyer",
            rule="non_quality_return_cap",
            notice="non_quality_return_cap_reached",
        )
        return
    plan.act(
        "notify_customer",
        f"{cause}-over-cap",
        f"{asked - accepted} of the {asked} units asked are over the {share:.0%} non-quality return cap announced "
        f"at placement ({cap} of {order.units} units): they stay with the buyer, unrefunded; tell the buyer",
        rule="non_quality_return_cap",
        notice="non_quality_return_cap_exceeded",
    )


def non_quality_return_cap(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "non_quality_return_cap")
    share = ctx.thresholds.non_quality_return_cap_share
    if isinstance(trigger, OrderPlaced) and order.wholesale and share is not None:
        cap = cap_of(order, share)
        plan.act(
            "notify_customer",
            "cap-notice",
            f"wholesale order of {order.units} units: tell the buyer before the order that returns not caused by "
            f"quality are capped at {share:.0%} ({cap} units)",
            notice="non_quality_return_cap",
        )
    return plan.done()
