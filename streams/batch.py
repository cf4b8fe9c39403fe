"""A batch of decisions whose effects are settled together: sent, acknowledged by the broker, stored, acked.

The batch holds what one round of the agent decided but has not stored yet:
the working state of every order it touched (a later event of the same order
in the batch is decided on it), the sends in flight, the records to
acknowledge once the states are stored, and, per partition, a record of that
partition to store its orders' states under.

That last part is about Faust's tables: a table write goes to the changelog
partition (and, with RocksDB, the local database) of the event being processed
(`faust.streams.current_event()`), not of the key, and a RocksDB read looks only
in the current event's partition. A batch mixes partitions, so each
partition's states are read and written while one of that partition's own
records is the current event (`as_current`), exactly as if they were read and
written while processing it.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from faust.streams import _current_event  # the context variable behind faust.streams.current_event()
from faust.types import EventT

from models.actions import Action
from models.state import OrderState


@dataclass
class Batch:
    ticket: int  # the rebalance generation every decision of the batch was made in (streams/fencing.py)
    records: int = 0
    working: dict[str, OrderState | None] = field(default_factory=dict)  # order id -> its state, as decided so far
    in_table: set[str] = field(default_factory=set)  # orders the table held when the batch read them
    changed: dict[int, dict[str, OrderState | None]] = field(default_factory=dict)  # partition -> order -> state
    # partition -> a record of it (see module doc); its keys are the partitions the batch touched
    writer: dict[int, EventT[Any]] = field(default_factory=dict)
    in_flight: list[Awaitable[Any]] = field(default_factory=list)
    acks: list[EventT[Any]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    received: list[float] = field(default_factory=list)  # perf_counter at receipt of each decided event
    consumed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, event type) -> events
    # ((topic, partition, offset), reason) of every record the batch dead-lettered
    dead_letters: list[tuple[tuple[str, int, int], str]] = field(default_factory=list)

    def saw(self, record: EventT[Any]) -> None:
        self.records += 1
        self.writer[record.message.partition] = record

    def decided(self, partition: int, order_id: str, state: OrderState | None) -> None:
        self.working[order_id] = state
        self.changed.setdefault(partition, {})[order_id] = state


@contextmanager
def as_current(record: EventT[Any]) -> Iterator[None]:
    """Make `record` Faust's current event for the table writes inside the block."""
    token = _current_event.set(weakref.ref(record))
    try:
        yield
    finally:
        _current_event.reset(token)
