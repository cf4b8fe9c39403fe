"""Bookkeeping every order goes through, that no playbook row decides on.

Creating the state from `order.placed`, marking it supplier-ordered, shipped,
delivered, refunded. Shipping settles every pre-shipment deadline here, in
one place: "a late shipped event cancels a pending overdue_switch".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from models.events import (
    SHIPPED_STATUSES,
    Event,
    OrderPlaced,
    OrderRefunded,
    OrderReissued,
    OrderReordered,
    OrderSupplierOrdered,
    ShipmentUpdate,
)
from models.state import CustomerRefund, Deadline, OrderState
from rules.base import Ctx, days, hours

PRE_SHIPMENT_RULES = frozenset({"overdue_expedite", "overdue_switch", "supplier_unresponsive", "penalty_points"})
REFUND_DUE_KEY = "refund-due"


def ship_by_for(event: OrderPlaced, ctx: Ctx) -> tuple[datetime, str]:
    """Ship-by from the event, or placed_at + handling time; a promotion's shorter handling time wins."""
    derived = event.occurred_at + hours(ctx.thresholds.handling_time_hours)
    if event.ship_by is None:
        return derived, f"placed_at + {ctx.thresholds.handling_time_hours:g} h"
    if ctx.promotion is not None and derived < event.ship_by:
        return derived, f"promotion {ctx.promotion}: placed_at + {ctx.thresholds.handling_time_hours:g} h"
    return event.ship_by, "from the order"


def new_order(event: OrderPlaced, ctx: Ctx) -> OrderState:
    ship_by, _ = ship_by_for(event, ctx)
    return OrderState(
        order_id=event.order_id,
        store_id=event.store_id,
        marketplace=event.marketplace,
        origin_country=event.origin_country,
        destination_country=event.destination_country,
        amount=event.amount,
        currency=event.currency,
        placed_at=event.occurred_at,
        placed_by=event.event_id,
        ship_by=ship_by,
        wholesale=event.wholesale,
        units=sum(item.quantity for item in event.items),
        promotion=ctx.promotion,
    )


def _without(order: OrderState, rules: frozenset[str]) -> tuple[Deadline, ...]:
    return tuple(d for d in order.deadlines if d.rule not in rules)


def retire_at(order: OrderState, ctx: Ctx, since: datetime) -> OrderState:
    """Schedule forgetting a finished order `retain_closed_days` after `since` (a late dispute may still come)."""
    due = since + days(ctx.thresholds.retain_closed_days)
    kept = tuple(d for d in order.deadlines if d.rule != "retire")
    return order.evolve(deadlines=(*kept, Deadline(due=due, rule="retire", key="retire", caused_by=())))


def apply(order: OrderState, event: Event, ctx: Ctx) -> OrderState:
    """The order's facts after `event`; decisions are left to the rows."""
    if isinstance(event, OrderSupplierOrdered | OrderReordered):
        return order.evolve(
            supplier_ordered=True,
            supplier_cost=event.cost if event.cost is not None else order.supplier_cost,
            supplier_currency=event.currency if event.currency is not None else order.supplier_currency,
        )
    if isinstance(event, OrderRefunded):
        if event.party != "customer":
            return order
        done = order.refunds_done + event.amount
        kept = tuple(d for d in order.deadlines if not d.key.startswith(REFUND_DUE_KEY))
        order = order.evolve(refunds_done=done, deadlines=kept)
        if any(r.action_id == event.caused_by for r in order.customer_refunds):
            return order  # the execution of a refund this engine decided: already counted
        # A refund the engine did not decide (the platform, a person): it counts against what may still be
        # refunded, and a buyer paid back in full before shipment has no order left to ship.
        external = CustomerRefund(cause=f"external-{event.event_id}", amount=event.amount, action_id=event.event_id)
        order = order.evolve(customer_refunds=(*order.customer_refunds, external))
        if order.shipped_at is None and order.cancelled_at is None and order.customer_refunded >= order.amount:
            order = order.evolve(deadlines=_without(order, PRE_SHIPMENT_RULES), cancelled_at=event.occurred_at)
            order = retire_at(order, ctx, event.occurred_at)
        return order
    if isinstance(event, OrderReissued):
        return order
    if isinstance(event, ShipmentUpdate):
        changes: dict[str, object] = {"last_status": event.status}
        deadlines = order.deadlines
        if order.shipped_at is None and event.status in SHIPPED_STATUSES:
            changes["shipped_at"] = event.occurred_at
            deadlines = _without(order, PRE_SHIPMENT_RULES)
            changes["awaiting_supplier_since"] = None
        if event.status == "delivered" and order.delivered_at is None:
            changes["delivered_at"] = event.occurred_at
        changes["deadlines"] = deadlines
        order = order.evolve(**changes)
        if event.status == "delivered":
            order = retire_at(order, ctx, event.occurred_at)
        return order
    return order


def refunded_total(order: OrderState) -> Decimal:
    return order.customer_refunded


def close_dispute(order: OrderState) -> OrderState:
    """The platform closed the dispute: its follow-ups end, except a refund still owed."""
    case = order.dispute
    if case is None or case.status == "closed":
        return order
    kept = tuple(d for d in order.deadlines if not (d.key.endswith(case.cause) and not d.key.startswith(REFUND_DUE_KEY)))
    return order.evolve(dispute=case.model_copy(update={"status": "closed"}), deadlines=kept)
