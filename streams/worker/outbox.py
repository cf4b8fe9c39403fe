"""Every record the worker sends: actions, dead letters and rerouted records, each into the current batch.

A send is handed to the producer at once and its acknowledgement awaited later, with the whole batch's
(`streams.worker.settle`): the order's state is stored only after the broker has every action that state
records. This is where an action is sent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import orjson
from faust.types import EventT

from models.actions import Action, dump_action
from streams.worker.alignment import NEVER
from streams.worker.runtime import Runtime
from streams.worker.settle import Batch

DEAD_LETTERED_REMEMBERED = 100_000  # source positions already dead-lettered (a re-read after a rebalance)


class Outbox:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.actions_topic = rt.settings.topic_actions
        self.dead_letter_topic = rt.settings.topic_dead_letter
        self.ticks_topic = rt.settings.topic_ticks
        self.partitions = rt.settings.partitions
        self.dead_lettered: OrderedDict[tuple[str, int, int], None] = OrderedDict()

    async def action(self, partition: int, action: Action, batch: Batch) -> None:
        """Send a decided action to the order's partition of `actions` (the input topics' partition count)."""
        sent = await self._produce(self.actions_topic, action.order_id.encode(), dump_action(action), partition)
        batch.in_flight.append(sent)

    async def announce_copy(self, home: int, copy_id: str, at: datetime, batch: Batch) -> None:
        """Tell the destination, on its clock-tick partition, that a copy with event time `at` is on its way:
        its clock holds there until the copy arrives or `reroute_grace_seconds` pass. Sent before the copy,
        and the misplaced record is acknowledged only once the broker has both."""
        body = orjson.dumps({"copy": {"id": copy_id, "at": at.isoformat()}})
        sent = await self._produce(self.ticks_topic, b"copy", body, home)
        batch.in_flight.append(sent)

    async def announce_frontiers(
        self,
        frontiers: dict[int, datetime | None],
        batch: Batch | None = None,
        progress: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        """Tell every partition how far each of `frontiers`' partitions has been read for misplaced records
        (None: caught up, no bound; NEVER: nothing may pass yet), with `progress`: per input topic the next
        offset to read and the last event time read. One notice per source and destination."""
        local = self.rt.partitions  # read by this worker: it knows the frontiers without a notice
        progress = progress or {}
        for source, at in frontiers.items():
            told = {"from": source, "at": _time(at), **progress.get(source, {})}
            body = orjson.dumps({"frontier": told})
            for destination in range(self.partitions):
                if destination in local:
                    continue
                sent = await self._produce(self.ticks_topic, b"frontier", body, destination)
                if batch is not None:
                    batch.in_flight.append(sent)

    async def reroute(self, record: EventT[Any], batch: Batch, home: int) -> None:
        """Send the original record on to the partition its key hashes to, then acknowledge the misplaced copy.

        The copy sent on is the record as it came (key, value, headers, timestamp), marked with
        `postsale.rerouted-from`; it is decided where it lands, among the order's other events, and never
        here. A crash between the send and the acknowledgement sends it on twice: the second is a repeated
        event id, a no-op. It arrives later than its neighbours on that partition; the notice sent before it
        (`announce_copy`) keeps that partition's clock from passing it meanwhile (docs/reliability.md,
        "Misrouted events")."""
        msg = record.message
        headers = [(k, v) for k, v in _header_items(msg.headers) if k != "postsale.rerouted-from"]
        headers.append(("postsale.rerouted-from", str(msg.partition).encode()))
        sent = await self._produce(msg.topic, msg.key, msg.value, home, headers, msg.timestamp)
        batch.in_flight.append(sent)
        batch.acks.append(record)

    async def dead_letter(self, record: EventT[Any], batch: Batch, reason: str, detail: str) -> None:
        """The original bytes and key, with where they came from and why, in headers; then acknowledge.

        A record read again after a rebalance (at-least-once) is not dead-lettered twice by this process."""
        msg = record.message
        source = (msg.topic, msg.partition, msg.offset)
        if source in self.dead_lettered:
            batch.acks.append(record)
            return
        headers = [
            ("postsale.reason", reason.encode()),
            ("postsale.detail", detail.encode()),
            ("postsale.source.topic", msg.topic.encode()),
            ("postsale.source.partition", str(msg.partition).encode()),
            ("postsale.source.offset", str(msg.offset).encode()),
        ]
        value = msg.value if msg.value is not None else b""
        sent = await self._produce(self.dead_letter_topic, msg.key, value, None, headers)
        batch.in_flight.append(sent)
        batch.dead_letters.append((source, reason))  # counted and remembered once the broker has it (settle)
        batch.acks.append(record)

    def remember_dead_letters(self, batch: Batch) -> None:
        """Called once the broker has the batch's dead letters: count them and never send them again."""
        for source, reason in batch.dead_letters:
            self.rt.metrics.invalid_records.labels(topic=source[0], reason=reason).inc()
            self.dead_lettered[source] = None
            if len(self.dead_lettered) > DEAD_LETTERED_REMEMBERED:
                self.dead_lettered.popitem(last=False)

    async def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        headers: list[tuple[str, bytes]] | None = None,
        timestamp: float | None = None,
    ) -> Awaitable[Any]:
        """Hand a record to the app's producer; the returned awaitable completes when the broker has it.

        Straight to Faust's producer rather than through `Topic.send`: the records are bytes already, and the
        per-message future, callbacks and sensors of `Topic.send` cost more than the send itself (profile in
        docs/performance.md). Like `Topic.send`, it does not create the topic: the deployment does."""
        return await self.rt.app.producer.send(topic, key, value, partition, timestamp, headers)


def _header_items(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(k), bytes(v) if v is not None else b"") for k, v in items]


def _time(at: datetime | None) -> str | None:
    return None if at is None else "never" if at == NEVER else at.isoformat()
