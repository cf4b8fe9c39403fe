"""Event-time alignment of the three input topics of one partition, and the partition's clock.

An order's events come on three topics (orders, shipments, disputes). Read
from a backlog, one topic can run far ahead of another: the dispute of an
order read before the shipment that preceded it would be decided on the
wrong facts. So the worker holds an event (unacknowledged, so a crash
re-delivers it) until every topic of its partition has either caught up with
the broker or shown an event at least as late. Events then reach the rules
in event-time order, as in `postsale replay`, and the decisions are the same.

The partition's clock follows from the same facts: while any topic is behind,
it is the event-time watermark (the earliest latest-time of the lagging
topics); once all have caught up, it may follow the wall clock. It never goes
backwards. Deadlines fire when this clock passes them, so a backlog never
fires a deadline that a later event in it would have settled.

Without a wall clock (`clock_mode=events`: time is what the events say), a
topic that has caught up but read a record less than `idle_after` seconds ago
still bounds the clock: "caught up" is only a moment when the producers are
still writing, and the next record of that topic may be older than what
another topic has shown (one producer's batches land topic by topic). Only an
idle topic stops holding time back, as idle sources do in Flink.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(order=True)
class _Held(Generic[T]):
    at: datetime
    seq: int
    item: T = field(compare=False)


@dataclass
class TopicProgress:
    last_time: datetime | None = None
    last_offset: int = -1
    last_read: float | None = None  # monotonic seconds; None: no record read since the assignment


class PartitionAligner(Generic[T]):
    """Holds one partition's events until it is safe to hand them to the rules, earliest first."""

    def __init__(
        self, topics: tuple[str, ...], lateness: timedelta = timedelta(0), idle_after: float | None = None
    ) -> None:
        self.topics = topics
        self.lateness = lateness
        self.idle_after = idle_after
        self.progress: dict[str, TopicProgress] = {t: TopicProgress() for t in topics}
        self._held: list[_Held[T]] = []
        self._seq = 0
        self.clock: datetime | None = None
        # A time someone asked the clock to reach (an end-of-input tick); honoured once caught up.
        self.requested: datetime | None = None

    def __len__(self) -> int:
        return len(self._held)

    def add(self, topic: str, offset: int, at: datetime, item: T, read_at: float | None = None) -> None:
        p = self.progress[topic]
        p.last_offset = max(p.last_offset, offset)
        p.last_read = read_at
        if p.last_time is None or at > p.last_time:
            p.last_time = at
        self._seq += 1
        heapq.heappush(self._held, _Held(at, self._seq, item))

    def saw_offset(self, topic: str, offset: int) -> None:
        """A record that is not an event (a bad record, a repeat) still moves the topic's position."""
        p = self.progress[topic]
        p.last_offset = max(p.last_offset, offset)

    def request(self, at: datetime) -> None:
        if self.requested is None or at > self.requested:
            self.requested = at

    def watermark(self, lagging: Callable[[str, int], bool], mono: float | None = None) -> datetime | None:
        """Earliest latest-time among topics still behind the broker (and, given `mono` and `idle_after`,
        caught-up topics read from less than `idle_after` seconds ago), less the lateness; None when nothing
        bounds it. A lagging topic that has shown no event yet holds everything back (`NEVER`)."""
        marks = []
        for topic, p in self.progress.items():
            if lagging(topic, p.last_offset):
                if p.last_time is None:
                    return NEVER
                marks.append(p.last_time)
            elif self._busy(p, mono):
                marks.append(p.last_time)  # type: ignore[arg-type]  # _busy implies a time
        if not marks:
            return None
        return min(marks) - self.lateness

    def _busy(self, p: TopicProgress, mono: float | None) -> bool:
        if mono is None or self.idle_after is None or p.last_read is None or p.last_time is None:
            return False
        return mono - p.last_read < self.idle_after

    def release(
        self,
        lagging: Callable[[str, int], bool],
        wall: datetime | None = None,
        mono: float | None = None,
        cap: datetime | None = None,
    ) -> tuple[list[T], datetime | None]:
        """Events now safe to apply, in event-time order, and the clock after them.

        `lagging(topic, last_offset)` says whether the broker has records past
        `last_offset` on that topic's partition. `wall` is the live clock's time,
        used only when nothing is behind. `mono` (monotonic seconds) is the time
        now, against which topics are idle; without it no caught-up topic bounds
        the clock. `cap`, if given, is a time events from elsewhere may still
        come at (a copy of a misplaced event in flight): neither the clock nor
        the events released pass it (late events excepted, as always).
        """
        mark = self.watermark(lagging, mono)
        ready: list[T] = []
        if mark is None:
            # Caught up: every event up to the latest one seen has been read, so time has reached it.
            latest = max((p.last_time for p in self.progress.values() if p.last_time is not None), default=None)
            times = [t - self.lateness for t in (wall, latest) if t is not None]
            times += [self.requested] if self.requested is not None else []
            candidate = max(times) if times else None
            if cap is None:
                ready = [h.item for h in sorted(self._held)]
                self._held.clear()
            else:
                ready = self._pop_until(cap)
                candidate = min(candidate, cap) if candidate is not None else None
        else:
            top = mark if cap is None or mark < cap else cap
            ready = self._pop_until(top)
            candidate = top
        if candidate == NEVER:
            candidate = None
        if candidate is not None and (self.clock is None or candidate > self.clock):
            self.clock = candidate
        return ready, self.clock

    def _pop_until(self, top: datetime) -> list[T]:
        """Held events up to `top`, and any the clock has already passed (a late one is applied at once:
        holding it would let the deadlines it settles fire first)."""
        bound = top if self.clock is None or top > self.clock else self.clock
        ready: list[T] = []
        while self._held and self._held[0].at <= bound:
            ready.append(heapq.heappop(self._held).item)
        return ready

    def drop(self) -> list[T]:
        """Forget everything held (the partition was revoked: the next owner re-reads it)."""
        items = [h.item for h in self._held]
        self._held.clear()
        return items


NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass
class _Hold:
    at: datetime
    expires: float  # monotonic seconds
    tokens: list[object] = field(default_factory=list)


class CopyHolds:
    """Copies of misplaced events sent on to one partition and not read there yet.

    Each copy holds the partition's clock (and the events it releases) at the copy's event time until it
    arrives or its grace ends: a copy is appended behind records its partition may already have read, and
    deciding past it would fire deadlines it settles. A hold carries tokens (the notices that announced it),
    handed back when it ends so that they are acknowledged then, not before.
    """

    def __init__(self, remember: int = 10_000) -> None:
        self._holds: dict[str, _Hold] = {}
        self._arrived: OrderedDict[str, object] = OrderedDict()  # copy id -> what arrived (recent ones)
        self.remember = remember

    def __len__(self) -> int:
        return len(self._holds)

    def expect(self, copy_id: str, at: datetime, expires: float, token: object | None = None) -> object | None:
        """Hold for a copy announced in flight; if it has arrived already, nothing is held and what arrived is
        returned (the caller acknowledges the notice with it)."""
        if copy_id in self._arrived:
            return self._arrived[copy_id]
        hold = self._holds.get(copy_id)
        if hold is None:
            hold = self._holds[copy_id] = _Hold(at, expires)
        if token is not None:
            hold.tokens.append(token)
        return None

    def arrived(self, copy_id: str, item: object) -> list[object]:
        """The copy is here (it is aligned with the partition's events from now on): its hold ends."""
        self._arrived[copy_id] = item
        if len(self._arrived) > self.remember:
            self._arrived.popitem(last=False)
        hold = self._holds.pop(copy_id, None)
        return hold.tokens if hold is not None else []

    def expire(self, mono: float) -> tuple[int, list[object]]:
        """End the holds whose grace is over: how many, and their tokens."""
        gone = [k for k, h in self._holds.items() if h.expires <= mono]
        tokens: list[object] = []
        for k in gone:
            tokens.extend(self._holds.pop(k).tokens)
        return len(gone), tokens

    def cap(self) -> datetime | None:
        """The earliest time a copy in flight has, if any."""
        return min((h.at for h in self._holds.values()), default=None)
