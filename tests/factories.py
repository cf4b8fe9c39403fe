"""Builders for the unit tests: validated events, the engine run over a list of them, a policy with overrides.

Every builder returns a real, validated event model (the same classes the edge
decodes), so a test cannot build an event the worker would refuse. Times are
aware; `T0` is Monday 2026-03-02 10:00 in Shanghai, a working day outside
every promotion window of the default policy. Event ids come from one
process-wide counter (`evt-1`, `evt-2`, …) unless a test gives one: never reset, so an event built in a
parametrize table and one built inside the test can never share an id (a shared id would be a "repeat").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from models.actions import Action
from models.events import (
    ActionFailed,
    ActionHeld,
    Buyer,
    Dimensions,
    DisputeClosed,
    DisputeEvidenceSubmitted,
    DisputeOpened,
    DisputeReturnAccepted,
    DisputeReturnReceived,
    DisputeReturnShipped,
    DisputeVerified,
    Event,
    Item,
    OrderAddressInvalid,
    OrderCancelRequested,
    OrderOutOfStock,
    OrderOversize,
    OrderPaid,
    OrderPlaced,
    OrderRefunded,
    OrderReissued,
    OrderReordered,
    OrderSupplierOrdered,
    OrderSupplierReplied,
    OrderSupplierUnresponsive,
    ShipmentInterceptResult,
    ShipmentUpdate,
)
from models.ledger import LedgerEntry, StoreLedger
from models.policy import Policy
from models.policy_file import load_policy
from models.state import ORDER_STATE_ADAPTER, OrderState
from rules.engine import Decision, advance, handle_event
from rules.store_ledger import apply_entry

CST = timezone(timedelta(hours=8), "CST")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=CST)
"""Monday 2026-03-02 10:00 +08:00: a CN working day, outside double11 and black_friday."""

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)

_ids = itertools.count(1)


def _id(event_id: str | None) -> str:
    return event_id if event_id is not None else f"evt-{next(_ids)}"


def money(value: str | Decimal | int) -> Decimal:
    return Decimal(str(value))


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    return load_policy()


def policy_with(
    defaults: Mapping[str, Any] | None = None,
    *,
    version: str = "test-override",
    marketplaces: Mapping[str, Mapping[str, Any]] | None = None,
    regions: Mapping[str, Mapping[str, Any]] | None = None,
    promotions: list[Mapping[str, Any]] | None = None,
) -> Policy:
    """The shipped default policy with some thresholds changed (overrides merge into the default ones)."""
    data = default_policy().model_dump(mode="json", exclude_unset=True)
    data["version"] = version
    data.setdefault("defaults", {}).update(defaults or {})
    for section, extra in (("marketplaces", marketplaces), ("regions", regions)):
        for key, fields in (extra or {}).items():
            data.setdefault(section, {}).setdefault(key, {}).update(fields)
    if promotions is not None:
        data["promotions"] = list(promotions)
    return Policy.model_validate(data)


# ---------------------------------------------------------------- events


def item(
    sku: str = "SKU-1",
    quantity: int = 1,
    unit_price: str = "100.00",
    weight_kg: float = 1.0,
    dims: tuple[float, float, float] = (20, 15, 10),
) -> Item:
    length, width, height = dims
    return Item(
        sku=sku,
        quantity=quantity,
        unit_price=money(unit_price),
        weight_kg=weight_kg,
        dimensions_cm=Dimensions(length=length, width=width, height=height),
    )


def placed(
    order_id: str = "A1",
    at: datetime = T0,
    marketplace: str = "tmall",
    origin: str = "CN",
    dest: str = "CN",
    amount: str = "100.00",
    ship_by: datetime | None = None,
    items: Iterable[Item] | None = None,
    wholesale: bool = False,
    store_id: str = "s1",
    currency: str = "CNY",
    quantity: int = 1,
    buyer: Buyer | None = None,
    event_id: str | None = None,
) -> OrderPlaced:
    return OrderPlaced(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        store_id=store_id,
        marketplace=marketplace,
        origin_country=origin,
        destination_country=dest,
        items=tuple(items) if items is not None else (item(quantity=quantity, unit_price=amount),),
        amount=money(amount),
        currency=currency,
        ship_by=ship_by,
        wholesale=wholesale,
        buyer=buyer,
    )


def paid(order_id: str = "A1", at: datetime = T0, event_id: str | None = None) -> OrderPaid:
    return OrderPaid(event_id=_id(event_id), order_id=order_id, occurred_at=at)


def supplier_ordered(
    order_id: str = "A1",
    at: datetime = T0,
    cost: str | None = "60.00",
    supplier_id: str = "sup-1",
    event_id: str | None = None,
) -> OrderSupplierOrdered:
    return OrderSupplierOrdered(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        supplier_id=supplier_id,
        cost=None if cost is None else money(cost),
        currency=None if cost is None else "CNY",
    )


def out_of_stock(
    order_id: str = "A1", at: datetime = T0, supplier_id: str | None = None, event_id: str | None = None
) -> OrderOutOfStock:
    return OrderOutOfStock(event_id=_id(event_id), order_id=order_id, occurred_at=at, supplier_id=supplier_id)


def oversize_rejected(
    order_id: str = "A1",
    at: datetime = T0,
    detail: str | None = None,
    event_id: str | None = None,
    supplier_id: str | None = None,
) -> OrderOversize:
    return OrderOversize(
        event_id=_id(event_id), order_id=order_id, occurred_at=at, detail=detail, supplier_id=supplier_id
    )


def supplier_replied(
    order_id: str = "A1",
    at: datetime = T0,
    promised_ship_at: datetime | None = None,
    event_id: str | None = None,
    supplier_id: str | None = None,
) -> OrderSupplierReplied:
    return OrderSupplierReplied(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        promised_ship_at=promised_ship_at,
        supplier_id=supplier_id,
    )


def supplier_unresponsive(
    order_id: str = "A1", at: datetime = T0, event_id: str | None = None, supplier_id: str | None = None
) -> OrderSupplierUnresponsive:
    return OrderSupplierUnresponsive(event_id=_id(event_id), order_id=order_id, occurred_at=at, supplier_id=supplier_id)


def cancel_requested(order_id: str = "A1", at: datetime = T0, event_id: str | None = None) -> OrderCancelRequested:
    return OrderCancelRequested(event_id=_id(event_id), order_id=order_id, occurred_at=at)


def address_invalid(order_id: str = "A1", at: datetime = T0, event_id: str | None = None) -> OrderAddressInvalid:
    return OrderAddressInvalid(event_id=_id(event_id), order_id=order_id, occurred_at=at)


def refunded(
    order_id: str = "A1",
    at: datetime = T0,
    amount: str = "100.00",
    party: str = "customer",
    caused_by: str | None = None,
    event_id: str | None = None,
) -> OrderRefunded:
    return OrderRefunded(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        party=party,  # type: ignore[arg-type]
        amount=money(amount),
        currency="CNY",
        caused_by=caused_by,
    )


def reordered(
    order_id: str = "A1",
    at: datetime = T0,
    cost: str | None = "65.00",
    supplier_id: str | None = "sup-2",
    event_id: str | None = None,
) -> OrderReordered:
    return OrderReordered(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        supplier_id=supplier_id,
        cost=None if cost is None else money(cost),
        currency=None if cost is None else "CNY",
    )


def reissued(order_id: str = "A1", at: datetime = T0, event_id: str | None = None) -> OrderReissued:
    return OrderReissued(event_id=_id(event_id), order_id=order_id, occurred_at=at)


def action_failed(
    order_id: str = "A1",
    at: datetime = T0,
    action_id: str = "act-0",
    action_type: str = "refund",
    reason: str = "gave up",
    event_id: str | None = None,
    outcome: str | None = None,
) -> ActionFailed:
    return ActionFailed(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        action_id=action_id,
        action_type=action_type,
        reason=reason,
        outcome=outcome,  # type: ignore[arg-type]
    )


def action_held(
    order_id: str = "A1",
    at: datetime = T0,
    action_id: str = "act-0",
    amount: str | None = "100.00",
    reason: str = "above the single-refund limit",
    event_id: str | None = None,
) -> ActionHeld:
    return ActionHeld(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        action_id=action_id,
        action_type="refund",
        party="customer" if amount is not None else None,
        amount=None if amount is None else money(amount),
        currency="CNY" if amount is not None else None,
        reason=reason,
    )


def status(
    status: str = "in_transit",
    order_id: str = "A1",
    at: datetime = T0,
    refusal_reason: str | None = None,
    carrier: str = "cainiao",
    tracking: str = "LP001CN",
    event_id: str | None = None,
) -> ShipmentUpdate:
    return ShipmentUpdate(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        carrier=carrier,
        tracking_number=tracking,
        status=status,  # type: ignore[arg-type]
        refusal_reason=refusal_reason,  # type: ignore[arg-type]
    )


def shipped(order_id: str = "A1", at: datetime = T0, event_id: str | None = None, **kw: Any) -> ShipmentUpdate:
    """The parcel was handed to the carrier (status in_transit)."""
    return status("in_transit", order_id=order_id, at=at, event_id=event_id, **kw)


def delivered(order_id: str = "A1", at: datetime = T0, event_id: str | None = None) -> ShipmentUpdate:
    return status("delivered", order_id=order_id, at=at, event_id=event_id)


def intercept_result(
    succeeded: bool, order_id: str = "A1", at: datetime = T0, event_id: str | None = None
) -> ShipmentInterceptResult:
    return ShipmentInterceptResult(event_id=_id(event_id), order_id=order_id, occurred_at=at, succeeded=succeeded)


def dispute(
    reason: str,
    order_id: str = "A1",
    at: datetime = T0,
    amount_claimed: str | None = None,
    return_cost: str | None = None,
    quantity: int | None = None,
    event_id: str | None = None,
) -> DisputeOpened:
    return DisputeOpened(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        reason=reason,  # type: ignore[arg-type]
        amount_claimed=None if amount_claimed is None else money(amount_claimed),
        return_cost=None if return_cost is None else money(return_cost),
        quantity=quantity,
    )


def evidence(
    order_id: str = "A1", at: datetime = T0, kind: str = "photo", event_id: str | None = None
) -> DisputeEvidenceSubmitted:
    return DisputeEvidenceSubmitted(event_id=_id(event_id), order_id=order_id, occurred_at=at, kind=kind)  # type: ignore[arg-type]


def verified(
    approved: bool = True, order_id: str = "A1", at: datetime = T0, event_id: str | None = None
) -> DisputeVerified:
    return DisputeVerified(event_id=_id(event_id), order_id=order_id, occurred_at=at, approved=approved)


def return_accepted(
    order_id: str = "A1", at: datetime = T0, return_cost: str | None = None, event_id: str | None = None
) -> DisputeReturnAccepted:
    return DisputeReturnAccepted(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        return_cost=None if return_cost is None else money(return_cost),
    )


def return_shipped(
    order_id: str = "A1",
    at: datetime = T0,
    return_cost: str | None = None,
    tracking: str | None = "RT001",
    event_id: str | None = None,
) -> DisputeReturnShipped:
    return DisputeReturnShipped(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        tracking_number=tracking,
        return_cost=None if return_cost is None else money(return_cost),
    )


def return_received(order_id: str = "A1", at: datetime = T0, event_id: str | None = None) -> DisputeReturnReceived:
    return DisputeReturnReceived(event_id=_id(event_id), order_id=order_id, occurred_at=at)


def closed(
    order_id: str = "A1",
    at: datetime = T0,
    outcome: str = "settled",
    seller_cooperated: bool = True,
    event_id: str | None = None,
) -> DisputeClosed:
    return DisputeClosed(
        event_id=_id(event_id),
        order_id=order_id,
        occurred_at=at,
        outcome=outcome,  # type: ignore[arg-type]
        seller_cooperated=seller_cooperated,
    )


# ---------------------------------------------------------------- running the engine


@dataclass
class Run:
    """Everything a list of events did: the actions in decision order, each order's last state, the ledgers."""

    actions: list[Action] = field(default_factory=list)
    states: dict[str, OrderState | None] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def stores(self) -> dict[str, StoreLedger]:
        out: dict[str, StoreLedger] = {}
        for entry in self.ledger:
            out[entry.store_id] = apply_entry(out.get(entry.store_id), entry)
        return out

    def state(self, order_id: str = "A1") -> OrderState:
        found = self.states[order_id]
        assert found is not None, f"order {order_id} has no state (rejected or retired)"
        return found


def run_full(events: Iterable[Event], until: datetime | None = None, policy: Policy | None = None) -> Run:
    """Feed events to the engine order by order (`handle_event` each), then `advance` every order to `until`."""
    policy = policy or default_policy()
    out = Run()
    for event in events:
        decision = handle_event(out.states.get(event.order_id), event, policy)
        out.decisions.append(decision)
        if decision.state is not None or event.order_id in out.states:
            out.states[event.order_id] = decision.state
        out.actions.extend(decision.actions)
        out.ledger.extend(decision.ledger)
    if until is not None:
        for order_id, state in list(out.states.items()):
            if state is None:
                continue
            decision = advance(state, until, policy)
            out.decisions.append(decision)
            out.states[order_id] = decision.state
            out.actions.extend(decision.actions)
            out.ledger.extend(decision.ledger)
    for state in out.states.values():
        # every state the rules leave must survive the store's JSON (the worker keeps it between events)
        assert state is None or ORDER_STATE_ADAPTER.validate_json(ORDER_STATE_ADAPTER.dump_json(state)) == state
    return out


def run(events: Iterable[Event], until: datetime | None = None, policy: Policy | None = None) -> list[Action]:
    """All actions the events decide, then those the clock decides up to `until` (strictly before it)."""
    return run_full(events, until, policy).actions


# ---------------------------------------------------------------- looking at actions


def kinds(actions: Iterable[Action]) -> list[tuple[str, str]]:
    """(type, rule) of each action, in decision order."""
    return [(a.type, a.rule) for a in actions]


def brief(action: Action) -> tuple[str, str, str | None, str | None, str | None]:
    """(type, rule, party, amount, notice): what a store manager reads off an action."""
    return (
        action.type,
        action.rule,
        action.party,
        None if action.amount is None else str(action.amount),
        action.notice,
    )


def briefs(actions: Iterable[Action]) -> list[tuple[str, str, str | None, str | None, str | None]]:
    return [brief(a) for a in actions]


def of_type(actions: Iterable[Action], type_: str, rule: str | None = None) -> list[Action]:
    return [a for a in actions if a.type == type_ and (rule is None or a.rule == rule)]


def one(actions: Iterable[Action], type_: str, rule: str | None = None) -> Action:
    found = of_type(actions, type_, rule)
    assert len(found) == 1, f"expected one {type_} ({rule or 'any rule'}), got {briefs(actions)}"
    return found[0]


def customer_refunds(actions: Iterable[Action]) -> list[Action]:
    return [a for a in actions if a.party == "customer" and a.type in ("refund", "abandon_return")]


def supplier_refunds(actions: Iterable[Action]) -> list[Action]:
    return [a for a in actions if a.party == "supplier" and a.type == "refund"]
