"""What the console knows from Kafka, in bounded memory: recent actions, held refunds, the audit trail, and an
index of each recent order's events (ids, types, times, SKUs, tracking numbers; never customer data).

Fed by `streams.console.kafka_feed` (one reader of the actions, input, held and audit topics); read by the
pages. Every collection has a bound: the last `feed_size` actions, the last `orders_indexed` orders' events.
Live subscribers get each new action through a bounded queue: a browser that cannot keep up loses rows (and
is told how many), it never slows the reader.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from streams.console.settings import User
from streams.executor.commands import AUDIT_ADAPTER, AuditRecord
from streams.executor.outcomes import HELD_ADAPTER, HeldRecord

EVENTS_PER_ORDER = 60
QUEUE_MAX = 20_000


@dataclass
class OrderEvents:
    """What the input topics said about one order (no customer data)."""

    store_id: str | None = None
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (occurred_at, type, event_id)
    skus: set[str] = field(default_factory=set)
    tracking: set[str] = field(default_factory=set)


@dataclass
class Filter:
    """A list's filters, as given in the query string; empty fields match everything."""

    store: str = ""
    rule: str = ""
    type: str = ""
    since: str = ""  # ISO time (decided at or after)
    until: str = ""  # ISO time (decided before)
    q: str = ""  # order id, SKU or tracking number

    @classmethod
    def from_query(cls, query: Any) -> Filter:
        def get(name: str) -> str:
            return str(query.get(name, "")).strip()[:200]

        return cls(get("store"), get("rule"), get("type"), _iso(get("since")), _iso(get("until")), get("q"))

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def _iso(value: str) -> str:
    """A `datetime-local` value (no zone: UTC) or an RFC 3339 time, as a comparable UTC ISO string; else ""."""
    if not value:
        return ""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return ""
    return _utc_naive(value)


def _utc_naive(value: str) -> str:
    """An ISO time as naive UTC ISO text (comparable as strings); unparsable text as it is."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.isoformat()


@dataclass(eq=False)
class Subscriber:
    user: User
    filter: Filter
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    dropped: int = 0


class Board:
    def __init__(self, feed_size: int = 100_000, orders_indexed: int = 200_000) -> None:
        self.actions: deque[dict[str, Any]] = deque(maxlen=feed_size)
        self.escalations: deque[dict[str, Any]] = deque(maxlen=feed_size)
        self.held: dict[str, HeldRecord] = {}
        self.audit: OrderedDict[str, list[AuditRecord]] = OrderedDict()
        self.orders: OrderedDict[str, OrderEvents] = OrderedDict()
        self.orders_indexed = orders_indexed
        self.subscribers: set[Subscriber] = set()
        self.seen_ids: OrderedDict[str, None] = OrderedDict()
        self.feed_size = feed_size
        self.seq = 0  # sequence number of the latest action (the live stream's event id)
        self.latest: str = ""  # latest decided_at seen (the engine's clock, UTC ISO)
        # (store, day) -> counts by action type; (store, day, currency) -> customer money
        self.by_day: dict[tuple[str, str], Counter[str]] = {}
        self.money_by_day: dict[tuple[str, str, str], Decimal] = {}
        self.stores: set[str] = set()
        self.changed = asyncio.Event()

    # --- feeding ---------------------------------------------------------------------------------------------

    def add_action(self, raw: bytes) -> dict[str, Any] | None:
        try:
            a: dict[str, Any] = orjson.loads(raw)
            action_id = a["action_id"]
            a["_at"] = _utc_naive(a["decided_at"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        if action_id in self.seen_ids:  # a repeat of a decision (at-least-once): shown once
            return None
        self.seen_ids[action_id] = None
        self.seq += 1
        a["_seq"] = self.seq
        if len(self.seen_ids) > self.feed_size * 2:
            self.seen_ids.popitem(last=False)
        self.actions.append(a)
        if a.get("type") == "escalate":
            self.escalations.append(a)
        store = str(a.get("store_id", ""))
        self.stores.add(store)
        if a["_at"] > self.latest:
            self.latest = a["_at"]
        day = a["_at"][:10]
        self.by_day.setdefault((store, day), Counter())[str(a.get("type"))] += 1
        if (
            a.get("party") == "customer"
            and a.get("amount") is not None
            and a.get("type") in ("refund", "abandon_return")
        ):
            key = (store, day, str(a.get("currency", "?")))
            self.money_by_day[key] = self.money_by_day.get(key, Decimal(0)) + Decimal(str(a["amount"]))
        for sub in list(self.subscribers):
            if sub.user.sees(store) and self.matches(a, sub.filter):
                try:
                    sub.queue.put_nowait(a)
                except asyncio.QueueFull:
                    sub.dropped += 1
        return a

    def add_event(self, raw: bytes) -> None:
        try:
            e = orjson.loads(raw)
            order_id = e["order_id"]
            entry = (str(e["occurred_at"]), str(e["type"]), str(e["event_id"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        if not isinstance(order_id, str):
            return
        o = self.orders.get(order_id)
        if o is None:
            o = self.orders[order_id] = OrderEvents()
            if len(self.orders) > self.orders_indexed:
                self.orders.popitem(last=False)
        if entry not in o.events and len(o.events) < EVENTS_PER_ORDER:
            o.events.append(entry)
        if isinstance(e.get("store_id"), str):
            o.store_id = e["store_id"]
        for item in e.get("items") or ():
            if isinstance(item, dict) and isinstance(item.get("sku"), str):
                o.skus.add(item["sku"])
        if isinstance(e.get("tracking_number"), str):
            o.tracking.add(e["tracking_number"])

    def set_held(self, key: bytes, value: bytes | None) -> None:
        action_id = key.decode(errors="replace")
        if value is None:
            self.held.pop(action_id, None)
            return
        try:
            self.held[action_id] = HELD_ADAPTER.validate_json(value)
        except ValueError:
            return

    def add_audit(self, raw: bytes) -> None:
        try:
            rec = AUDIT_ADAPTER.validate_json(raw)
        except ValueError:
            return
        trail = self.audit.setdefault(rec.order_id, [])
        if rec not in trail:
            trail.append(rec)
        self.audit.move_to_end(rec.order_id)
        if len(self.audit) > self.orders_indexed:
            self.audit.popitem(last=False)

    def subscribe(self, user: User, f: Filter) -> Subscriber:
        sub = Subscriber(user, f)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    # --- reading ---------------------------------------------------------------------------------------------

    def matches(self, a: dict[str, Any], f: Filter) -> bool:
        if f.store and a.get("store_id") != f.store:
            return False
        if f.rule and a.get("rule") != f.rule:
            return False
        if f.type and a.get("type") != f.type:
            return False
        at = a.get("_at", "")
        if f.since and at < f.since:
            return False
        if f.until and at >= f.until:
            return False
        return not f.q or self.order_matches(str(a.get("order_id", "")), f.q)

    def order_matches(self, order_id: str, q: str) -> bool:
        if q.lower() in order_id.lower():
            return True
        o = self.orders.get(order_id)
        return o is not None and (q in o.skus or q in o.tracking)

    def recent(self, user: User, f: Filter, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` actions the user may see that pass the filter, newest first."""
        out: list[dict[str, Any]] = []
        for a in reversed(self.actions):
            if user.sees(str(a.get("store_id"))) and self.matches(a, f):
                out.append(a)
                if len(out) >= limit:
                    break
        return out

    def after(self, user: User, f: Filter, seq: int, limit: int) -> list[dict[str, Any]]:
        """Actions after sequence number `seq` the user may see that pass the filter, oldest first, at most the
        newest `limit` (what a reconnecting live page missed)."""
        out: list[dict[str, Any]] = []
        for a in reversed(self.actions):
            if a["_seq"] <= seq:
                break
            if user.sees(str(a.get("store_id"))) and self.matches(a, f):
                out.append(a)
                if len(out) >= limit:
                    break
        out.reverse()
        return out

    def all_matching(
        self, user: User, f: Filter, source: Iterable[dict[str, Any]] | None = None
    ) -> Iterator[dict[str, Any]]:
        for a in self.actions if source is None else source:
            if user.sees(str(a.get("store_id"))) and self.matches(a, f):
                yield a

    def held_for(self, user: User, f: Filter) -> list[HeldRecord]:
        """Held refunds the user may see, oldest first."""
        out = []
        for h in self.held.values():
            a = h.action
            if not user.sees(a.store_id):
                continue
            if f.store and a.store_id != f.store or f.rule and a.rule != f.rule:
                continue
            if f.q and not self.order_matches(a.order_id, f.q):
                continue
            at = _utc_naive(h.held_at.isoformat())
            if f.since and at < f.since or f.until and at >= f.until:
                continue
            out.append(h)
        return sorted(out, key=lambda h: h.held_at)

    def escalations_for(self, user: User, f: Filter) -> list[dict[str, Any]]:
        """Escalations the user may see, oldest first."""
        return list(self.all_matching(user, f, self.escalations))

    def actions_of(self, order_id: str) -> list[dict[str, Any]]:
        return [a for a in self.actions if a.get("order_id") == order_id]

    def store_of(self, order_id: str) -> str | None:
        o = self.orders.get(order_id)
        if o is not None and o.store_id is not None:
            return o.store_id
        for a in reversed(self.actions):
            if a.get("order_id") == order_id:
                return str(a.get("store_id"))
        h = next((h for h in self.held.values() if h.action.order_id == order_id), None)
        return h.action.store_id if h is not None else None

    def rules(self) -> list[str]:
        return sorted({str(a.get("rule")) for a in self.actions})

    def types(self) -> list[str]:
        return sorted({str(a.get("type")) for a in self.actions})
