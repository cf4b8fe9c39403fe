"""A simulated store whose orders go wrong in every way the playbook covers.

Why a simulator and not recorded traffic: there is no real store to record,
and a recording would never hold every playbook row in a few thousand orders.
This module produces the inbound wire format of `models.events` (plain dicts,
the keys of the event models, times as RFC 3339 strings with an offset) for
demos, load tests, the replay and the end-to-end tests.

Each order follows one *scenario* from `SCENARIOS`: a function that writes the
order's whole timeline (placement, payment, supplier, parcel, buyer, platform)
the way the outside world would report it. The timelines are built against the
numbers of the shipped default policy (`models/default_policy.yaml`: 72 h
handling, expedite at ship-by + 2 d, switch at + 4 d, the promotion windows,
…), mirrored below as constants, so that each scenario lands on the row it is
named after. Under another policy the same stream is still valid input; only
the engine's decisions differ.

The simulator reports facts only. It never reads the engine's decisions; where
a real executor would act on one (a refund made, a reorder placed), the
timeline carries the resulting event at a time safely after the engine would
have decided it under the default policy.

`generate` merges the timelines of many orders into one stream in event-time
order, lazily: an order is written only when the stream reaches its placement
time, and a heap holds the pending events of the orders still active, so a
million-event run never holds a million events.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal, overload

import orjson

__all__ = [
    "SAMPLE_RECIPE",
    "SCENARIOS",
    "STORES",
    "OrderContext",
    "Scenario",
    "Store",
    "generate",
    "scenario_names",
    "write_jsonl",
]

# --- The default policy's numbers the timelines are built against (models/default_policy.yaml) ---------------

CN_TZ = timezone(timedelta(hours=8), "CST")
US_EAST = timezone(timedelta(hours=-5), "EST")  # Shopify shops here report in Eastern time; EST covers the sales

HANDLING_HOURS = 72.0
EXPEDITE_AFTER = timedelta(days=2)
SWITCH_AFTER = timedelta(days=4)
REPLY_WINDOW = timedelta(hours=48)
CUSTOMS_ESCALATE = timedelta(days=7)
EVIDENCE_WAIT = timedelta(days=7)
INTERCEPT_WAIT = timedelta(days=3)
RETURN_TRACKING = timedelta(days=10)
RETURN_ABANDON_WINDOW = timedelta(days=30)
REMORSE_COUPON_SHARE = Decimal("0.3")
ESTIMATE_DOMESTIC_DAYS = 7
ESTIMATE_INTERNATIONAL_DAYS = 30
ESTIMATE_DAYS_BY_REGION = {"US": 20}
WHOLESALE_RETURN_CAP = Decimal("0.10")
CLAIM_BY_REFUND = frozenset({"aliexpress"})  # claim_resolution: refund; every other marketplace reissues


@dataclass(frozen=True, slots=True)
class PromotionWindow:
    """A big-sale window of the default policy: orders placed inside it get a shorter handling time."""

    name: str
    starts_at: datetime
    ends_at: datetime
    marketplaces: frozenset[str]
    handling_hours: float


PROMOTIONS: tuple[PromotionWindow, ...] = (
    PromotionWindow(
        "double11",
        datetime(2026, 11, 1, tzinfo=CN_TZ),
        datetime(2026, 11, 12, tzinfo=CN_TZ),
        frozenset({"tmall", "taobao", "aliexpress", "1688"}),
        12.0,
    ),
    PromotionWindow(
        "black_friday",
        datetime(2026, 11, 27, tzinfo=US_EAST),
        datetime(2026, 12, 1, tzinfo=US_EAST),
        frozenset({"shopify", "aliexpress"}),
        24.0,
    ),
)


def active_promotion(marketplace: str, at: datetime) -> PromotionWindow | None:
    """The first window containing `at` for this marketplace, as the policy resolves it (start ≤ at < end)."""
    for promo in PROMOTIONS:
        if promo.starts_at <= at < promo.ends_at and marketplace in promo.marketplaces:
            return promo
    return None


# --- Stores, marketplaces, catalogue -------------------------------------------------------------------------

CN_MARKETS: tuple[str, ...] = ("tmall", "taobao", "1688")
CROSS_BORDER: tuple[str, ...] = ("aliexpress", "shopify")
ALL_MARKETS: tuple[str, ...] = CN_MARKETS + CROSS_BORDER
RETAIL_MARKETS: tuple[str, ...] = ("tmall", "taobao", "aliexpress", "shopify")
PENALTY_MARKETS: tuple[str, ...] = ("tmall", "taobao")


@dataclass(frozen=True, slots=True)
class Store:
    """A seller. Real dropshipping sellers list on several channels, so a store has one or more marketplaces;
    the first two stores together cover every marketplace the playbook distinguishes."""

    store_id: str
    marketplaces: tuple[str, ...]
    origin_country: str = "CN"


STORES: tuple[Store, ...] = (
    Store("store-hz-01", ("tmall", "taobao", "1688")),
    Store("store-sz-02", ("aliexpress", "shopify")),
    Store("store-yw-03", ("1688", "taobao")),
    Store("store-gz-04", ("shopify", "aliexpress")),
    Store("store-nb-05", ("tmall",)),
)


def stores_for(count: int) -> tuple[Store, ...]:
    """The first `count` stores; beyond the named five, numbered copies of their channel mixes."""
    if count < 1:
        raise ValueError("stores must be at least 1")
    out = list(STORES[:count])
    for i in range(len(STORES), count):
        out.append(Store(f"store-cn-{i + 1:02d}", STORES[i % len(STORES)].marketplaces))
    return tuple(out)


CURRENCY = {"tmall": "CNY", "taobao": "CNY", "1688": "CNY", "aliexpress": "USD", "shopify": "USD"}
EVENT_TZ = {"shopify": US_EAST}  # everything else reports in China time
ABROAD: tuple[str, ...] = ("US", "DE", "ES", "FR", "BR")
CARRIERS_CN: tuple[str, ...] = ("sf-express", "zto", "yto", "jd-logistics")
CARRIERS_INTL: tuple[str, ...] = ("cainiao", "yanwen", "4px", "yunexpress")


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    price_cny: Decimal
    weight_kg: float
    dims: tuple[float, float, float]


RETAIL: tuple[Product, ...] = (
    Product("SKU-KETTLE-1L", Decimal("89.00"), 1.2, (22, 18, 25)),
    Product("SKU-EARBUDS-BT5", Decimal("129.00"), 0.15, (10, 8, 4)),
    Product("SKU-PHONE-CASE", Decimal("29.90"), 0.08, (18, 10, 2)),
    Product("SKU-DESK-LAMP", Decimal("159.00"), 1.6, (45, 20, 15)),
    Product("SKU-YOGA-MAT", Decimal("79.00"), 1.1, (62, 15, 15)),
    Product("SKU-BACKPACK-25L", Decimal("199.00"), 0.9, (48, 32, 12)),
    Product("SKU-SNEAKER-42", Decimal("259.00"), 1.0, (34, 22, 13)),
    Product("SKU-RICE-COOKER", Decimal("299.00"), 3.2, (35, 30, 28)),
)
WHOLESALE: tuple[Product, ...] = (
    Product("SKU-PHONE-CASE", Decimal("6.50"), 0.08, (18, 10, 2)),
    Product("SKU-USB-CABLE-1M", Decimal("3.20"), 0.05, (12, 8, 2)),
    Product("SKU-SOCKS-5PK", Decimal("9.80"), 0.25, (20, 15, 4)),
)
# Over the carrier limits of the default policy (30 kg, 120 cm a side, 300 cm length + girth).
OVERSIZE: tuple[Product, ...] = (
    Product("SKU-SOFA-3SEAT", Decimal("2399.00"), 48.0, (210, 90, 80)),
    Product("SKU-TREADMILL-F1", Decimal("1899.00"), 62.0, (160, 75, 30)),
    Product("SKU-RUG-300", Decimal("459.00"), 9.0, (300, 30, 30)),
)
# Within the limits as packed, but a carrier may still refuse it (volumetric weight, irregular shape).
BULKY: tuple[Product, ...] = (
    Product("SKU-OFFICE-CHAIR", Decimal("699.00"), 19.0, (68, 52, 44)),
    Product("SKU-AIR-FRYER-XL", Decimal("499.00"), 8.5, (48, 44, 42)),
)
CNY_PER_USD = Decimal("7.10")

# Fake customer data, only ever on order.placed `buyer`, by destination: something for the privacy tests to find.
FAKE_BUYERS: dict[str, tuple[dict[str, str], ...]] = {
    "CN": (
        {
            "name": "Wang Xiaoming",
            "phone": "+86 138 0000 1234",
            "email": "xm.wang@example.com",
            "address": "88 Wensan Road, Xihu District, Hangzhou, Zhejiang 310012",
        },
        {
            "name": "Li Na",
            "phone": "+86 139 0000 5678",
            "email": "li.na@example.cn",
            "address": "12 Nanjing West Road, Jing'an District, Shanghai 200041",
        },
    ),
    "HK": (
        {
            "name": "Chan Tai Man",
            "phone": "+852 5555 0000",
            "email": "tm.chan@example.hk",
            "address": "18 Nathan Road, Tsim Sha Tsui, Kowloon, Hong Kong",
        },
    ),
    "US": (
        {
            "name": "Jane Doe",
            "phone": "+1 555 0100 200",
            "email": "jane.doe@example.org",
            "address": "742 Evergreen Terrace, Springfield, OR 97403, USA",
        },
    ),
    "DE": (
        {
            "name": "Max Mustermann",
            "phone": "+49 30 1234567",
            "email": "max@example.de",
            "address": "Musterstrasse 1, 10115 Berlin, Germany",
        },
    ),
    "ES": (
        {
            "name": "Lucia Garcia",
            "phone": "+34 600 000 000",
            "email": "lucia.g@example.es",
            "address": "Calle Mayor 5, 28013 Madrid, Spain",
        },
    ),
    "FR": (
        {
            "name": "Jean Dupont",
            "phone": "+33 6 00 00 00 00",
            "email": "jean.dupont@example.fr",
            "address": "10 Rue de Rivoli, 75004 Paris, France",
        },
    ),
    "BR": (
        {
            "name": "Joao Silva",
            "phone": "+55 11 90000 0000",
            "email": "joao.silva@example.com.br",
            "address": "Av. Paulista 1000, Sao Paulo SP 01310-100, Brazil",
        },
    ),
}

CENT = Decimal("0.01")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- One order ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a scenario is given about its order: who sells it where, to where, and when it was placed."""

    order_id: str
    store_id: str
    marketplace: str
    origin_country: str
    destination_country: str
    placed_at: datetime

    @property
    def currency(self) -> str:
        return CURRENCY.get(self.marketplace, "USD")

    @property
    def domestic(self) -> bool:
        return self.origin_country == self.destination_country

    @property
    def promotion(self) -> PromotionWindow | None:
        return active_promotion(self.marketplace, self.placed_at)

    @property
    def handling(self) -> timedelta:
        promo = self.promotion
        return timedelta(hours=promo.handling_hours if promo is not None else HANDLING_HOURS)

    @property
    def estimate(self) -> timedelta:
        """The policy's delivery estimate for this order (the in-transit dispute boundary)."""
        if self.domestic:
            return timedelta(days=ESTIMATE_DOMESTIC_DAYS)
        return timedelta(days=ESTIMATE_DAYS_BY_REGION.get(self.destination_country, ESTIMATE_INTERNATIONAL_DAYS))

    @property
    def claims_refund(self) -> bool:
        return self.marketplace in CLAIM_BY_REFUND


def _hours(span: timedelta) -> float:
    return span.total_seconds() / 3600


def _secs(rng: random.Random, lo_hours: float, hi_hours: float) -> timedelta:
    """A random whole-second span: every time in the stream is whole seconds, so the string and the instant agree."""
    return timedelta(seconds=rng.randint(round(lo_hours * 3600), round(hi_hours * 3600)))


class Timeline:
    """Builds one order's events in time order; `now` never goes backwards.

    Event ids are the order id plus a sequence number: unique by construction,
    and readable in a replay ("the 7th event of that order").
    """

    def __init__(self, rng: random.Random, order: OrderContext) -> None:
        self.rng = rng
        self.order = order
        self.now = order.placed_at
        self.tz = EVENT_TZ.get(order.marketplace, CN_TZ)
        self.events: list[dict[str, Any]] = []
        self.amount = Decimal("0")
        self.units = 0
        self.ship_by = order.placed_at + order.handling
        self.shipped_at: datetime | None = None
        domestic = order.domestic
        self.carrier = rng.choice(CARRIERS_CN if domestic else CARRIERS_INTL)
        prefix = "SF" if self.carrier == "sf-express" else "LP"
        self.tracking = f"{prefix}{rng.randrange(10**11, 10**12)}{'' if domestic else 'CN'}"

    # time
    def wait(self, lo_hours: float, hi_hours: float) -> datetime:
        self.now += _secs(self.rng, lo_hours, hi_hours)
        return self.now

    def until(self, when: datetime, lo_hours: float = 0.0, hi_hours: float = 0.0) -> datetime:
        """Move to `when` (plus a random margin), never backwards."""
        self.now = max(self.now, when + _secs(self.rng, lo_hours, hi_hours))
        return self.now

    # events
    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"evt-{self.order.order_id}-{len(self.events) + 1:02d}",
            "order_id": self.order.order_id,
            "type": type_,
            "occurred_at": self.now.astimezone(self.tz).isoformat(),
        }
        event.update({k: v for k, v in fields.items() if v is not None})
        self.events.append(event)
        return event

    def iso(self, when: datetime) -> str:
        return when.astimezone(self.tz).isoformat()

    def price(self, cny: Decimal) -> Decimal:
        return cny if self.order.currency == "CNY" else _money(cny / CNY_PER_USD)

    def amount_str(self, value: Decimal) -> str:
        return str(_money(value))


# --- Timeline pieces shared by the scenarios ----------------------------------------------------------------


def _item(tl: Timeline, product: Product, quantity: int) -> dict[str, Any]:
    length, width, height = product.dims
    return {
        "sku": product.sku,
        "quantity": quantity,
        "unit_price": str(tl.price(product.price_cny)),
        "weight_kg": product.weight_kg,
        "dimensions_cm": {"length": length, "width": width, "height": height},
    }


def place(
    tl: Timeline,
    *,
    products: Sequence[Product] | None = None,
    wholesale: bool | None = None,
    quantity: int | None = None,
    with_ship_by: bool | None = None,
) -> None:
    """order.placed and order.paid. 1688 orders are wholesale batches; other marketplaces sell one to three units."""
    rng, order = tl.rng, tl.order
    if wholesale is None:
        wholesale = order.marketplace == "1688"
    if products is None:
        if wholesale:
            products = [rng.choice(WHOLESALE)]
        else:
            products = rng.sample(RETAIL, rng.choice((1, 1, 1, 2)))
    items = []
    for product in products:
        if quantity is not None:
            qty = quantity
        else:
            qty = rng.choice((20, 50, 100)) if wholesale else rng.choice((1, 1, 2, 3))
        items.append(_item(tl, product, qty))
        tl.units += qty
        tl.amount += tl.price(product.price_cny) * qty
    tl.amount = _money(tl.amount)
    fields: dict[str, Any] = {
        "store_id": order.store_id,
        "marketplace": order.marketplace,
        "origin_country": order.origin_country,
        "destination_country": order.destination_country,
        "items": items,
        "amount": tl.amount_str(tl.amount),
        "currency": order.currency,
    }
    if with_ship_by is None:
        with_ship_by = order.marketplace == "tmall" and rng.random() < 0.3  # Tmall's "48 h shipping" promise
    if with_ship_by:
        promised = order.placed_at + timedelta(hours=48)
        fields["ship_by"] = tl.iso(promised)
        # The policy keeps the order's own ship-by unless a promotion's derived one is earlier.
        if order.promotion is None or promised < tl.ship_by:
            tl.ship_by = promised
    if wholesale:
        fields["wholesale"] = True
    if rng.random() < 0.7:
        fields["buyer"] = dict(rng.choice(FAKE_BUYERS.get(order.destination_country, FAKE_BUYERS["US"])))
    tl.emit("order.placed", **fields)
    tl.wait(0.01, 0.5)
    tl.emit("order.paid")


def supplier_order(tl: Timeline, *, reorder: bool = False) -> None:
    """The store buys from its supplier (or, after a switch, from an alternative one), with the cost."""
    cost = _money(tl.amount * Decimal(str(round(tl.rng.uniform(0.45, 0.7), 2))))
    supplier = f"sup-{tl.rng.randint(1, 40)}"
    if reorder:
        tl.emit("order.reordered", supplier_id=supplier, cost=str(cost), currency=tl.order.currency)
    else:
        tl.emit("order.supplier_ordered", supplier_id=supplier, cost=str(cost), currency=tl.order.currency)


def open_order(tl: Timeline, **place_args: Any) -> None:
    place(tl, **place_args)
    tl.wait(0.2, 4)
    supplier_order(tl)


def ship_at(tl: Timeline, when: datetime | None = None) -> None:
    """The label is printed, then the carrier scans the parcel in: shipped at `when`, or within the handling time."""
    if when is None:
        span = (tl.ship_by - tl.now).total_seconds() / 3600
        when = tl.now + _secs(tl.rng, max(0.5, 0.1 * span), max(1.0, 0.8 * span))
    label = when - _secs(tl.rng, 0.5, 6)
    if label > tl.now:
        tl.until(label)
        tl.emit("shipment.update", carrier=tl.carrier, tracking_number=tl.tracking, status="info_received")
    tl.until(when)
    tl.emit("shipment.update", carrier=tl.carrier, tracking_number=tl.tracking, status="in_transit")
    tl.shipped_at = tl.now


def track(tl: Timeline, status: str, **fields: Any) -> None:
    tl.emit("shipment.update", carrier=tl.carrier, tracking_number=tl.tracking, status=status, **fields)


def deliver(tl: Timeline, *, customs_cleared: bool | None = None) -> None:
    """Transit to delivery, within the delivery estimate: 1-4 days at home, 6-16 days abroad."""
    if tl.order.domestic:
        tl.wait(20, 80)
    else:
        tl.wait(24 * 3, 24 * 7)
        if customs_cleared is None:
            customs_cleared = tl.rng.random() < 0.4
        if customs_cleared:
            track(tl, "customs_cleared")
        tl.wait(24 * 3, 24 * 8)
    track(tl, "out_for_delivery")
    tl.wait(2, 9)
    track(tl, "delivered")


def refunded(tl: Timeline, amount: Decimal, party: Literal["customer", "supplier"] = "customer") -> None:
    """An executor or the platform reports a refund made."""
    currency = tl.order.currency
    tl.emit("order.refunded", party=party, amount=tl.amount_str(amount), currency=currency)


def supplier_cost_of(tl: Timeline) -> Decimal:
    for event in reversed(tl.events):
        if event["type"] in ("order.supplier_ordered", "order.reordered") and "cost" in event:
            return Decimal(event["cost"])
    return Decimal("0")


def close(tl: Timeline, outcome: str, *, cooperated: bool | None = None, lo: float = 12, hi: float = 72) -> None:
    tl.wait(lo, hi)
    tl.emit("dispute.closed", outcome=outcome, seller_cooperated=cooperated)


def claim(tl: Timeline, *, approved: bool, amount_claimed: Decimal | None = None, kind: str = "photo") -> None:
    """Evidence within 1-3 days, the platform's verdict after 14-35 calendar days (inside 10-30 working days),
    then the resolution the policy prefers (reissue, or a refund within 15 working days), then the closing."""
    tl.wait(24, 72)
    tl.emit("dispute.evidence_submitted", kind=kind)
    tl.wait(24 * 14, 24 * 35)
    tl.emit("dispute.verified", approved=approved)
    if not approved:
        close(tl, "seller_won")
        return
    if tl.order.claims_refund:
        tl.wait(12, 24 * 8)
        refunded(tl, amount_claimed if amount_claimed is not None else tl.amount)
    else:
        tl.wait(6, 48)
        tl.emit("order.reissued")
    close(tl, "buyer_won", lo=6, hi=48)


def return_flow(
    tl: Timeline,
    refund: Decimal,
    *,
    accepted_event: bool = True,
    ships: bool = True,
    arrives: bool = True,
    return_cost: Decimal | None = None,
) -> None:
    """The return after the seller accepted it: the buyer ships it within the 10 days (or never), the goods
    arrive within the 30 days (or never) and the buyer is refunded."""
    if accepted_event:
        tl.wait(1, 24)
        tl.emit("dispute.return_accepted")
    if not ships:
        close(tl, "seller_won", lo=_hours(RETURN_TRACKING) + 24, hi=_hours(RETURN_TRACKING) + 96)
        return
    tl.wait(24, 24 * 8)
    tracking = f"RT{tl.rng.randrange(10**9, 10**10)}"
    cost = tl.amount_str(return_cost) if return_cost is not None else None
    tl.emit("dispute.return_shipped", tracking_number=tracking, return_cost=cost)
    if return_cost is not None and return_cost > tl.amount:
        # The engine abandons the return: the executor refunds at once and the platform closes the case.
        tl.wait(1, 12)
        refunded(tl, refund)
        close(tl, "buyer_won", lo=6, hi=48)
        return
    if not arrives:
        tl.wait(_hours(RETURN_ABANDON_WINDOW) + 24 * 3, _hours(RETURN_ABANDON_WINDOW) + 24 * 10)
        tl.emit("dispute.closed", outcome="settled")
        return
    tl.wait(24 * 4, 24 * 20)
    tl.emit("dispute.return_received")
    tl.wait(2, 48)
    refunded(tl, refund)
    close(tl, "buyer_won", lo=6, hi=48)


def delivered_order(tl: Timeline, **place_args: Any) -> None:
    open_order(tl, **place_args)
    ship_at(tl)
    deliver(tl)


def dispute(tl: Timeline, reason: str, lo_hours: float = 24, hi_hours: float = 24 * 5, **fields: Any) -> None:
    tl.wait(lo_hours, hi_hours)
    tl.emit("dispute.opened", reason=reason, **fields)


# --- The scenarios ------------------------------------------------------------------------------------------

ScenarioFn = Callable[[random.Random, OrderContext], list[dict[str, Any]]]


def _scenario(fn: Callable[[Timeline], None]) -> ScenarioFn:
    def build(rng: random.Random, order: OrderContext) -> list[dict[str, Any]]:
        tl = Timeline(rng, order)
        fn(tl)
        return tl.events

    build.__name__ = fn.__name__
    build.__doc__ = fn.__doc__
    return build


@_scenario
def happy(tl: Timeline) -> None:
    """Placed, paid, bought, shipped within the handling time, delivered: nothing for the engine to do."""
    delivered_order(tl)


@_scenario
def promotion_rush(tl: Timeline) -> None:
    """Placed during a big sale: the store ships within the sale's short handling time and the parcel is tracked."""
    open_order(tl)
    ship_at(tl, tl.now + _secs(tl.rng, 0.5, max(1.0, (tl.ship_by - tl.now).total_seconds() / 3600 - 0.5)))
    deliver(tl)


@_scenario
def no_stock_reorder_ships(tl: Timeline) -> None:
    """The supplier has no stock; the reorder from an alternative supplier ships."""
    open_order(tl)
    tl.wait(2, 30)
    tl.emit("order.out_of_stock", supplier_id=f"sup-{tl.rng.randint(1, 40)}")
    tl.wait(1, 6)
    refunded(tl, supplier_cost_of(tl), "supplier")
    tl.wait(0.5, 4)
    supplier_order(tl, reorder=True)
    ship_at(tl, tl.now + _secs(tl.rng, 6, 40))
    deliver(tl)


@_scenario
def no_stock_twice_refund(tl: Timeline) -> None:
    """No stock, and the alternative supplier has none either: no supplier left, the customer is refunded."""
    open_order(tl)
    tl.wait(2, 30)
    tl.emit("order.out_of_stock")
    tl.wait(1, 6)
    supplier_order(tl, reorder=True)
    tl.wait(4, 30)
    tl.emit("order.out_of_stock")
    tl.wait(1, 8)
    refunded(tl, tl.amount)


@_scenario
def oversize_at_placement(tl: Timeline) -> None:
    """An item over the carrier limits is ordered; the store places an adjusted product that ships."""
    products = [tl.rng.choice(OVERSIZE)]
    place(tl, products=products, wholesale=False, quantity=1)
    tl.wait(1, 6)
    supplier_order(tl)
    ship_at(tl)
    deliver(tl)


@_scenario
def oversize_carrier_rejects(tl: Timeline) -> None:
    """Within the limits on paper, but the carrier refuses the parcel as oversized; the adjusted reorder ships."""
    place(tl, products=[tl.rng.choice(BULKY)], wholesale=False, quantity=1)
    tl.wait(0.2, 4)
    supplier_order(tl)
    tl.wait(6, 36)
    tl.emit("order.oversize", detail=f"volumetric weight {tl.rng.randint(31, 48)} kg over the 30 kg limit")
    tl.wait(1, 8)
    supplier_order(tl, reorder=True)
    ship_at(tl, tl.now + _secs(tl.rng, 12, 40))
    deliver(tl)


@_scenario
def overdue_expedite(tl: Timeline) -> None:
    """The supplier ships 3 days after ship-by: after the expedite (ship-by + 2 d), before the switch (+ 4 d)."""
    open_order(tl)
    ship_at(tl, tl.ship_by + timedelta(days=3) + _secs(tl.rng, -6, 6))
    deliver(tl)


@_scenario
def supplier_replies_in_time(tl: Timeline) -> None:
    """Expedited at ship-by + 2 d, the supplier answers within the 48 h window and ships as promised."""
    open_order(tl)
    tl.until(tl.ship_by + EXPEDITE_AFTER, 2, _hours(REPLY_WINDOW) - 18)  # the reply and the shipment: inside it
    promised = tl.now + _secs(tl.rng, 4, 14)
    tl.emit("order.supplier_replied", promised_ship_at=tl.iso(promised))
    ship_at(tl, promised)
    deliver(tl)


@_scenario
def supplier_unresponsive(tl: Timeline) -> None:
    """Expedited, the supplier stays silent and the store says so; the alternative supplier ships."""
    open_order(tl)
    tl.until(tl.ship_by + EXPEDITE_AFTER, 12, _hours(REPLY_WINDOW) - 8)
    tl.emit("order.supplier_unresponsive")
    tl.wait(1, 6)
    supplier_order(tl, reorder=True)
    ship_at(tl, tl.now + _secs(tl.rng, 8, 40))
    deliver(tl)


@_scenario
def overdue_switch_reorder_ships(tl: Timeline) -> None:
    """Never shipped by the first supplier: the switch at ship-by + 4 d reorders, and the reorder ships."""
    open_order(tl)
    switched = tl.until(tl.ship_by + SWITCH_AFTER, 1, 8)
    supplier_order(tl, reorder=True)
    ship_at(tl, switched + _secs(tl.rng, 12, 48))
    deliver(tl)


@_scenario
def overdue_switch_never_ships(tl: Timeline) -> None:
    """Neither the first nor the alternative supplier ever ships: the second switch refunds the customer."""
    open_order(tl)
    switched = tl.until(tl.ship_by + SWITCH_AFTER, 1, 8)
    supplier_order(tl, reorder=True)
    # The alternative supplier gets a fresh ship-by (the switch time + handling), checked again 4 days later.
    tl.until(switched + tl.order.handling + SWITCH_AFTER, 2, 24)
    refunded(tl, tl.amount)


@_scenario
def customs_hold_cleared(tl: Timeline) -> None:
    """Customs holds the parcel and clears it after 3 days, well inside the escalation window."""
    open_order(tl)
    ship_at(tl)
    tl.wait(24 * 3, 24 * 6)
    track(tl, "customs_hold")
    tl.wait(24 * 2.5, 24 * 3.5)
    track(tl, "customs_cleared")
    deliver(tl, customs_cleared=False)


@_scenario
def customs_hold_escalated(tl: Timeline) -> None:
    """Customs holds the parcel for 10 days: the hold is escalated after 7, then it clears and is delivered."""
    open_order(tl)
    ship_at(tl)
    tl.wait(24 * 3, 24 * 6)
    track(tl, "customs_hold")
    tl.wait(_hours(CUSTOMS_ESCALATE) + 24 * 2.5, _hours(CUSTOMS_ESCALATE) + 24 * 3.5)
    track(tl, "customs_cleared")
    deliver(tl, customs_cleared=False)


def _claim_scenario(reason: str, approved: bool | None, *, partial: bool = False) -> Callable[[Timeline], None]:
    def fn(tl: Timeline) -> None:
        delivered_order(tl)
        claimed = _money(tl.amount * Decimal("0.4")) if partial else None
        dispute(tl, reason, 6, 24 * 5, amount_claimed=str(claimed) if claimed is not None else None)
        verdict = approved if approved is not None else tl.rng.random() < 0.7
        claim(tl, approved=verdict, amount_claimed=claimed, kind=tl.rng.choice(("photo", "video")))

    fn.__name__ = f"claim_{reason}"
    fn.__doc__ = f"The buyer reports {reason.replace('_', ' ')}, sends evidence, and the platform verifies it."
    return fn


wrong_item_verified = _scenario(_claim_scenario("wrong_item", True))
missing_item_rejected = _scenario(_claim_scenario("missing_item", False))
short_shipment_partial = _scenario(_claim_scenario("short_shipment", True, partial=True))
damaged_claim = _scenario(_claim_scenario("damaged", None))
not_as_described = _scenario(_claim_scenario("not_as_described", None))


@_scenario
def claim_no_evidence(tl: Timeline) -> None:
    """The buyer reports a wrong item or damage and never sends the evidence: escalated after 7 days."""
    delivered_order(tl)
    dispute(tl, tl.rng.choice(("wrong_item", "damaged")), 6, 24 * 5)
    close(tl, "withdrawn", lo=_hours(EVIDENCE_WAIT) + 24 * 2, hi=_hours(EVIDENCE_WAIT) + 24 * 7)


@_scenario
def delivery_refused_damaged(tl: Timeline) -> None:
    """The parcel arrives damaged and the buyer refuses it: refund at once, claim against the carrier."""
    open_order(tl)
    ship_at(tl)
    tl.wait(20, 80)
    track(tl, "out_for_delivery")
    tl.wait(2, 9)
    track(tl, "delivery_refused", refusal_reason="damaged")
    tl.wait(1, 12)
    refunded(tl, tl.amount)
    tl.wait(24, 24 * 4)
    track(tl, "returned_to_sender")


CancelWhen = Literal["before", "intercepted", "failed", "no_result", "abroad"]


def _cancel_scenario(trigger: str, when: CancelWhen) -> ScenarioFn:
    def fn(tl: Timeline) -> None:
        open_order(tl)
        if when == "before":
            tl.wait(0.5, 12)
            tl.emit(trigger)
            tl.wait(0.5, 6)
            refunded(tl, supplier_cost_of(tl), "supplier")
            tl.wait(0.1, 4)
            refunded(tl, tl.amount)
            return
        ship_at(tl)
        if when == "abroad":
            tl.wait(24, 24 * 5)
            tl.emit(trigger)
            if trigger == "order.address_invalid":
                tl.wait(24 * 6, 24 * 12)
                track(tl, "failed_attempt")
                tl.wait(24 * 3, 24 * 8)
                track(tl, "returned_to_sender")
            else:
                deliver(tl)
            return
        tl.wait(2, 20)
        tl.emit(trigger)
        if when == "no_result":
            tl.wait(_hours(INTERCEPT_WAIT) + 12, _hours(INTERCEPT_WAIT) + 48)
        else:
            tl.wait(4, 40)
            tl.emit("shipment.intercept_result", succeeded=when == "intercepted")
        if when == "intercepted":
            tl.wait(1, 12)
            refunded(tl, tl.amount)
            tl.wait(20, 72)
            track(tl, "returned_to_sender")
        else:
            tl.wait(6, 30)
            track(tl, "out_for_delivery")
            tl.wait(2, 9)
            track(tl, "delivered")

    what = "cancels" if trigger == "order.cancel_requested" else "gave a wrong address"
    fn.__name__ = f"{trigger}_{when}"
    fn.__doc__ = f"The buyer {what}: {when}."
    return _scenario(fn)


@_scenario
def dispute_invalid_tracking(tl: Timeline) -> None:
    """The buyer cannot track the parcel (the number is not in the carrier's system yet) and opens a dispute."""
    open_order(tl)
    ship_at(tl)
    dispute(tl, "invalid_tracking", 24 * 2, 24 * 4)
    deliver(tl)
    close(tl, "withdrawn", lo=6, hi=48)


@_scenario
def dispute_in_transit_within(tl: Timeline) -> None:
    """\"Where is my parcel?\" within the delivery estimate: tell the buyer the tracking state."""
    open_order(tl)
    ship_at(tl)
    assert tl.shipped_at is not None
    tl.wait(24 * 2, 24 * 4)
    tl.emit("dispute.opened", reason="in_transit")
    deliver(tl)
    close(tl, "withdrawn", lo=6, hi=48)


@_scenario
def dispute_in_transit_late(tl: Timeline) -> None:
    """The parcel is lost: still not delivered after the delivery estimate → reissue or refund."""
    open_order(tl)
    ship_at(tl)
    assert tl.shipped_at is not None
    track_late = tl.shipped_at + _secs(tl.rng, 24 * 2, 24 * 4)
    tl.until(track_late)
    track(tl, "in_transit")
    tl.until(tl.shipped_at + tl.order.estimate, 24 * 1, 24 * 6)
    tl.emit("dispute.opened", reason="in_transit")
    if tl.order.claims_refund:
        tl.wait(12, 24 * 8)
        refunded(tl, tl.amount)
    else:
        tl.wait(6, 48)
        tl.emit("order.reissued")
    close(tl, "buyer_won", lo=6, hi=48)


@_scenario
def dispute_customs_held(tl: Timeline) -> None:
    """The buyer reports the parcel held by customs before tracking does; it clears and is delivered."""
    open_order(tl)
    ship_at(tl)
    dispute(tl, "customs_held", 24 * 4, 24 * 7)
    tl.wait(24 * 1, 24 * 4)
    track(tl, "customs_cleared")
    deliver(tl, customs_cleared=False)
    close(tl, "withdrawn", lo=6, hi=48)


@_scenario
def dispute_returned(tl: Timeline) -> None:
    """The carrier returns the parcel to the sender and the buyer disputes: reissue or refund."""
    open_order(tl)
    ship_at(tl)
    tl.wait(24 * 2, 24 * 6)
    track(tl, "failed_attempt")
    tl.wait(24 * 2, 24 * 5)
    track(tl, "returned_to_sender")
    dispute(tl, "returned", 6, 24 * 3)
    if tl.order.claims_refund:
        tl.wait(12, 24 * 8)
        refunded(tl, tl.amount)
    else:
        tl.wait(6, 48)
        tl.emit("order.reissued")
    close(tl, "buyer_won", lo=6, hi=48)


@_scenario
def dispute_wrong_address(tl: Timeline) -> None:
    """The buyer disputes non-receipt because they gave a wrong address (the taxonomy's wrong_address reason)."""
    open_order(tl)
    ship_at(tl)
    dispute(tl, "wrong_address", 24 * 1, 24 * 3)
    if tl.order.domestic:
        tl.wait(4, 40)
        ok = tl.rng.random() < 0.6
        tl.emit("shipment.intercept_result", succeeded=ok)
        if ok:
            tl.wait(1, 12)
            refunded(tl, tl.amount)
            tl.wait(20, 72)
            track(tl, "returned_to_sender")
        else:
            deliver(tl)
    else:
        tl.wait(24 * 6, 24 * 12)
        track(tl, "returned_to_sender")
    close(tl, "settled", lo=6, hi=72)


@_scenario
def dispute_quality_return(tl: Timeline) -> None:
    """A quality problem: the return is accepted at once, shipped back, received, and the buyer refunded."""
    delivered_order(tl)
    dispute(tl, "quality", 12, 24 * 6)
    return_flow(tl, tl.amount, return_cost=_money(tl.amount * Decimal("0.1")))


@_scenario
def return_abandoned(tl: Timeline) -> None:
    """A quality return whose shipping costs more than the goods: the seller abandons it and refunds at once."""
    delivered_order(tl, products=[tl.rng.choice(RETAIL[1:3])], wholesale=False, quantity=1)
    dispute(tl, "quality", 12, 24 * 6)
    return_flow(tl, tl.amount, return_cost=_money(tl.amount * Decimal(str(round(tl.rng.uniform(1.2, 2.5), 2)))))


@_scenario
def return_lost(tl: Timeline) -> None:
    """A quality return is shipped back and never arrives: a person decides after 30 days."""
    delivered_order(tl)
    dispute(tl, "quality", 12, 24 * 6)
    return_flow(tl, tl.amount, arrives=False)


@_scenario
def dispute_counterfeit(tl: Timeline) -> None:
    """The buyer says the item is counterfeit: a person handles it."""
    delivered_order(tl)
    dispute(tl, "counterfeit", 12, 24 * 8)
    close(tl, tl.rng.choice(("seller_won", "buyer_won")), lo=24 * 3, hi=24 * 12)


@_scenario
def buyer_remorse_return(tl: Timeline) -> None:
    """Wrong size: a cheap return is accepted, shipped back and refunded."""
    delivered_order(tl)
    dispute(tl, "buyer_remorse", 12, 24 * 6, return_cost=str(_money(tl.amount * Decimal("0.1"))))
    return_flow(tl, tl.amount)


@_scenario
def buyer_remorse_coupon(tl: Timeline) -> None:
    """Wrong style, but the return would cost more than 30% of the order: a coupon instead."""
    delivered_order(tl, products=[tl.rng.choice(RETAIL[:3])], wholesale=False, quantity=1)
    cost = _money(tl.amount * (REMORSE_COUPON_SHARE + Decimal(str(round(tl.rng.uniform(0.1, 0.6), 2)))))
    dispute(tl, "buyer_remorse", 12, 24 * 6, return_cost=str(cost))
    close(tl, "settled", lo=12, hi=24 * 3)


@_scenario
def buyer_remorse_never_ships(tl: Timeline) -> None:
    """The return is accepted, and the buyer never enters a return tracking number: closed for the seller."""
    delivered_order(tl)
    dispute(tl, "buyer_remorse", 12, 24 * 6, return_cost=str(_money(tl.amount * Decimal("0.05"))))
    return_flow(tl, tl.amount, ships=False)


@_scenario
def misuse(tl: Timeline) -> None:
    """The product works but the buyer uses it wrongly: usage guidance, no refund."""
    delivered_order(tl)
    dispute(tl, "misuse", 24, 24 * 10)
    close(tl, "seller_won", lo=24, hi=24 * 5)


@_scenario
def wholesale_remorse_capped(tl: Timeline) -> None:
    """A 1688 wholesale batch of 50; the buyer wants to return 8-30 units for their own reason: capped at 10%."""
    delivered_order(tl, wholesale=True, quantity=50)
    wanted = tl.rng.randint(8, 30)
    dispute(tl, "buyer_remorse", 24, 24 * 6, quantity=wanted, return_cost=str(_money(tl.amount * Decimal("0.02"))))
    cap = max(1, int(tl.units * WHOLESALE_RETURN_CAP))
    return_flow(tl, _money(tl.amount * cap / tl.units))


def _penalty_scenario(cooperated: bool) -> ScenarioFn:
    def fn(tl: Timeline) -> None:
        open_order(tl)
        # The buyer gives up waiting after ship-by and before the switch; the platform refunds them.
        tl.until(tl.ship_by, 6, 40)
        tl.emit("dispute.opened", reason=tl.rng.choice(("in_transit", "invalid_tracking")))
        close(tl, "buyer_won", cooperated=cooperated, lo=6, hi=30)
        tl.wait(0.5, 6)
        refunded(tl, tl.amount)

    fn.__name__ = "penalty_cooperated" if cooperated else "penalty_uncooperative"
    fn.__doc__ = "A Taobao/Tmall order never ships; the buyer disputes non-receipt after ship-by."
    return _scenario(fn)


Route = Literal["any", "domestic", "international"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of the scenario table: a name, its share of orders, where it can happen, what it exercises.

    `rows` are the playbook rows whose actions every order of this scenario gets
    under the default policy (the tests hold the simulator to it); `marketplaces`
    and `route` restrict where it is drawn; a `promotion_only` scenario is drawn
    only for orders placed inside a promotion window of their marketplace.
    """

    name: str
    weight: float
    build: ScenarioFn
    rows: tuple[str, ...] = ()
    marketplaces: tuple[str, ...] = ALL_MARKETS
    route: Route = "any"
    promotion_only: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("happy_domestic", 380, happy, (), CN_MARKETS, "domestic"),
    Scenario("happy_international", 330, happy, (), CROSS_BORDER, "international"),
    Scenario("promotion_rush", 12, promotion_rush, ("promotion",), promotion_only=True),
    Scenario("no_stock_reorder_ships", 10, no_stock_reorder_ships, ("no_stock",)),
    Scenario("no_stock_twice_refund", 8, no_stock_twice_refund, ("no_stock",)),
    Scenario("oversize_at_placement", 8, oversize_at_placement, ("oversize",), RETAIL_MARKETS),
    Scenario("oversize_carrier_rejects", 8, oversize_carrier_rejects, ("oversize",), RETAIL_MARKETS),
    Scenario("overdue_expedite", 10, overdue_expedite, ("overdue_expedite",)),
    Scenario("supplier_replies_in_time", 8, supplier_replies_in_time, ("overdue_expedite",)),
    Scenario("supplier_unresponsive", 10, supplier_unresponsive, ("overdue_expedite", "supplier_unresponsive")),
    Scenario(
        "overdue_switch_reorder_ships",
        8,
        overdue_switch_reorder_ships,
        ("overdue_expedite", "supplier_unresponsive"),
    ),
    Scenario("overdue_switch_never_ships", 8, overdue_switch_never_ships, ("overdue_expedite", "overdue_switch")),
    Scenario("customs_hold_cleared", 16, customs_hold_cleared, ("customs_hold",), CROSS_BORDER, "international"),
    Scenario("customs_hold_escalated", 14, customs_hold_escalated, ("customs_hold",), CROSS_BORDER, "international"),
    Scenario("wrong_item_verified", 8, wrong_item_verified, ("wrong_or_missing",)),
    Scenario("missing_item_rejected", 8, missing_item_rejected, ("wrong_or_missing",)),
    Scenario("short_shipment_partial", 6, short_shipment_partial, ("wrong_or_missing",)),
    Scenario("damaged_claim", 8, damaged_claim, ("damaged",)),
    Scenario("claim_no_evidence", 6, claim_no_evidence, ()),
    Scenario("delivery_refused_damaged", 8, delivery_refused_damaged, ("damaged",)),
    Scenario("cancel_before_shipment", 10, _cancel_scenario("order.cancel_requested", "before"), ("customer_cancel",)),
    Scenario(
        "cancel_intercepted",
        8,
        _cancel_scenario("order.cancel_requested", "intercepted"),
        ("customer_cancel",),
        CN_MARKETS,
        "domestic",
    ),
    Scenario(
        "cancel_intercept_failed",
        6,
        _cancel_scenario("order.cancel_requested", "failed"),
        ("customer_cancel",),
        CN_MARKETS,
        "domestic",
    ),
    Scenario(
        "cancel_intercept_no_result",
        4,
        _cancel_scenario("order.cancel_requested", "no_result"),
        ("customer_cancel",),
        CN_MARKETS,
        "domestic",
    ),
    Scenario(
        "cancel_international",
        12,
        _cancel_scenario("order.cancel_requested", "abroad"),
        ("customer_cancel",),
        CROSS_BORDER,
        "international",
    ),
    Scenario(
        "wrong_address_before_shipment", 6, _cancel_scenario("order.address_invalid", "before"), ("wrong_address",)
    ),
    Scenario(
        "wrong_address_intercepted",
        6,
        _cancel_scenario("order.address_invalid", "intercepted"),
        ("wrong_address",),
        CN_MARKETS,
        "domestic",
    ),
    Scenario(
        "wrong_address_intercept_failed",
        5,
        _cancel_scenario("order.address_invalid", "failed"),
        ("wrong_address",),
        CN_MARKETS,
        "domestic",
    ),
    Scenario(
        "wrong_address_international",
        12,
        _cancel_scenario("order.address_invalid", "abroad"),
        ("wrong_address",),
        CROSS_BORDER,
        "international",
    ),
    Scenario("dispute_wrong_address", 5, dispute_wrong_address, ("wrong_address",)),
    Scenario("dispute_invalid_tracking", 6, dispute_invalid_tracking, ("dispute_reasons",)),
    Scenario("dispute_in_transit_within", 6, dispute_in_transit_within, ("dispute_reasons",)),
    Scenario("dispute_in_transit_late", 6, dispute_in_transit_late, ("dispute_reasons",)),
    Scenario("dispute_customs_held", 16, dispute_customs_held, ("customs_hold",), CROSS_BORDER, "international"),
    Scenario("dispute_returned", 6, dispute_returned, ("dispute_reasons",)),
    Scenario("dispute_not_as_described", 6, not_as_described, ("dispute_reasons",)),
    Scenario("dispute_counterfeit", 5, dispute_counterfeit, ("dispute_reasons",)),
    Scenario("dispute_quality_return", 8, dispute_quality_return, ("product_defect", "return_windows"), RETAIL_MARKETS),
    Scenario("return_abandoned", 6, return_abandoned, ("product_defect", "return_windows"), RETAIL_MARKETS),
    Scenario("return_lost", 5, return_lost, ("product_defect", "return_windows"), RETAIL_MARKETS),
    Scenario("buyer_remorse_return", 8, buyer_remorse_return, ("buyer_remorse", "return_windows"), RETAIL_MARKETS),
    Scenario("buyer_remorse_coupon", 6, buyer_remorse_coupon, ("buyer_remorse",), RETAIL_MARKETS),
    Scenario(
        "buyer_remorse_never_ships", 5, buyer_remorse_never_ships, ("buyer_remorse", "return_windows"), RETAIL_MARKETS
    ),
    Scenario("misuse", 6, misuse, ("misuse",)),
    Scenario(
        "wholesale_remorse_capped",
        12,
        wholesale_remorse_capped,
        ("non_quality_return_cap", "return_windows"),
        ("1688",),
        "domestic",
    ),
    Scenario("penalty_cooperated", 6, _penalty_scenario(True), ("dispute_reasons",), PENALTY_MARKETS, "domestic"),
    Scenario("penalty_uncooperative", 6, _penalty_scenario(False), ("dispute_reasons",), PENALTY_MARKETS, "domestic"),
)

_BY_NAME = {s.name: s for s in SCENARIOS}
assert len(_BY_NAME) == len(SCENARIOS), "scenario names must be unique"

DUPLICATE_RATE = 0.02  # orders with one event delivered twice by an at-least-once producer


def scenario_names() -> list[str]:
    return [s.name for s in SCENARIOS]


# --- The merged stream --------------------------------------------------------------------------------------


@dataclass
class _Mix:
    """Which scenarios can be drawn where; the candidate lists are cached per (marketplace, promotion)."""

    stores: tuple[Store, ...]
    tour: list[str] = field(default_factory=list)
    _cache: dict[tuple[str, str | None], tuple[list[Scenario], list[float]]] = field(default_factory=dict)

    def candidates(self, marketplace: str, promotion: str | None) -> tuple[list[Scenario], list[float]]:
        key = (marketplace, promotion)
        if key not in self._cache:
            eligible = [
                s
                for s in SCENARIOS
                if marketplace in s.marketplaces
                and (not s.promotion_only or promotion is not None)
                and not (s.route == "international" and marketplace in CN_MARKETS)
                and not (s.route == "domestic" and marketplace not in CN_MARKETS)
            ]
            self._cache[key] = (eligible, [s.weight for s in eligible])
        return self._cache[key]

    def draw(self, rng: random.Random, marketplace: str, promotion: str | None) -> Scenario:
        eligible, weights = self.candidates(marketplace, promotion)
        for i, name in enumerate(self.tour):
            scenario = _BY_NAME[name]
            if scenario in eligible:
                del self.tour[i]
                return scenario
        return rng.choices(eligible, weights=weights)[0]


def _destination(rng: random.Random, marketplace: str, route: Route) -> str:
    if marketplace in CN_MARKETS:
        # Taobao ships a few orders to Hong Kong; a scenario that needs a domestic order keeps CN.
        return "HK" if route == "any" and marketplace == "taobao" and rng.random() < 0.05 else "CN"
    return rng.choice(ABROAD)


def _with_duplicate(rng: random.Random, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Repeat one event right behind itself: same id, same bytes, same time, so the stream stays time-ordered."""
    i = rng.randrange(len(events))
    return [*events[: i + 1], dict(events[i]), *events[i + 1 :]]


def _instant(event: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(event["occurred_at"]).timestamp())


@overload
def generate(
    seed: int,
    orders: int,
    start: datetime,
    orders_per_hour: float = ...,
    stores: int = ...,
    *,
    with_scenarios: Literal[False] = ...,
    tour: bool = ...,
) -> Iterator[dict[str, Any]]: ...


@overload
def generate(
    seed: int,
    orders: int,
    start: datetime,
    orders_per_hour: float = ...,
    stores: int = ...,
    *,
    with_scenarios: Literal[True],
    tour: bool = ...,
) -> Iterator[tuple[str, dict[str, Any]]]: ...


def generate(
    seed: int,
    orders: int,
    start: datetime,
    orders_per_hour: float = 120.0,
    stores: int = 3,
    *,
    with_scenarios: bool = False,
    tour: bool = False,
) -> Iterator[dict[str, Any]] | Iterator[tuple[str, dict[str, Any]]]:
    """The events of `orders` orders, in non-decreasing `occurred_at` order, deterministic for `seed`.

    Placements arrive as a Poisson process of `orders_per_hour` (simulated time,
    from `start`). Ties are broken by the order's number, then by its own event
    sequence. `with_scenarios` yields `(scenario name, event)` pairs, for tests.
    `tour` draws every scenario once first (each as soon as an order can take
    it), then the weighted mix: a small sample that still covers the playbook.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if orders_per_hour <= 0:
        raise ValueError("orders_per_hour must be positive")
    shop = stores_for(stores)
    if with_scenarios:
        return _merged(seed, orders, start, orders_per_hour, shop, tour)
    return (event for _, event in _merged(seed, orders, start, orders_per_hour, shop, tour))


class _InFlight:
    """One order's events not yet yielded, last first (popping frees a yielded event at once)."""

    __slots__ = ("events", "instants", "name")

    def __init__(self, name: str, events: list[dict[str, Any]]) -> None:
        self.name = name
        self.events = events[::-1]
        self.instants = [_instant(e) for e in self.events]


def _merged(
    seed: int, orders: int, start: datetime, orders_per_hour: float, shop: tuple[Store, ...], tour: bool
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Write each order's timeline when the stream reaches its placement, and pop events off a heap.

    An order's events all happen at or after its placement, and placements come
    in order, so every event earlier than the next placement is final: popping
    it cannot be overtaken. The heap has one entry per order still in flight
    (its next event), keyed by (instant, order number): ties go to the earlier
    order, and an order's own events keep their sequence.
    """
    master = random.Random(seed)  # noqa: S311 - a simulation, not security
    mix = _Mix(shop)
    if tour:
        mix.tour = [s.name for s in SCENARIOS]
        master.shuffle(mix.tour)
    heap: list[tuple[int, int, _InFlight]] = []

    def pop() -> tuple[str, dict[str, Any]]:
        _, n, order = heap[0]
        event = order.events.pop()
        order.instants.pop()
        if order.events:
            heapq.heapreplace(heap, (order.instants[-1], n, order))
        else:
            heapq.heappop(heap)
        return order.name, event

    clock = start.timestamp()
    for n in range(orders):
        clock += master.expovariate(orders_per_hour) * 3600
        placed_ts = round(clock)
        while heap and heap[0][0] <= placed_ts:
            yield pop()
        store = master.choice(shop)
        marketplace = master.choice(store.marketplaces)
        tz = EVENT_TZ.get(marketplace, CN_TZ)
        placed_at = datetime.fromtimestamp(placed_ts, tz)
        promo = active_promotion(marketplace, placed_at)
        scenario = mix.draw(master, marketplace, promo.name if promo is not None else None)
        rng = random.Random(f"{seed}/{n}")  # noqa: S311 - per-order stream: an order's content is independent of the mix
        order = OrderContext(
            order_id=f"{store.store_id}-{seed}-{n:07d}",
            store_id=store.store_id,
            marketplace=marketplace,
            origin_country=store.origin_country,
            destination_country=_destination(rng, marketplace, scenario.route),
            placed_at=placed_at,
        )
        events = scenario.build(rng, order)
        if rng.random() < DUPLICATE_RATE:
            events = _with_duplicate(rng, events)
        flight = _InFlight(scenario.name, events)
        heapq.heappush(heap, (flight.instants[-1], n, flight))
    while heap:
        yield pop()


# The shipped sample, streams/samples/day.jsonl: two stores over three days from the last 40 hours of
# double11, every scenario once (the tour) then the mix; regenerate it with
# `write_jsonl(path, generate(**SAMPLE_RECIPE))` after changing a scenario.
SAMPLE_RECIPE: dict[str, Any] = {
    "seed": 11,
    "orders": 56,
    "start": datetime(2026, 11, 10, 8, 0, tzinfo=CN_TZ),
    "orders_per_hour": 0.75,
    "stores": 2,
    "tour": True,
}


def write_jsonl(path: str | Path, events: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line (orjson); returns how many were written."""
    count = 0
    with Path(path).open("wb") as out:
        for event in events:
            out.write(orjson.dumps(event))
            out.write(b"\n")
            count += 1
    return count
