"""Shared field types: identifiers, countries, money, time.

Every timestamp is timezone-aware (`AwareDatetime`): a naive time in an event
is refused at the edge, because "2 days after ship-by" means nothing without
an offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

OrderId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$"),
    Field(
        description="The store's order id; the Kafka key of every record about the order.",
        examples=["TM-20261111-0001"],
    ),
]
EventId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$"),
    Field(description="Unique id of the event; a repeat of the same id changes nothing.", examples=["evt-8f14e45f"]),
]
StoreId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$"),
    Field(description="The store the order belongs to.", examples=["store-hz-01"]),
]
KNOWN_MARKETPLACES: tuple[str, ...] = ("tmall", "taobao", "1688", "aliexpress", "jd", "pdd", "shopify", "dsers")
"""Marketplaces a policy may name: an override for any other would never apply (a misspelt `tmal:`), so it is
refused. Orders from other marketplaces are still decided, with the policy's defaults."""

Marketplace = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$"),
    Field(
        description="Marketplace the order was placed on, lower case; the policy may override thresholds "
        "per marketplace.",
        examples=["tmall", "taobao", "aliexpress", "shopify"],
    ),
]
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 country code.", examples=["CN", "US"]),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 currency code.", examples=["CNY", "USD"]),
]
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description="A money amount, two decimals.", examples=["25.00"]),
]
EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(3000, 1, 1, tzinfo=UTC)


_ZONES: dict[timedelta, timezone] = {}
_MICROSECOND = timedelta(microseconds=1)


def epoch_micros(at: datetime) -> int:
    """An aware time as integer microseconds since 1970-01-01 UTC: the same order and equality as the times
    themselves, and cheap to compare (two aware times of different offsets each ask for their offset)."""
    return (at - EARLIEST_EVENT_TIME) // _MICROSECOND


def _plausible_time(value: datetime) -> datetime:
    """Refuse times the rules cannot compute with: deadlines are event time plus days, in the marketplace's
    zone, and `0001-01-01T00:00+14:00` or `9999-12-31T23:59-14:00` overflow `datetime` there.

    The time comes back with a shared `timezone` per offset instead of pydantic's `TzInfo` (one object per
    parsed value): two times with the same tzinfo object compare without asking either for its offset, and
    comparing times (deadlines against event times, in every rule step) was a large part of a replay. The
    same instant, the same offset, the same text when dumped."""
    # A local year strictly inside (1970, 2999) is inside the bounds whatever the offset (< 24 h).
    if not 1970 < value.year < 2999 and not EARLIEST_EVENT_TIME <= value < LATEST_EVENT_TIME:
        raise ValueError("time must be between 1970-01-01 and 3000-01-01 (UTC)")
    offset = value.utcoffset()
    assert offset is not None  # AwareDatetime ran first
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES.setdefault(offset, timezone(offset))  # timezone(timedelta(0)) is UTC itself
    return value.replace(tzinfo=zone)


EventTime = Annotated[
    AwareDatetime,
    AfterValidator(_plausible_time),
    Field(description="Event time, RFC 3339 with an offset.", examples=["2026-11-11T10:00:00+08:00"]),
]

Party = Literal["supplier", "customer"]

# Rule ids are the playbook's row ids (docs/playbook.md); every action names one.
RuleId = Literal[
    "no_stock",
    "oversize",
    "overdue_expedite",
    "overdue_switch",
    "supplier_unresponsive",
    "customs_hold",
    "wrong_or_missing",
    "damaged",
    "customer_cancel",
    "wrong_address",
    "penalty_points",
    "dispute_reasons",
    "buyer_remorse",
    "misuse",
    "product_defect",
    "return_windows",
    "dispute_rate",
    "non_quality_return_cap",
    "promotion",
]
RULE_IDS: tuple[str, ...] = RuleId.__args__  # type: ignore[attr-defined]

ActionType = Literal[
    "expedite",
    "reorder",
    "refund",
    "notify_customs",
    "notify_customer",
    "request_evidence",
    "open_claim",
    "reissue",
    "intercept",
    "cancel_supplier_order",
    "claim_carrier",
    "accept_return",
    "offer_coupon",
    "send_guidance",
    "abandon_return",
    "close_dispute",
    "escalate",
]
ACTION_TYPES: tuple[str, ...] = ActionType.__args__  # type: ignore[attr-defined]


# Shared by the event models (`models.events`) and the edge decoder (`models.wire`).
ShipmentStatus = Literal[
    "info_received",
    "in_transit",
    "out_for_delivery",
    "failed_attempt",
    "available_for_pickup",
    "customs_hold",
    "customs_cleared",
    "exception",
    "delivered",
    "delivery_refused",
    "returned_to_sender",
    "expired",
]

DisputeReason = Literal[
    "invalid_tracking",
    "wrong_address",
    "in_transit",
    "customs_held",
    "returned",
    "not_as_described",
    "quality",
    "damaged",
    "short_shipment",
    "counterfeit",
    "wrong_item",
    "missing_item",
    "buyer_remorse",
    "misuse",
]
