"""What a worker process holds while it runs: the Faust app and its tables, and one `PartitionState` per partition.

Everything the worker derives for a partition (held events and the partition's clock, the deadline index,
store totals, stage counts) lives in that partition's `PartitionState`, created when a record of the
partition first arrives and dropped in one place, `Runtime.forget`, when the partition is assigned, revoked
or a batch of it is overtaken by a rebalance. The next owner (maybe this worker again) rebuilds it from the
orders table, which is as durable as the orders' states themselves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust

from models.policy import Policy
from streams.orders import OpenOrders, Unplaced
from streams.settings import Settings
from streams.worker.alignment import NEVER, CopyHolds, PartitionAligner
from streams.worker.clock import LiveClock
from streams.worker.metrics import Metrics
from streams.worker.routing import Routing


@dataclass
class Frontier:
    """How far another worker has read one of its partitions, as it last said; trusted until `expires`
    (monotonic seconds). `at`: no copy older than this will come from it by that worker's own account (None:
    no bound). `read` and `times`: per input topic, the next offset it will read and the event time of the
    last record it read. Set against the partition's end offsets, these bound what it has not even fetched
    yet (`Decider.refresh_remote`)."""

    at: datetime | None
    expires: float
    notice: Any
    read: dict[str, int] = field(default_factory=dict)
    times: dict[str, datetime | None] = field(default_factory=dict)

    def bound(self, ends: dict[str, int], lateness: timedelta) -> datetime | None:
        """The earliest time a copy from this partition may still carry, given its end offsets `ends` (per
        topic) fetched after the notice's worker read what it says: its last time on every topic it has not
        read to that end (NEVER if it has read nothing there, or did not say).

        Its own `at` is not needed then, and not trusted: it counts a topic its worker has not fetched yet as
        behind even when there is nothing to fetch, and a partition of another worker would then hold this
        one's clock for nothing."""
        if not self.read:
            return self.at  # said how far only (a notice of its first misplaced record: NEVER)
        marks: list[datetime] = []
        for topic, end in ends.items():
            next_offset = self.read.get(topic)
            if next_offset is not None and next_offset >= end:
                continue
            last = self.times.get(topic)
            if last is None:
                return NEVER
            marks.append(last - lateness)
        return min(marks) if marks else None


@dataclass
class PartitionState:
    """One owned partition: its aligner (held events, clock) and its books (deadline index, totals, stages)."""

    aligner: PartitionAligner[Any]
    books: OpenOrders = field(default_factory=OpenOrders)
    # records of orders not placed yet, unacknowledged, waiting for their order.placed (rules.intake)
    unplaced: Unplaced[Any] = field(default_factory=Unplaced)
    books_loaded: bool = False  # the books were rebuilt from the orders table since the assignment
    holds: CopyHolds = field(default_factory=CopyHolds)  # copies of misplaced events on their way here
    # source partition -> how far another worker has read it for misplaced records (the notice, kept unacknowledged
    # until a newer one replaces it), while copies are being sent on anywhere
    frontiers: dict[int, Frontier] = field(default_factory=dict)
    ticks_offset: int = -1  # the last clock tick or copy notice read since the assignment
    ticks_read: bool = False  # the ticks partition was read to its end once since the assignment
    # clock ticks with a time, unacknowledged until the partition's clock has reached that time: until then the
    # tick's record is what hands the time over to the partition's next owner (decide.Decider.release)
    pending_ticks: list[tuple[datetime, Any]] = field(default_factory=list)
    caught_up: bool = False  # every input topic of it was read to its end once since the assignment
    born: float = field(default_factory=time.monotonic)  # when this worker took the partition (monotonic seconds)
    read_high: datetime | None = None  # the latest event or tick time read on it
    # input topic -> when its last record was taken (wall-clock seconds): a highwater older than that may have
    # missed what came since (`Decider._lagging`)
    taken_at: dict[str, float] = field(default_factory=dict)
    # The latest time the clock may reach for the partitions other workers read: set by each look at their end
    # offsets (`Decider.refresh_remote`). NEVER until the first look.
    remote_cap: datetime | None = NEVER
    # order id -> its state as last stored in the table, decoded (the most recent ones; `Settler.store`)
    kept: dict[str, Any] = field(default_factory=dict)


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    app: faust.App
    metrics: Metrics
    clock: LiveClock | None
    topics: dict[str, faust.TopicT]
    orders: Any  # faust Table: order_id -> encoded OrderState (streams.worker.codec)
    partitions: dict[int, PartitionState] = field(default_factory=dict)
    known_stores: set[str] = field(default_factory=set)  # stores given a metrics label so far
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("postsale"))
    routing: Routing = field(init=False)
    # What this worker dropped unacknowledged since the last assignment (forgotten partitions, overtaken batches,
    # records fetched before a rebalance), kept referenced until the next assignment: Faust's set of
    # unacknowledged messages holds weak references, and only a record that still exists keeps a commit from
    # passing it (streams.kafka.faust_fixes, `HeldHeadConsumer._new_offset`).
    left_unacked: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.routing = Routing(self.settings, self.metrics, self.log)

    def partition(self, partition: int) -> PartitionState:
        state = self.partitions.get(partition)
        if state is None:
            s = self.settings
            lateness = timedelta(seconds=s.allowed_lateness_seconds)
            idle = s.topic_idle_seconds if self.clock is None else None  # only time from events needs it
            aligner: PartitionAligner[Any] = PartitionAligner(s.input_topics, lateness=lateness, idle_after=idle)
            state = self.partitions[partition] = PartitionState(aligner)
        return state

    def owned(self) -> set[int]:
        """The input partitions this worker's consumer is assigned now (none outside a consumer group, or while
        a rebalance has taken them away). The consumer's own assignment, not the assignor's: during a rebalance
        the assignor still lists partitions already revoked, and a partition state made for one of them then
        outlived the rebalance and held every clock of the worker for good (nothing read, never caught up)."""
        try:
            assigned = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 - not started yet
            return set()
        topics = self.settings.input_topics
        return {tp.partition for tp in assigned if tp.topic in topics}

    def owns(self, partition: int) -> bool:
        """Whether this worker is assigned the input partition (False outside a consumer group)."""
        return partition in self.owned()

    def forget(self, partition: int) -> None:
        """Drop what this worker derived for a partition; its next owner (maybe us again) rebuilds it."""
        state = self.partitions.pop(partition, None)
        if state is not None:
            # the records it held unacknowledged (not its books: those can be large, and hold no record)
            held = (state.aligner.drop(), state.unplaced, state.pending_ticks, state.frontiers, state.holds)
            self.left_unacked.append(held)
        self.routing.forget(partition)
        self.metrics.forget_partition(partition, self.settings.input_topics)
