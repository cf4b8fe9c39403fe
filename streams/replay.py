"""Offline replay: a file of events through the same rules, in event time.

The clock is the events' watermark: the latest event time seen, less the
allowed lateness. A deadline fires once the watermark has passed it, so a
file replayed later gives the same decisions as the live worker gave (the
rules never read a clock). Memory follows the open orders: each order's state
plus one entry per order in a time-ordered index of next deadlines, never a
list of events.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import ValidationError

from models.actions import Action
from models.common import epoch_micros
from models.events import Event, parse_event
from models.ledger import StoreLedger
from models.policy import Policy
from models.state import OrderState
from rules.engine import Decision, advance, handle_event, next_due
from rules.store_ledger import StoreTotals

micros = epoch_micros


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


def _field_name(part: str | int) -> str:
    return str(part) if isinstance(part, int) or _SAFE_NAME.match(part) else "<unexpected field>"


def _more(exc: ValidationError) -> str:
    return f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""


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




class DeadlineIndex:
    """Next deadline per order in a heap: firing costs what is due, not the number of open orders.

    One live entry per order (its earliest deadline); superseded entries are
    skipped when popped, and the heap is rebuilt when they outnumber the live ones.
    The heap orders integers (microseconds since the epoch), not aware datetimes: comparing two datetimes
    of different offsets converts both to UTC, and that was a tenth of a replay's time (py-spy). Equal
    instants give equal integers, so the order of firing (time, then order id) is the same.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._next: dict[str, tuple[int, datetime]] = {}

    def __len__(self) -> int:
        return len(self._next)

    def set(self, order_id: str, due: datetime | None) -> None:
        current = self._next.get(order_id)
        if due is None:
            if current is not None:
                del self._next[order_id]
            return
        if current is not None and current[1] == due:
            return
        key = micros(due)
        self._next[order_id] = (key, due)
        heapq.heappush(self._heap, (key, order_id))
        if len(self._heap) > 2 * len(self._next) + 1024:
            self._heap = [(k, o) for o, (k, _) in self._next.items()]
            heapq.heapify(self._heap)

    def overdue(self, before: datetime) -> Iterator[datetime]:
        """The due times before `before` not fired yet, without popping: a walk of the heap that stops
        at entries not due (their subtrees are later), so it costs what is overdue, not the open orders."""
        limit = micros(before)
        heap = self._heap
        stack = [0] if heap else []
        seen: set[str] = set()  # an order set back to an earlier due time has two live-looking entries
        while stack:
            i = stack.pop()
            key, order_id = heap[i]
            if key >= limit:
                continue
            live = self._next.get(order_id)
            if live is not None and live[0] == key and order_id not in seen:
                seen.add(order_id)
                yield live[1]
            stack.extend(j for j in (2 * i + 1, 2 * i + 2) if j < len(heap))

    def pop_due(self, before: datetime) -> Iterator[str]:
        """Order ids whose next deadline is before `before`, earliest first."""
        return self.pop_due_micros(micros(before))

    def pop_due_micros(self, limit: int) -> Iterator[str]:
        """`pop_due` with the time as `micros(before)`."""
        heap = self._heap
        pop = heapq.heappop
        live = self._next
        while heap and heap[0][0] < limit:
            key, order_id = pop(heap)
            current = live.get(order_id)
            if current is not None and current[0] == key:
                del live[order_id]
                yield order_id


class Replayer:
    """Feeds events to the engine in event time; keeps per-order state, the deadline index and store ledgers."""

    def __init__(self, policy: Policy, lateness: timedelta = timedelta(0)) -> None:
        self.policy = policy
        self.lateness = lateness
        self.orders: dict[str, OrderState] = {}
        self.totals = StoreTotals()
        self.index = DeadlineIndex()
        self.watermark: datetime | None = None
        self._watermark_us = -(2**63)  # micros(self.watermark)
        self.stats = ReplayStats()

    @property
    def stores(self) -> dict[str, StoreLedger]:
        """Each store's penalty points and dispute rate as of the replay clock."""
        if self.watermark is None:
            return {}
        th = self.policy.defaults
        today = self.watermark.astimezone(UTC).date()
        return {
            store: self.totals.ledger(
                store, today, th.dispute_rate_window_days, th.penalty_points_alert_at, th.dispute_rate_alert_at
            )
            for store in self.totals.stores()
        }

    def _record(
        self, order_id: str, before: OrderState | None, decision: Decision, indexed: bool = False
    ) -> tuple[Action, ...]:
        """Keep the decision's state, index its next deadline, count its actions. `indexed`: the index holds
        `before`'s next deadline (so a state with the very same deadlines needs no re-indexing)."""
        after = decision.state
        if before is not after:
            self.totals.apply(before, after)
        if after is None:
            self.orders.pop(order_id, None)
            self.index.set(order_id, None)
            if decision.retired:
                self.stats.retired += 1
        else:
            self.orders[order_id] = after
            if before is None and len(self.orders) > self.stats.peak_open_orders:
                self.stats.peak_open_orders = len(self.orders)
            if not (indexed and before is not None and before.deadlines is after.deadlines):
                self.index.set(order_id, next_due(after))
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
        and every action decided (the event's and the deadlines')."""
        self.stats.events += 1
        order_id = event.order_id
        before = self.orders.get(order_id)
        decision = handle_event(before, event, self.policy)
        if decision.duplicate:
            self.stats.duplicates += 1
        if decision.rejected is not None:
            self.stats.rejected += 1
        # Every order's next deadline is in the index between two calls (advance_to re-indexes what it pops).
        actions = list(self._record(order_id, before, decision, indexed=True))
        mark = event.occurred_at - self.lateness if self.lateness else event.occurred_at
        mark_us = micros(mark)
        if mark_us > self._watermark_us:
            self.watermark = mark
            self._watermark_us = mark_us
            actions += self._advance(mark, mark_us)
        return decision, actions

    def advance_to(self, now: datetime) -> list[Action]:
        """Fire every deadline due before `now`."""
        return self._advance(now, micros(now))

    def _advance(self, now: datetime, now_us: int) -> list[Action]:
        actions: list[Action] = []
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
        return actions


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


def read_events(lines: Iterable[bytes]) -> Iterator[Event | BadLine]:
    """Decode a JSON-lines file: an `Event` per good line, a `BadLine` (1-based line number, reason) per bad one."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield parse_event(raw)
        except ValidationError as exc:
            yield BadLine(number, validation_reason(exc))
