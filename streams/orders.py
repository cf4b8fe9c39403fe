"""The bookkeeping that replay and the live worker share: open orders' next deadlines, store totals, stages.

Both feed the same rules and must keep the same books, so they record a decision the same way
(`OpenOrders.record`): the store totals follow the state change, the stage counts follow the stage, and the
deadline index holds the order's next deadline. Replay keeps one `OpenOrders` for the whole file; the worker
keeps one per partition it owns (`streams.worker.runtime.PartitionState`), rebuilt from the orders table when
the partition is assigned.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from models.common import epoch_micros
from models.state import OrderState
from rules.engine import next_due
from rules.store_ledger import StoreTotals

micros = epoch_micros
T = TypeVar("T")
NEVER = 2**63  # later than any time in micros


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

    def earliest_micros(self) -> int:
        """A lower bound of the next due time (`micros`): nothing in the index is due before it."""
        heap = self._heap
        return heap[0][0] if heap else NEVER

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


@dataclass
class OpenOrders:
    """The books of a set of open orders (a replay's, or one partition's in the worker)."""

    index: DeadlineIndex = field(default_factory=DeadlineIndex)
    totals: StoreTotals = field(default_factory=StoreTotals)
    stages: Counter[str] = field(default_factory=Counter)

    def record(self, order_id: str, before: OrderState | None, after: OrderState | None, *, indexed: bool) -> None:
        """Book a decision that took `order_id` from `before` to `after` (None: not open).

        `indexed`: the index still holds `before`'s next deadline, so a state with the very same deadlines needs
        no re-indexing (replay's event path); a deadline popped from the index is always re-indexed."""
        if before is not after:
            self.totals.apply(before, after)
            old = before.stage if before is not None else None
            new = after.stage if after is not None else None
            if old != new:  # most decisions leave the stage as it was
                if old is not None:
                    self.stages[old] -= 1
                if new is not None:
                    self.stages[new] += 1
        if after is None:
            self.index.set(order_id, None)
        elif not (indexed and before is not None and before.deadlines is after.deadlines):
            self.index.set(order_id, next_due(after))

    def load(self, order_id: str, state: OrderState) -> None:
        """Book an order found open in a table (a partition just assigned)."""
        self.record(order_id, None, state, indexed=False)


class Unplaced(Generic[T]):
    """Events of orders not placed yet, each waiting for its `order.placed` until its grace ends
    (`rules.intake.unplaced_deadline`): then the shell refuses it with `rules.intake.UNPLACED`.

    Replay holds the events; the live worker holds the records, unacknowledged, so that a crash or a rebalance
    delivers them again. Memory follows the events waiting, which the grace bounds."""

    def __init__(self) -> None:
        self._by_order: dict[str, list[tuple[int, int, T]]] = {}
        self._due: list[tuple[int, int, str]] = []  # (due, seq, order id), earliest first
        self._seq = 0

    def __len__(self) -> int:
        return sum(len(items) for items in self._by_order.values())

    def hold(self, order_id: str, occurred_us: int, due_us: int, item: T) -> None:
        self._seq += 1
        self._by_order.setdefault(order_id, []).append((occurred_us, self._seq, item))
        heapq.heappush(self._due, (due_us, self._seq, order_id))

    def earliest_micros(self) -> int:
        """A lower bound of when the next grace ends (`micros`): none ends before it."""
        due = self._due
        return due[0][0] if due else NEVER

    def waiting(self, order_id: str) -> bool:
        """Whether events wait for `order_id`."""
        return order_id in self._by_order

    def release(self, order_id: str) -> list[T]:
        """The events waiting for `order_id` (just placed), earliest event time first."""
        items = self._by_order.pop(order_id, [])
        return [item for _, _, item in sorted(items, key=lambda x: (x[0], x[1]))]

    def expire(self, now_us: int) -> list[T]:
        """The events whose grace the clock has passed, in the order their grace ended; they wait no more."""
        expired: list[T] = []
        while self._due and self._due[0][0] < now_us:
            _, seq, order_id = heapq.heappop(self._due)
            items = self._by_order.get(order_id)
            if not items:
                continue
            kept = [x for x in items if x[1] != seq]
            expired += [x[2] for x in items if x[1] == seq]
            if kept:
                self._by_order[order_id] = kept
            else:
                del self._by_order[order_id]
        return expired

    def drain(self) -> list[T]:
        """Everything still waiting (the end of the input: no order.placed will come)."""
        items = sorted((x for waiting in self._by_order.values() for x in waiting), key=lambda x: (x[0], x[1]))
        self._by_order.clear()
        self._due.clear()
        return [item for _, _, item in items]
