"""dispute_rate: disputes / orders over a rolling window per store (seed 004: disputes lower the seller's
dispute rate and daily service score).

Each order contributes an `order_placed` entry and one `dispute_opened` entry
per dispute; the store ledger (`rules.store_ledger`) sums them by day over
`dispute_rate_window_days`. The rate is exported and alerted on per store.
"""

from __future__ import annotations

from models.events import DisputeOpened, OrderPlaced
from models.ledger import LedgerEntry
from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger


def dispute_rate(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "dispute_rate")
    kind = (
        "order_placed"
        if isinstance(trigger, OrderPlaced)
        else "dispute_opened"
        if isinstance(trigger, DisputeOpened)
        else None
    )
    if kind is not None:
        plan.ledger.append(
            LedgerEntry.of(
                store_id=order.store_id,
                order_id=order.order_id,
                kind=kind,
                at=plan.at,
                window_days=ctx.thresholds.dispute_rate_window_days,
                alert_at_rate=ctx.thresholds.dispute_rate_alert_at,
                alert_at_points=ctx.thresholds.penalty_points_alert_at,
            )
        )
    return plan.done()
