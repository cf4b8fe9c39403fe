"""Offline replay: a file of events through the same rules, in event time.

The clock is the events' watermark: the latest event time seen, less the
allowed lateness. A deadline fires once the watermark has passed it, so a
file replayed later gives the same decisions as the live worker gave (the
rules never read a clock). Memory follows the open orders: each order's state
plus one entry per order in a time-ordered index of next deadlines, never a
list of events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import ValidationError

from models.actions import Action
from models.common import epoch_micros
from models.events import Event, OrderPlaced, parse_event, validation_reason
from models.ledger import StoreLedger
from models.policy import Policy
from models.state import OrderState
from rules.engine import Decision, advance, handle_event
from rules.intake import UNPLACED, refusal, unplaced_deadline
from streams.orders import OpenOrders, Unplaced

micros = epoch_micros


@dataclass
class ReplayStats:
    events: int = 0
    invalid: int = 0
    duplicates: int = 0
    rejected: int = 0
    actions_by_type: Counter[str] = field(default_factory=Counter)
    actions_by_rule: Counter[str] = field(default_factory=Counter)
    customer_refunds: dict[str, Decimal] = field(default_factory=dict)
    deadlines_fired: int = 0
    retired: int = 0
    peak_open_orders: int = 0


class Replayer:
    """Feeds events to the engine in event time; keeps per-order state, the deadline index and store ledgers."""

    def __init__(self, policy: Policy, lateness: timedelta = timedelta(0), now: datetime | None = None) -> None:
        self.policy = policy
        self.lateness = lateness
        self.orders: dict[str, OrderState] = {}
        self.books = OpenOrders()
        self.index = self.books.index
        self.totals = self.books.totals
        self.watermark: datetime | None = None
        self._watermark_us = -(2**63)  # micros(self.watermark)
        self.stats = ReplayStats()
        # What "now" is for `rules.intake`'s check of events dated ahead of the clock: the time the replay runs
        # (or its --until, if later), as the live worker checks against its clock. A file's own events cannot
        # say it: a quiet store's next event may come days after the last one. None: no such check.
        self.now = now
        self.unplaced: Unplaced[Event] = Unplaced()
        self.refused: list[tuple[Event, str]] = []

    @property
    def stores(self) -> dict[str, StoreLedger]:
        """Each store's penalty points and dispute rate as of the replay clock."""
        if self.watermark is None:
            return {}
        thresholds = self.policy.defaults
        today = self.watermark.astimezone(UTC).date()
        return {
            store: self.totals.ledger(
                store,
                today,
                thresholds.dispute_rate_window_days,
                thresholds.penalty_points_alert_at,
                thresholds.dispute_rate_alert_at,
            )
            for store in self.totals.stores()
        }

    def _record(
        self, order_id: str, before: OrderState | None, decision: Decision, indexed: bool = False
    ) -> tuple[Action, ...]:
        """Keep the decision's state, index its next deadline, count its actions. `indexed`: the index holds
        `before`'s next deadline (so a state with the very same deadlines needs no re-indexing)."""
        after = decision.state
        self.books.record(order_id, before, after, indexed=indexed)
        if after is None:
            self.orders.pop(order_id, None)
            if decision.retired:
                self.stats.retired += 1
        else:
            self.orders[order_id] = after
            if before is None and len(self.orders) > self.stats.peak_open_orders:
                self.stats.peak_open_orders = len(self.orders)
        actions = decision.actions
        if actions:
            stats = self.stats
            for action in actions:
                stats.actions_by_type[action.type] += 1
                stats.actions_by_rule[action.rule] += 1
                if action.pays_customer and action.amount is not None:
                    cur = action.currency or "?"
                    stats.customer_refunds[cur] = stats.customer_refunds.get(cur, Decimal(0)) + action.amount
        return actions

    def feed(self, event: Event) -> tuple[Decision, list[Action]]:
        """Apply one event, then let the watermark fire what it has passed. Returns the event's decision
        and every action decided (the event's, those of events that waited for this order's placement, and
        the deadlines'). Events refused on the way (`rules.intake`) are collected in `refused`.

        An event whose time is not trusted is refused and moves no clock; an event of an order not placed yet
        waits for its order.placed within the policy's grace (it moves the clock like any other)."""
        self.stats.events += 1
        order_id = event.order_id
        before = self.orders.get(order_id)
        intake = self.policy.intake
        why = refusal(event.occurred_at, before.placed_at if before is not None else None, self.now, intake)
        if why is not None:
            self.stats.rejected += 1
            return Decision(state=before, rejected=why), []
        if before is None and not isinstance(event, OrderPlaced):
            self.unplaced.hold(
                order_id, micros(event.occurred_at), micros(unplaced_deadline(event.occurred_at, intake)), event
            )
            decision = Decision(state=None, notes=(f"{event.type} waits for its order.placed",))
            actions: list[Action] = []
        else:
            decision = handle_event(before, event, self.policy)
            if decision.duplicate:
                self.stats.duplicates += 1
            if decision.rejected is not None:
                self.stats.rejected += 1
            # Every order's next deadline is in the index between two calls (advance_to re-indexes what it pops).
            decided = self._record(order_id, before, decision, indexed=True)
            actions = list(decided) if decided else []
            if before is None and decision.state is not None and self.unplaced.waiting(order_id):
                actions += self._placed(order_id)
        mark = event.occurred_at - self.lateness if self.lateness else event.occurred_at
        mark_us = micros(mark)
        if mark_us > self._watermark_us:
            self.watermark = mark
            self._watermark_us = mark_us
            actions += self._advance(mark, mark_us)
        return decision, actions

    def _placed(self, order_id: str) -> list[Action]:
        """The order was just placed: the events that waited for it, earliest first."""
        actions: list[Action] = []
        for waiting in self.unplaced.release(order_id):
            state = self.orders.get(order_id)
            placed_at = state.placed_at if state is not None else None
            why = refusal(waiting.occurred_at, placed_at, None, self.policy.intake)
            if why is not None:
                self._refuse(waiting, why)
                continue
            decision = handle_event(state, waiting, self.policy)
            if decision.duplicate:
                self.stats.duplicates += 1
            if decision.rejected is not None:
                self._refuse(waiting, decision.rejected)
            actions += self._record(order_id, state, decision, indexed=True)
        return actions

    def _refuse(self, event: Event, why: str) -> None:
        self.stats.rejected += 1
        self.refused.append((event, why))

    def take_refused(self) -> list[tuple[Event, str]]:
        """The events refused since the last call, with why (`rules.intake` codes, or the engine's reason)."""
        refused, self.refused = self.refused, []
        return refused

    def advance_to(self, now: datetime) -> list[Action]:
        """Fire every deadline due before `now`."""
        return self._advance(now, micros(now))

    def _advance(self, now: datetime, now_us: int) -> list[Action]:
        if self.index.earliest_micros() >= now_us and self.unplaced.earliest_micros() >= now_us:
            return []  # the clock moves at almost every event; something is due at few of them
        actions: list[Action] = []
        for waited in self.unplaced.expire(now_us):
            self._refuse(waited, UNPLACED)
        for order_id in list(self.index.pop_due_micros(now_us)):
            state = self.orders.get(order_id)
            if state is None:
                continue
            self.stats.deadlines_fired += 1
            actions += self._record(order_id, state, advance(state, now, self.policy))
        return actions

    def finish(self, until: datetime | None) -> list[Action]:
        """End of input: release the lateness held back, then move the clock to `until` if given."""
        actions: list[Action] = []
        if self.watermark is not None and self.lateness:
            self.watermark = self.watermark + self.lateness
            self._watermark_us = micros(self.watermark)
            actions += self.advance_to(self.watermark)
        if until is not None and (self.watermark is None or until > self.watermark):
            self.watermark = until
            self._watermark_us = micros(until)
            actions += self.advance_to(until)
        for waited in self.unplaced.drain():  # the end of the input: their order.placed will not come
            self._refuse(waited, UNPLACED)
        return actions


MAX_LINE_BYTES = 1 << 20
"""Longest line read (1 MiB, the newline not counted): a longer one is refused without being held in memory. The
largest event the schema allows (500 items, every text field full) is well under 200 KB."""


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


@dataclass(frozen=True)
class LongLine:
    """A line over `MAX_LINE_BYTES`, skipped unread; `size` is its length in bytes."""

    size: int


def read_events(lines: Iterable[bytes | LongLine]) -> Iterator[Event | BadLine]:
    """Decode a JSON-lines file: an `Event` per good line, a `BadLine` (1-based line number, reason) per bad one."""
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, LongLine):
            yield BadLine(number, f"line of {raw.size:,} bytes is longer than the limit of 1 MiB: not read")
            continue
        if not raw.strip():
            continue
        try:
            yield parse_event(raw)
        except ValidationError as exc:
            yield BadLine(number, validation_reason(exc))
