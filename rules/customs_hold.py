"""customs_hold: tracking reports a customs hold → notify-customs (a clearance reminder to the merchant,
who then informs the buyer). Ours: still held after `customs_hold_escalate_after_days` → escalate.

Clearance, delivery or a return settles the hold ("a delivered parcel closes its
customs hold"); so does the parcel moving on (out for delivery, in transit).
A buyer's "held by customs" dispute starts the same path if tracking has not.
"""

from __future__ import annotations

from models.events import DisputeOpened, ShipmentUpdate
from models.state import OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, days, fmt

STILL_HELD = frozenset({"customs_hold", "exception", "info_received"})


def _hold(plan: Plan, key: str, source: str) -> None:
    thresholds = plan.thresholds
    plan.act(
        "notify_customs",
        key,
        f"{source}: send the merchant a customs clearance reminder so they can inform the buyer "
        f"(escalate if still held after {thresholds.customs_hold_escalate_after_days:g} days)",
    )
    plan.update(customs_hold_since=plan.at, customs_hold_event=key)
    plan.schedule("hold", plan.at + days(thresholds.customs_hold_escalate_after_days))


def customs_hold(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    if isinstance(trigger, ShipmentUpdate) and trigger.status != "customs_hold" and order.customs_hold_since is None:
        return Outcome(order)  # most tracking updates: no hold, none reported
    plan = Plan.of(order, trigger, ctx, "customs_hold")
    thresholds = ctx.thresholds
    if isinstance(trigger, ShipmentUpdate):
        if trigger.status == "customs_hold":
            if order.customs_hold_since is None:
                _hold(plan, f"hold-{trigger.event_id}", f"parcel {trigger.tracking_number} held by customs")
        elif order.customs_hold_since is not None and trigger.status not in STILL_HELD:
            plan.settle("customs_hold")
            plan.update(customs_hold_since=None, customs_hold_event=None)
            plan.note(f"customs hold closed by tracking status {trigger.status}")
    elif isinstance(trigger, DisputeOpened):
        if order.customs_hold_since is None:
            _hold(plan, f"dispute-{trigger.event_id}", "buyer reports the parcel held by customs")
        else:
            plan.note(
                f"buyer's customs dispute: the hold since {fmt(order.customs_hold_since)} is already being handled"
            )
    elif isinstance(trigger, Due) and order.customs_hold_since is not None:
        plan.act(
            "escalate",
            f"hold-escalate-{order.customs_hold_event}",
            f"parcel still held by customs {thresholds.customs_hold_escalate_after_days:g} days after "
            f"{fmt(order.customs_hold_since)}: a person takes over",
            notice="customs_hold_overdue",
        )
    return plan.done()
