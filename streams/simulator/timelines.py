"""One order's timeline, and the pieces of it the scenarios share.

A `Timeline` writes an order's events in time order, the way the outside
world reports them (marketplace, supplier, carrier, buyer, platform). The
pieces below (placing, shipping, delivering, a claim, a return, a refund
or reissue) are the steps the scenarios are made of.

Every threshold a timeline aims at (ship-by, expedite and switch times,
reply, evidence, intercept and return windows, delivery estimates, the
wholesale return cap, how a verified claim is resolved) is the order's own,
resolved from the policy as the engine resolves it: `OrderContext.thresholds`.
The other spans are how long the world takes (a carrier's transit, a
platform's verdict) and sit inside those thresholds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from models.policy import Thresholds
from streams.simulator.catalogue import (
    CARRIERS_CN,
    CARRIERS_INTL,
    CN_TZ,
    CNY_PER_USD,
    CURRENCY,
    EVENT_TZ,
    FAKE_BUYERS,
    RETAIL,
    TMALL_SHIPPING_PROMISE,
    WHOLESALE,
    Product,
)

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def days(count: float) -> timedelta:
    return timedelta(days=count)


def hours(span: timedelta) -> float:
    return span.total_seconds() / 3600


def secs(rng: random.Random, lo_hours: float, hi_hours: float) -> timedelta:
    """A random whole-second span: every time in the stream is whole seconds, so the string and the instant agree."""
    return timedelta(seconds=rng.randint(round(lo_hours * 3600), round(hi_hours * 3600)))


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What a scenario is given about its order: who sells it where, to where, when, and under which thresholds
    (the policy's, resolved for this marketplace, destination and placement time)."""

    order_id: str
    store_id: str
    marketplace: str
    origin_country: str
    destination_country: str
    placed_at: datetime
    thresholds: Thresholds
    promotion: str | None = None
    wholesale: bool = False

    @property
    def currency(self) -> str:
        return CURRENCY.get(self.marketplace, "USD")

    @property
    def domestic(self) -> bool:
        return self.origin_country == self.destination_country

    @property
    def handling(self) -> timedelta:
        return timedelta(hours=self.thresholds.handling_time_hours)

    @property
    def estimate(self) -> timedelta:
        """The policy's delivery estimate for this order (the in-transit dispute boundary)."""
        thresholds = self.thresholds
        return days(
            thresholds.delivery_estimate_days_domestic
            if self.domestic
            else thresholds.delivery_estimate_days_international
        )

    @property
    def claims_refund(self) -> bool:
        return self.thresholds.claim_resolution == "refund"


class Timeline:
    """Builds one order's events in time order; `now` never goes backwards.

    Event ids are the order id plus a sequence number: unique by construction,
    and readable in a replay ("the 7th event of that order").
    """

    def __init__(self, rng: random.Random, order: OrderContext) -> None:
        self.rng = rng
        self.order = order
        self.thresholds = order.thresholds
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
        self.now += secs(self.rng, lo_hours, hi_hours)
        return self.now

    def until(self, when: datetime, lo_hours: float = 0.0, hi_hours: float = 0.0) -> datetime:
        """Move to `when` (plus a random margin), never backwards."""
        self.now = max(self.now, when + secs(self.rng, lo_hours, hi_hours))
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
        return cny if self.order.currency == "CNY" else money(cny / CNY_PER_USD)

    def amount_str(self, value: Decimal) -> str:
        return str(money(value))


# --- Placing and buying -------------------------------------------------------------------------------------


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
    """order.placed and order.paid: a wholesale batch (as the mix drew the order, unless told), else one to three
    units."""
    rng, order = tl.rng, tl.order
    if wholesale is None:
        wholesale = order.wholesale
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
    tl.amount = money(tl.amount)
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
        with_ship_by = order.marketplace == "tmall" and rng.random() < 0.3
    if with_ship_by:
        promised = order.placed_at + TMALL_SHIPPING_PROMISE
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
    cost = money(tl.amount * Decimal(str(round(tl.rng.uniform(0.45, 0.7), 2))))
    supplier = f"sup-{tl.rng.randint(1, 40)}"
    if reorder:
        tl.emit("order.reordered", supplier_id=supplier, cost=str(cost), currency=tl.order.currency)
    else:
        tl.emit("order.supplier_ordered", supplier_id=supplier, cost=str(cost), currency=tl.order.currency)


def supplier_cost_of(tl: Timeline) -> Decimal:
    for event in reversed(tl.events):
        if event["type"] in ("order.supplier_ordered", "order.reordered") and "cost" in event:
            return Decimal(event["cost"])
    return Decimal("0")


def open_order(tl: Timeline, **place_args: Any) -> None:
    """Placed, paid, and bought from the supplier."""
    place(tl, **place_args)
    tl.wait(0.2, 4)
    supplier_order(tl)


# --- The parcel ---------------------------------------------------------------------------------------------


def track(tl: Timeline, status: str, **fields: Any) -> None:
    tl.emit("shipment.update", carrier=tl.carrier, tracking_number=tl.tracking, status=status, **fields)


def ship_at(tl: Timeline, when: datetime | None = None) -> None:
    """The label is printed, then the carrier scans the parcel in: shipped at `when`, or within the handling time."""
    if when is None:
        span = (tl.ship_by - tl.now).total_seconds() / 3600
        when = tl.now + secs(tl.rng, max(0.5, 0.1 * span), max(1.0, 0.8 * span))
    label = when - secs(tl.rng, 0.5, 6)
    if label > tl.now:
        tl.until(label)
        track(tl, "info_received")
    tl.until(when)
    track(tl, "in_transit")
    tl.shipped_at = tl.now


def shipped_order(tl: Timeline) -> None:
    """Placed, paid, bought and shipped within the handling time."""
    open_order(tl)
    ship_at(tl)


def last_mile(tl: Timeline, outcome: str = "delivered", **fields: Any) -> None:
    """Out for delivery, and a few hours later delivered (or refused, or whatever `outcome` says)."""
    track(tl, "out_for_delivery")
    tl.wait(2, 9)
    track(tl, outcome, **fields)


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
    last_mile(tl)


def delivered_order(tl: Timeline, **place_args: Any) -> None:
    open_order(tl, **place_args)
    ship_at(tl)
    deliver(tl)


def customs_hold(tl: Timeline, lo_hours: float, hi_hours: float) -> None:
    """A few days into transit customs holds the parcel, clears it after the given span, and it is delivered."""
    tl.wait(24 * 3, 24 * 6)
    track(tl, "customs_hold")
    tl.wait(lo_hours, hi_hours)
    track(tl, "customs_cleared")
    deliver(tl, customs_cleared=False)


def intercept_result(tl: Timeline, succeeded: bool | None = None) -> bool:
    """The carrier reports whether it stopped the parcel; undecided, it does three times in five."""
    tl.wait(4, 40)
    if succeeded is None:
        succeeded = tl.rng.random() < 0.6
    tl.emit("shipment.intercept_result", succeeded=succeeded)
    return succeeded


def returned_and_refunded(tl: Timeline) -> None:
    """A stopped parcel: the customer is refunded and the parcel goes back to the sender."""
    tl.wait(1, 12)
    refunded(tl, tl.amount)
    tl.wait(20, 72)
    track(tl, "returned_to_sender")


# --- Money and the platform ---------------------------------------------------------------------------------


def refunded(tl: Timeline, amount: Decimal, party: Literal["customer", "supplier"] = "customer") -> None:
    """An executor or the platform reports a refund made."""
    tl.emit("order.refunded", party=party, amount=tl.amount_str(amount), currency=tl.order.currency)


def dispute(tl: Timeline, reason: str, lo_hours: float = 24, hi_hours: float = 24 * 5, **fields: Any) -> None:
    tl.wait(lo_hours, hi_hours)
    tl.emit("dispute.opened", reason=reason, **fields)


def close(tl: Timeline, outcome: str, *, cooperated: bool | None = None, lo: float = 12, hi: float = 72) -> None:
    tl.wait(lo, hi)
    tl.emit("dispute.closed", outcome=outcome, seller_cooperated=cooperated)


def withdrawn(tl: Timeline) -> None:
    """The buyer's question is answered (the parcel arrived): the buyer withdraws the dispute."""
    close(tl, "withdrawn", lo=6, hi=48)


def made_good(tl: Timeline, amount: Decimal) -> None:
    """What the policy's claim resolution makes of a case the buyer won: a refund made within about a week
    (inside the refund deadline), or a reissue within two days; then the platform closes it for the buyer."""
    if tl.order.claims_refund:
        tl.wait(12, 24 * 8)
        refunded(tl, amount)
    else:
        tl.wait(6, 48)
        tl.emit("order.reissued")
    close(tl, "buyer_won", lo=6, hi=48)


def claim(tl: Timeline, *, approved: bool, amount_claimed: Decimal | None = None, kind: str = "photo") -> None:
    """Evidence within 1-3 days, the platform's verdict after 14-35 calendar days (inside the verification
    window's working days), then the resolution the policy prefers, then the closing."""
    tl.wait(24, 72)
    tl.emit("dispute.evidence_submitted", kind=kind)
    tl.wait(24 * 14, 24 * 35)
    tl.emit("dispute.verified", approved=approved)
    if not approved:
        close(tl, "seller_won")
        return
    made_good(tl, amount_claimed if amount_claimed is not None else tl.amount)


def buyer_claims(tl: Timeline, reason: str, *, approved: bool | None, claimed: Decimal | None = None) -> None:
    """A delivered order's buyer reports `reason` with evidence; undecided verdicts go the buyer's way 7 in 10."""
    dispute(tl, reason, 6, 24 * 5, amount_claimed=str(claimed) if claimed is not None else None)
    verdict = approved if approved is not None else tl.rng.random() < 0.7
    claim(tl, approved=verdict, amount_claimed=claimed, kind=tl.rng.choice(("photo", "video")))


def return_flow(
    tl: Timeline,
    refund: Decimal,
    *,
    accepted_event: bool = True,
    ships: bool = True,
    arrives: bool = True,
    return_cost: Decimal | None = None,
) -> None:
    """The return after the seller accepted it: the buyer ships it inside the return tracking window (or never),
    the goods arrive inside the abandon window (or never) and the buyer is refunded."""
    tracking_window = hours(days(tl.thresholds.return_tracking_days))
    abandon_window = hours(days(tl.thresholds.return_abandon_window_days))
    if accepted_event:
        tl.wait(1, 24)
        tl.emit("dispute.return_accepted")
    if not ships:
        close(tl, "seller_won", lo=tracking_window + 24, hi=tracking_window + 96)
        return
    tl.wait(24, 24 * 8)
    tracking = f"RT{tl.rng.randrange(10**9, 10**10)}"
    cost = tl.amount_str(return_cost) if return_cost is not None else None
    tl.emit("dispute.return_shipped", tracking_number=tracking, return_cost=cost)
    if return_cost is not None and return_cost > tl.amount * Decimal(
        str(tl.thresholds.abandon_above_return_cost_share)
    ):
        # The engine abandons the return: the executor refunds at once and the platform closes the case.
        tl.wait(1, 12)
        refunded(tl, refund)
        close(tl, "buyer_won", lo=6, hi=48)
        return
    if not arrives:
        tl.wait(abandon_window + 24 * 3, abandon_window + 24 * 10)
        tl.emit("dispute.closed", outcome="settled")
        return
    tl.wait(24 * 4, 24 * 20)
    tl.emit("dispute.return_received")
    tl.wait(2, 48)
    refunded(tl, refund)
    close(tl, "buyer_won", lo=6, hi=48)
