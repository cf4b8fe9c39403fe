"""Intake: a fetched record becomes an event held for alignment, a clock request, a dead letter or a reroute.

Decoding happens once, here, at the edge. What cannot be decided (not JSON, invalid, key not equal to the
order id, wrong topic, dated absurdly far ahead, on a partition its key does not hash to) never reaches the
rules: it is dead-lettered with a reason, or sent on to its home partition, within the same batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from faust.types import EventT
from pydantic import ValidationError

from models.events import Event, parse_event, topic_of, validation_reason
from rules.intake import refusal
from streams.kafka.partitioning import partition_for
from streams.worker.alignment import PartitionAligner
from streams.worker.outbox import Outbox
from streams.worker.runtime import Runtime
from streams.worker.settle import Batch


@dataclass
class Inbound:
    """A decoded event and the record it came in, held until aligned."""

    event: Event
    record: EventT[Any]
    received: float


class Intake:
    def __init__(self, rt: Runtime, outbox: Outbox) -> None:
        self.rt = rt
        self.outbox = outbox
        s = rt.settings
        self.ticks_topic = s.topic_ticks
        self.partitions = s.partitions
        self.logical_topics = {s.topic_orders: "orders", s.topic_shipments: "shipments", s.topic_disputes: "disputes"}
        self.announced = datetime.min.replace(tzinfo=UTC)  # the latest time a clock tick announced

    async def take(self, record: EventT[Any], batch: Batch) -> None:
        msg = record.message
        topic, partition = msg.topic, msg.partition
        aligner = self.rt.partition(partition).aligner
        if topic == self.ticks_topic:
            self._tick_request(record, aligner)
            batch.acks.append(record)
            return
        inbound = await self._decode(record, batch)
        if inbound is None:
            aligner.saw_offset(topic, msg.offset)
        else:
            aligner.add(topic, msg.offset, inbound.event.occurred_at, inbound, read_at=time.monotonic())

    def _tick_request(self, record: EventT[Any], aligner: PartitionAligner[Any]) -> None:
        try:
            body = orjson.loads(record.value or b"{}")
            if isinstance(body, dict) and body.get("now"):
                at = datetime.fromisoformat(body["now"])
                aligner.request(at)
                if at.tzinfo is not None and at > self.announced:
                    self.announced = at
        except (orjson.JSONDecodeError, ValueError, TypeError):
            pass  # a tick is only a nudge; a bad one nudges without a time

    async def _decode(self, record: EventT[Any], batch: Batch) -> Inbound | None:
        msg = record.message
        raw = msg.value if isinstance(msg.value, bytes) else bytes(msg.value or b"")
        key = msg.key if isinstance(msg.key, bytes | None) else bytes(msg.key)
        dead_letter = self.outbox.dead_letter
        try:
            event = parse_event(raw)
        except ValidationError as exc:
            reason = validation_reason(exc)
            kind = "invalid_json" if exc.errors()[0]["type"] in ("json_invalid", "json_type") else "invalid_event"
            await dead_letter(record, batch, kind, reason)
            return None
        if key is None or key != event.order_id.encode():
            await dead_letter(record, batch, "key_mismatch", "record key is not the event's order_id")
            return None
        if topic_of(event.type) != self.logical_topics.get(msg.topic, msg.topic):
            await dead_letter(record, batch, "wrong_topic", f"{event.type} does not belong on {msg.topic}")
            return None
        # "Now" is the live clock, or on the events clock the latest time the ticks announced: a simulated store
        # runs ahead of the wall clock, and its events must not count as from the future.
        now = max(datetime.now(UTC), self.rt.clock.now() if self.rt.clock is not None else self.announced)
        if refusal(event.occurred_at, None, now, self.rt.policy.intake) == "ahead_of_clock":
            hours = self.rt.policy.intake.ahead_of_clock_hours
            await dead_letter(record, batch, "future_timestamp", f"occurred_at is more than {hours:g} h ahead")
            return None
        if self.rt.settings.partitioner == "murmur2":
            home = partition_for(key, self.partitions)
            if home != msg.partition:
                self.rt.metrics.misrouted_events.labels(topic=msg.topic).inc()
                if self.rt.settings.misrouted == "dead_letter":
                    await dead_letter(record, batch, "misrouted", "key does not hash to this partition (murmur2)")
                else:
                    await self.outbox.reroute(record, batch, home)
                return None
        batch.consumed[msg.topic, event.type] += 1
        return Inbound(event, record, time.perf_counter())
