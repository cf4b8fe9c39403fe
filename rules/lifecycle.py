"""Bookkeeping every order goes through, that no playbook row decides on.

Creating the state from `order.placed`, marking it supplier-ordered, shipped,
delivered, refunded. Shipping settles every pre-shipment deadline here, in
one place: "a late shipped event cancels a pending overdue_switch".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from models.events import (
    SHIPPED_STATUSES,
    DisputeEvidenceSubmitted,
    Event,
    OrderPlaced,
    OrderRefunded,
    OrderReordered,
    OrderSupplierOrdered,
    ShipmentUpdate,
)
from models.state import CustomerRefund, Deadline, DeadlineRule, OrderState
from rules.base import OrderContext, days, hours

PRE_SHIPMENT_RULES: frozenset[DeadlineRule] = frozenset(
    {"overdue_expedite", "overdue_switch", "supplier_unresponsive", "penalty_points"}
)
REFUND_DUE_KEY = "refund-due"


def ship_by_for(event: OrderPlaced, ctx: OrderContext) -> tuple[datetime, str]:
    """Ship-by from the event, or placed_at + handling time; a promotion's shorter handling time wins."""
    derived = event.occurred_at + hours(ctx.thresholds.handling_time_hours)
    if event.ship_by is None:
        return derived, f"placed_at + {ctx.thresholds.handling_time_hours:g} h"
    if ctx.promotion is not None and derived < event.ship_by:
        return derived, f"promotion {ctx.promotion}: placed_at + {ctx.thresholds.handling_time_hours:g} h"
    return event.ship_by, "from the order"


def new_order(event: OrderPlaced, ctx: OrderContext) -> OrderState:
    ship_by, _ = ship_by_for(event, ctx)
    return OrderState.of(
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


def _without(order: OrderState, rules: frozenset[DeadlineRule]) -> tuple[Deadline, ...]:
    return tuple(d for d in order.deadlines if d.rule not in rules)


def retire_at(order: OrderState, ctx: OrderContext, since: datetime) -> OrderState:
    """Schedule forgetting a finished order `retain_closed_days` after `since` (a late dispute may still come)."""
    return order.evolve(deadlines=_retiring(order.deadlines, ctx, since))


def _retiring(deadlines: tuple[Deadline, ...], ctx: OrderContext, since: datetime) -> tuple[Deadline, ...]:
    """`deadlines` with the order's retirement set `retain_closed_days` after `since` (any earlier one replaced)."""
    due = since + days(ctx.thresholds.retain_closed_days)
    kept = tuple(d for d in deadlines if d.rule != "retire")
    return (*kept, Deadline.of(due, "retire", "retire", ()))


def apply(order: OrderState, event: Event, ctx: OrderContext) -> OrderState:
    """The order's facts after `event`; decisions are left to the rows."""
    step = _FACTS.get(type(event))  # by the event's class: most events change no fact
    return order if step is None else step(order, event, ctx)


def _shipment(order: OrderState, event: Event, ctx: OrderContext) -> OrderState:
    assert isinstance(event, ShipmentUpdate)
    changes: dict[str, object] = {"last_status": event.status}
    deadlines = order.deadlines
    if order.shipped_at is None and event.status in SHIPPED_STATUSES:
        changes["shipped_at"] = event.occurred_at
        deadlines = _without(order, PRE_SHIPMENT_RULES)
        changes["awaiting_supplier_since"] = None
    if event.status == "delivered":
        if order.delivered_at is None:
            changes["delivered_at"] = event.occurred_at
        deadlines = _retiring(deadlines, ctx, event.occurred_at)  # in the same copy of the order
    changes["deadlines"] = deadlines
    return order.evolve(**changes)


def _supplier(order: OrderState, event: Event, ctx: OrderContext) -> OrderState:
    assert isinstance(event, OrderSupplierOrdered | OrderReordered)
    return order.evolve(
        supplier_ordered=True,
        supplier_cost=event.cost if event.cost is not None else order.supplier_cost,
        supplier_currency=event.currency if event.currency is not None else order.supplier_currency,
        **_supplier_after(order, event),
    )


def _refund(order: OrderState, event: Event, ctx: OrderContext) -> OrderState:
    assert isinstance(event, OrderRefunded)
    return _refunded(order, event) if event.party == "customer" else order


def _evidence(order: OrderState, event: Event, ctx: OrderContext) -> OrderState:
    """Evidence sent before any dispute was opened (platforms and stores do not always publish in that order) is
    kept: the dispute that follows has it already."""
    if order.dispute is None and order.evidence_before_dispute is None:
        return order.evolve(evidence_before_dispute=event.occurred_at)
    return order


_FACTS: dict[type, Callable[[OrderState, Event, OrderContext], OrderState]] = {
    ShipmentUpdate: _shipment,
    DisputeEvidenceSubmitted: _evidence,
    OrderSupplierOrdered: _supplier,
    OrderReordered: _supplier,
    OrderRefunded: _refund,
}


def _supplier_after(order: OrderState, event: OrderSupplierOrdered | OrderReordered) -> dict[str, object]:
    """The supplier the order was moved to: named by its reorder (None if the reorder names none), or by a
    supplier order confirming the alternative. Before any switch nothing is recorded."""
    if isinstance(event, OrderReordered):
        return {"supplier_id": event.supplier_id} if event.supplier_id != order.supplier_id else {}
    if order.supplier_attempt > 0 and event.supplier_id is not None and event.supplier_id != order.supplier_id:
        return {"supplier_id": event.supplier_id}
    return {}


def _refunded(order: OrderState, event: OrderRefunded) -> OrderState:
    """Match a reported customer refund to the engine's own, or record it as external.

    Its own: the one named by `caused_by`, else the first unconfirmed one of the
    same amount (stores often report refunds without the action id). That
    refund is marked done and its completion deadline settled. Anything else
    was refunded by someone else (the platform, a person): it counts against
    what may still be refunded.
    """
    order = order.evolve(refunds_done=order.refunds_done + event.amount)
    refunds = list(order.customer_refunds)
    match = next((i for i, r in enumerate(refunds) if event.caused_by and r.action_id == event.caused_by), None)
    if match is None and event.caused_by is None:
        match = next((i for i, r in enumerate(refunds) if not r.confirmed and r.amount == event.amount), None)
    if match is None:
        external = CustomerRefund(
            cause=f"external-{event.event_id}", amount=event.amount, action_id=event.event_id, confirmed=True
        )
        return order.evolve(customer_refunds=(*refunds, external))
    mine = refunds[match]
    refunds[match] = mine.model_copy(update={"confirmed": True})
    due_key = f"{REFUND_DUE_KEY}-{mine.cause}"
    kept = tuple(d for d in order.deadlines if d.key != due_key)
    return order.evolve(customer_refunds=tuple(refunds), deadlines=kept)


def refunded_total(order: OrderState) -> Decimal:
    return order.customer_refunded


def close_dispute(order: OrderState) -> OrderState:
    """The platform closed the dispute: its follow-ups end, except a refund still owed."""
    case = order.dispute
    if case is None or case.status == "closed":
        return order
    kept = tuple(
        d for d in order.deadlines if not (d.key.endswith(case.cause) and not d.key.startswith(REFUND_DUE_KEY))
    )
    return order.evolve(dispute=case.model_copy(update={"status": "closed"}), deadlines=kept)
