"""Inbound events: what stores publish on `orders`, `shipments` and `disputes`.

One discriminated union (`Event`) on the `type` tag, decoded once at the edge
with `EVENT_ADAPTER`. Events are facts, so they are named in the past tense
and frozen. `extra="forbid"`: a misspelt field (`shipby`) is refused with its
name instead of being silently dropped.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from models.common import (
    Amount,
    CountryCode,
    CurrencyCode,
    DisputeReason,
    EventId,
    EventTime,
    Marketplace,
    OrderId,
    Party,
    ShipmentStatus,
    StoreId,
)
from models.text import FreeText
from models.wire import fast_decoder

TOPIC_ORDERS = "orders"
TOPIC_SHIPMENTS = "shipments"
TOPIC_DISPUTES = "disputes"


MAX_ITEMS = 500
MAX_RECORD_BYTES = 256 * 1024
"""The largest record decoded: an order of 500 items and a buyer is under 150 KB. A larger one is refused
before it is parsed, so a hostile record costs at most a few MB of memory, not one error per key."""
_RECORD = TypeAdapter(Annotated[bytes, Field(max_length=MAX_RECORD_BYTES)])


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    event_id: EventId
    order_id: OrderId
    occurred_at: EventTime


class Dimensions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    length: float = Field(gt=0, le=10_000, description="cm")
    width: float = Field(gt=0, le=10_000, description="cm")
    height: float = Field(gt=0, le=10_000, description="cm")

    def girth_rule_cm(self) -> float:
        """Carrier 'length + girth': longest side plus twice the sum of the other two."""
        sides = sorted((self.length, self.width, self.height), reverse=True)
        return sides[0] + 2 * (sides[1] + sides[2])


class Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: FreeText = Field(min_length=1, max_length=64, examples=["SKU-KETTLE-1L"])
    quantity: int = Field(ge=1, le=100_000, examples=[2])
    unit_price: Amount
    weight_kg: float = Field(gt=0, le=10_000, description="Weight of one unit, kg.", examples=[1.2])
    dimensions_cm: Dimensions = Field(description="Packed size of one unit, cm.")


class Buyer(BaseModel):
    """Customer data. Never logged: every field is hidden from repr and str."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str | None = Field(default=None, max_length=200, repr=False)
    phone: str | None = Field(default=None, max_length=64, repr=False)
    email: str | None = Field(default=None, max_length=200, repr=False)
    address: str | None = Field(default=None, max_length=1000, repr=False)


class OrderPlaced(_Event):
    type: Literal["order.placed"] = "order.placed"
    store_id: StoreId
    marketplace: Marketplace
    origin_country: CountryCode
    destination_country: CountryCode
    items: tuple[Item, ...] = Field(min_length=1, max_length=MAX_ITEMS)
    amount: Amount = Field(description="What the buyer paid, the most a customer refund can return.")
    currency: CurrencyCode
    ship_by: EventTime | None = Field(
        default=None,
        description="When the order must leave the warehouse; derived from the policy's handling time if absent.",
    )
    wholesale: bool = Field(default=False, description="A wholesale order (non_quality_return_cap applies).")
    buyer: Buyer | None = Field(default=None, description="Customer data; kept out of logs, metrics and actions.")

    @field_validator("items", mode="before")
    @classmethod
    def _counted_first(cls, value: Any) -> Any:
        # Before each item is validated: 100,000 bad items would cost seconds and an error each.
        if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
            raise ValueError(f"at most {MAX_ITEMS} items")
        return value


class OrderPaid(_Event):
    type: Literal["order.paid"] = "order.paid"


class OrderSupplierOrdered(_Event):
    type: Literal["order.supplier_ordered"] = "order.supplier_ordered"
    supplier_id: FreeText | None = Field(default=None, max_length=64, examples=["sup-7"])
    cost: Amount | None = Field(
        default=None, description="What the store paid the supplier: a supplier refund returns it."
    )
    currency: CurrencyCode | None = None


class OrderOutOfStock(_Event):
    type: Literal["order.out_of_stock"] = "order.out_of_stock"
    supplier_id: FreeText | None = Field(default=None, max_length=64)


class OrderOversize(_Event):
    type: Literal["order.oversize"] = "order.oversize"
    supplier_id: FreeText | None = Field(
        default=None, max_length=64, description="The supplier the message is about; the current one if absent."
    )
    detail: FreeText | None = Field(default=None, max_length=200, description="What the carrier said.")


class OrderSupplierReplied(_Event):
    type: Literal["order.supplier_replied"] = "order.supplier_replied"
    supplier_id: FreeText | None = Field(
        default=None, max_length=64, description="The supplier the message is about; the current one if absent."
    )
    promised_ship_at: EventTime | None = None


class OrderSupplierUnresponsive(_Event):
    type: Literal["order.supplier_unresponsive"] = "order.supplier_unresponsive"
    supplier_id: FreeText | None = Field(
        default=None, max_length=64, description="The supplier the message is about; the current one if absent."
    )


class OrderCancelRequested(_Event):
    type: Literal["order.cancel_requested"] = "order.cancel_requested"


class OrderAddressInvalid(_Event):
    type: Literal["order.address_invalid"] = "order.address_invalid"


class OrderRefunded(_Event):
    """A refund was made (by an executor, the platform or a person)."""

    type: Literal["order.refunded"] = "order.refunded"
    party: Party
    amount: Amount
    currency: CurrencyCode
    caused_by: FreeText | None = Field(
        default=None, max_length=128, description="The action id this refund carried out, if any."
    )


class OrderReordered(_Event):
    type: Literal["order.reordered"] = "order.reordered"
    supplier_id: FreeText | None = Field(default=None, max_length=64)
    cost: Amount | None = None
    currency: CurrencyCode | None = None
    caused_by: FreeText | None = Field(default=None, max_length=128)


class OrderReissued(_Event):
    type: Literal["order.reissued"] = "order.reissued"
    caused_by: FreeText | None = Field(default=None, max_length=128)


class ActionFailed(_Event):
    """An executor gave up on an action (see the executor)."""

    type: Literal["action.failed"] = "action.failed"
    action_id: FreeText = Field(min_length=1, max_length=128)
    action_type: FreeText = Field(min_length=1, max_length=64)
    reason: FreeText = Field(max_length=500)
    outcome: Literal["rejected", "failed", "dropped"] | None = Field(
        default=None,
        description="rejected: the receiver refused it (409/422); failed: given up after retries or a setup "
        "fault; dropped: a person decided it is never sent (`postsale actions drop`).",
    )


class ActionHeld(_Event):
    """An executor held an action for a person instead of sending it (the refund circuit breaker)."""

    type: Literal["action.held"] = "action.held"
    action_id: FreeText = Field(min_length=1, max_length=128)
    action_type: FreeText = Field(min_length=1, max_length=64)
    party: Party | None = None
    amount: Amount | None = None
    currency: CurrencyCode | None = None
    reason: FreeText = Field(max_length=500, description="Why it was held: the breaker's verdict, with the limit.")


# `info_received` is a label printed, not a parcel handed over: it does not count as shipped.
SHIPPED_STATUSES: frozenset[str] = frozenset(ShipmentStatus.__args__) - {"info_received"}  # type: ignore[attr-defined]


class ShipmentUpdate(_Event):
    type: Literal["shipment.update"] = "shipment.update"
    carrier: FreeText = Field(min_length=1, max_length=64, examples=["cainiao"])
    tracking_number: FreeText = Field(min_length=1, max_length=64, examples=["LP00123456789CN"])
    status: ShipmentStatus
    refusal_reason: Literal["damaged", "other"] | None = Field(
        default=None, description="With status delivery_refused: why the buyer refused the parcel."
    )


class ShipmentInterceptResult(_Event):
    type: Literal["shipment.intercept_result"] = "shipment.intercept_result"
    succeeded: bool


DISPUTE_REASONS: tuple[str, ...] = DisputeReason.__args__  # type: ignore[attr-defined]


class DisputeOpened(_Event):
    type: Literal["dispute.opened"] = "dispute.opened"
    reason: DisputeReason
    amount_claimed: Amount | None = Field(
        default=None, description="Partial refund asked for; the order amount if absent."
    )
    return_cost: Amount | None = Field(
        default=None, description="Estimated cost of shipping the goods back (buyer_remorse)."
    )
    quantity: int | None = Field(default=None, ge=1, le=100_000, description="Units the buyer wants to return.")


class DisputeEvidenceSubmitted(_Event):
    type: Literal["dispute.evidence_submitted"] = "dispute.evidence_submitted"
    kind: Literal["photo", "video", "other"] = "photo"


class DisputeVerified(_Event):
    type: Literal["dispute.verified"] = "dispute.verified"
    approved: bool


class DisputeReturnAccepted(_Event):
    type: Literal["dispute.return_accepted"] = "dispute.return_accepted"
    return_cost: Amount | None = None


class DisputeReturnShipped(_Event):
    type: Literal["dispute.return_shipped"] = "dispute.return_shipped"
    tracking_number: FreeText | None = Field(default=None, max_length=64)
    return_cost: Amount | None = None


class DisputeReturnReceived(_Event):
    type: Literal["dispute.return_received"] = "dispute.return_received"


class DisputeClosed(_Event):
    type: Literal["dispute.closed"] = "dispute.closed"
    outcome: Literal["buyer_won", "seller_won", "withdrawn", "settled"] = "settled"
    seller_cooperated: bool = Field(
        default=True, description="False when the platform found the seller did not cooperate."
    )


Event = Annotated[
    OrderPlaced
    | OrderPaid
    | OrderSupplierOrdered
    | OrderOutOfStock
    | OrderOversize
    | OrderSupplierReplied
    | OrderSupplierUnresponsive
    | OrderCancelRequested
    | OrderAddressInvalid
    | OrderRefunded
    | OrderReordered
    | OrderReissued
    | ActionFailed
    | ActionHeld
    | ShipmentUpdate
    | ShipmentInterceptResult
    | DisputeOpened
    | DisputeEvidenceSubmitted
    | DisputeVerified
    | DisputeReturnAccepted
    | DisputeReturnShipped
    | DisputeReturnReceived
    | DisputeClosed,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: tuple[str, ...] = tuple(
    cls.model_fields["type"].default
    for cls in (
        OrderPlaced,
        OrderPaid,
        OrderSupplierOrdered,
        OrderOutOfStock,
        OrderOversize,
        OrderSupplierReplied,
        OrderSupplierUnresponsive,
        OrderCancelRequested,
        OrderAddressInvalid,
        OrderRefunded,
        OrderReordered,
        OrderReissued,
        ActionFailed,
        ActionHeld,
        ShipmentUpdate,
        ShipmentInterceptResult,
        DisputeOpened,
        DisputeEvidenceSubmitted,
        DisputeVerified,
        DisputeReturnAccepted,
        DisputeReturnShipped,
        DisputeReturnReceived,
        DisputeClosed,
    )
)


_fast_decode = fast_decoder(
    get_args(get_args(Event)[0]), item=Item, dimensions=Dimensions, buyer=Buyer, max_items=MAX_ITEMS
)


def topic_of(event_type: str) -> str:
    """The input topic an event type belongs on (`order.*`/`action.*` → orders)."""
    if event_type.startswith("shipment."):
        return TOPIC_SHIPMENTS
    if event_type.startswith("dispute."):
        return TOPIC_DISPUTES
    return TOPIC_ORDERS


def parse_event(raw: bytes | str) -> Event:
    """Decode and validate one wire record; raises `pydantic.ValidationError` naming the field.

    A record of the usual shape is decoded by msgspec into the same object pydantic would make
    (`models.wire.fast_decoder`, in about a third of the time); anything else, every refusal included, by pydantic."""
    if len(raw) <= MAX_RECORD_BYTES:
        event = _fast_decode(raw)
        if event is not None:
            return event  # type: ignore[return-value]  # one of `Event`'s models
    return validate_event(raw)


def validate_event(raw: bytes | str) -> Event:
    """`parse_event` with pydantic alone: the reference the fast decoder is held to."""
    if len(raw) > MAX_RECORD_BYTES:
        _RECORD.validate_python(raw if isinstance(raw, bytes) else raw.encode(errors="replace"))
    return EVENT_ADAPTER.validate_json(raw)


def dump_event(event: Event) -> bytes:
    return EVENT_ADAPTER.dump_json(event, exclude_none=True)


__all__ = [
    "Decimal",
    "Event",
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "parse_event",
    "dump_event",
    "topic_of",
]


_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


def validation_reason(exc: ValidationError) -> str:
    """The first problem of a record, naming the field: `occurred_at: Input should have timezone info`.

    Never echoes the record's content (it may carry customer data into dead-letter headers and logs): an
    unknown `type` is not repeated, and a field name that does not look like one (an unexpected key) is
    shown as `<unexpected field>`."""
    err = exc.errors()[0]
    where = ".".join(_field_name(p) for p in err["loc"]) or "(record)"
    if err["type"] == "union_tag_invalid":
        return f"type: not a known event type{_more(exc)}"
    return f"{where}: {err['msg']}{_more(exc)}"


def field_location(loc: tuple[str | int, ...]) -> str:
    """Where a validation problem is, as `items.0.sku`; a key that does not look like a field name (an
    unexpected key, which could be anything a producer typed) is shown as `<unexpected field>`."""
    return ".".join(_field_name(p) for p in loc)


def _field_name(part: str | int) -> str:
    return str(part) if isinstance(part, int) or _SAFE_NAME.match(part) else "<unexpected field>"


def _more(exc: ValidationError) -> str:
    return f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
