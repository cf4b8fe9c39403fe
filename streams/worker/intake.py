"""Intake: a fetched record becomes an event held for alignment, a clock request, a dead letter or a reroute.

Decoding happens once, here, at the edge. What cannot be decided (not JSON, invalid, key not equal to the
order id, wrong topic, dated absurdly far ahead, on a partition its key does not hash to) never reaches the
rules: it is dead-lettered with a reason, or sent on to its home partition, within the same batch. Where a
record landed is also evidence of the producers' partitioner (`streams.worker.routing`): a record the
evidence does not let the worker place is left unacknowledged instead.

A copy sent on is announced on the clock-tick topic of its destination first; the destination holds its
clock for it until it arrives or `reroute_grace_seconds` pass (`streams.worker.alignment.CopyHolds`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from faust.streams import _current_event  # the context variable behind faust.streams.current_event()
from faust.types import EventT
from pydantic import ValidationError

from models.events import Event, parse_event, topic_of, validation_reason
from rules.intake import refusal
from streams.worker.alignment import NEVER, PartitionAligner
from streams.worker.outbox import Outbox
from streams.worker.routing import Route, Waiting
from streams.worker.runtime import Frontier, Runtime
from streams.worker.settle import Batch


@dataclass
class Inbound:
    """A decoded event and the record it came in, held until aligned."""

    event: Event
    record: EventT[Any]
    received: float
    also_ack: list[EventT[Any]] = field(default_factory=list)  # notices of this copy, acknowledged with it
    settled: bool = False  # decided (or dead-lettered): its acknowledgements are in a batch


def copy_id(topic: str, event_id: str) -> str:
    return f"{topic}/{event_id}"


LEFT = object()  # a record neither decided here nor sent on: unacknowledged (routing waits or refuses)


class Intake:
    def __init__(self, rt: Runtime, outbox: Outbox) -> None:
        self.rt = rt
        self.outbox = outbox
        s = rt.settings
        self.ticks_topic = s.topic_ticks
        self.partitions = s.partitions
        self.logical_topics = {s.topic_orders: "orders", s.topic_shipments: "shipments", s.topic_disputes: "disputes"}
        self.announced = datetime.min.replace(tzinfo=UTC)  # the latest time a clock tick announced
        self.grace = s.reroute_grace_seconds

    async def take(self, record: EventT[Any], batch: Batch) -> None:
        msg = record.message
        topic, partition = msg.topic, msg.partition
        state = self.rt.partition(partition)
        aligner = state.aligner
        if topic == self.ticks_topic:
            state.ticks_offset = max(state.ticks_offset, msg.offset)
            if not self._notice(record, batch):
                at = self._tick_request(record, aligner)
                if at is None:
                    batch.acks.append(record)  # a nudge: no time to hand over
                else:
                    state.pending_ticks.append((at, record))  # acknowledged once the clock reaches it
                    if state.read_high is None or at > state.read_high:
                        state.read_high = at
            return
        state.taken_at[topic] = time.time()
        inbound = await self._decode(record, batch)
        if inbound is LEFT:
            return
        if inbound is None:
            aligner.saw_offset(topic, msg.offset)
        else:
            assert isinstance(inbound, Inbound)
            occurred = inbound.event.occurred_at
            aligner.add(topic, msg.offset, occurred, inbound, read_at=time.monotonic())
            if state.read_high is None or occurred > state.read_high:
                state.read_high = occurred

    def _notice(self, record: EventT[Any], batch: Batch) -> bool:
        """A copy of a misplaced event announced on its way to this partition: hold the clock for it. The
        notice is acknowledged only when the hold ends, so a worker that restarts holds again."""
        try:
            body = orjson.loads(record.value or b"{}")
            if not isinstance(body, dict):
                return False
            if isinstance(body.get("frontier"), dict):
                told = body["frontier"]
                source = int(told["from"])
                read = {str(t): int(o) for t, o in (told.get("read") or {}).items()}
                times = {str(t): _time(raw) for t, raw in (told.get("times") or {}).items()}
                self._frontier(record, source, _time(told["at"]), batch, read, times)
                return True
            if not isinstance(body.get("copy"), dict):
                return False
            at = datetime.fromisoformat(body["copy"]["at"])
            cid = str(body["copy"]["id"])
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError):
            return False
        if not self.rt.routing.reroutes:
            batch.acks.append(record)  # nothing here waits for copies (another setting sent it): let it go
            return True
        holds = self.rt.partition(record.message.partition).holds
        arrived = holds.expect(cid, at, time.monotonic() + self.grace, record)
        if isinstance(arrived, Inbound) and not arrived.settled:
            arrived.also_ack.append(record)
        elif arrived is not None:
            batch.acks.append(record)
        return True

    def _frontier(
        self,
        record: EventT[Any],
        source: int,
        at: datetime | None,
        batch: Batch,
        read: dict[str, int],
        times: dict[str, datetime | None],
    ) -> None:
        """How far another worker has read `source` for misplaced records: copies from it will be no older.
        The latest notice per source stays unacknowledged (a restarted worker reads it again); the one it
        replaces is acknowledged."""
        frontiers = self.rt.partition(record.message.partition).frontiers
        if not self.rt.routing.reroutes or source in self.rt.partitions:
            batch.acks.append(record)  # nothing waits for copies here, or this worker reads `source` itself
            frontiers.pop(source, None)
            return
        old = frontiers.get(source)
        if old is not None:
            batch.acks.append(old.notice)
        frontiers[source] = Frontier(at, time.monotonic() + self.grace, record, read, times)

    def _tick_request(self, record: EventT[Any], aligner: PartitionAligner[Any]) -> datetime | None:
        """Take a clock tick's time (an end-of-input tick, a simulated store's clock) as the partition's requested
        time and return it; None for a tick without a time (a nudge)."""
        try:
            body = orjson.loads(record.value or b"{}")
            if isinstance(body, dict) and body.get("now"):
                at = datetime.fromisoformat(body["now"])
                aligner.request(at)
                if at.tzinfo is not None and at > self.announced:
                    self.announced = at
                return at if at.tzinfo is not None else None
        except (orjson.JSONDecodeError, ValueError, TypeError):
            pass  # a tick is only a nudge; a bad one nudges without a time
        return None

    async def _decode(self, record: EventT[Any], batch: Batch) -> Inbound | object | None:
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
        copy = _is_copy(msg.headers)
        routing = self.rt.routing
        if copy:
            # Sent on by a worker: not evidence of a producer. It is at home unless the workers disagree.
            home = routing.home(key)
            route = Route("here", msg.partition)
            if routing.refusal is not None:
                route = Route("refuse", msg.partition)
            elif routing.reroutes and home is not None and home != msg.partition:
                route = Route("reroute", home)
        else:
            if not routing.confirmed and routing.reroutes and self._known(event.order_id):
                # The order was decided here before, at the setting's home: the setting is the store's.
                routing.confirm(msg.topic, "an order of a record was decided before")
            route = routing.route(msg.topic, key, msg.partition)
        if route.action == "refuse":
            return LEFT
        if route.action == "wait":
            await self._copies_begin(batch)
            self._expect_copy(msg.topic, event, route.home)
            routing.waiting.append(Waiting(msg.partition, (record, event), route.home, event.occurred_at))
            return LEFT
        for waited in routing.take_waiting():
            old_record, old_event = waited.record
            await self._misplaced(old_record, old_event, batch, waited.home)
        if route.action == "reroute":
            await self._misplaced(record, event, batch, route.home)
            return None
        batch.consumed[msg.topic, event.type] += 1
        inbound = Inbound(event, record, time.perf_counter())
        if copy:
            notices = self.rt.partition(msg.partition).holds.arrived(copy_id(msg.topic, event.event_id), inbound)
            inbound.also_ack.extend(cast(list[EventT[Any]], notices))
        return inbound

    async def _misplaced(self, record: EventT[Any], event: Event, batch: Batch, home: int) -> None:
        msg = record.message
        self.rt.metrics.misrouted_events.labels(topic=msg.topic).inc()
        if self.rt.settings.misrouted == "dead_letter":
            partitioner = self.rt.routing.chosen
            why = f"key does not hash to this partition ({partitioner})"
            await self.outbox.dead_letter(record, batch, "misrouted", why)
            return
        await self._copies_begin(batch)
        cid = copy_id(msg.topic, event.event_id)
        self._expect_copy(msg.topic, event, home)
        await self.outbox.announce_copy(home, cid, event.occurred_at, batch)
        await self.outbox.reroute(record, batch, home)

    def _known(self, order_id: str) -> bool:
        """Whether the orders table holds the order, in any partition of this worker (not only the current
        record's, where a table read looks by default)."""
        token = _current_event.set(None)
        try:
            return self.rt.orders.get(order_id) is not None
        finally:
            _current_event.reset(token)

    async def _copies_begin(self, batch: Batch) -> None:
        """The first misplaced record: from now on any partition of this worker may send copies on. Until the
        timer says how far each has been read (`OrderLoop.announce_frontiers`), other workers hold every
        partition's clock for them."""
        if self.rt.routing.copies:
            return
        self.rt.routing.copies = True
        self.rt.log.warning("partitioner: misplaced records are being sent on; partition clocks now wait for copies")
        await self.outbox.announce_frontiers({p: NEVER for p in self.rt.partitions}, batch)

    def _expect_copy(self, topic: str, event: Event, home: int) -> None:
        """Hold the destination's clock at once if this worker has it (the notice reaches it a batch later)."""
        state = self.rt.partitions.get(home)
        if state is None and self.rt.owns(home):
            state = self.rt.partition(home)  # owned, nothing read from it yet: it must wait all the same
        if state is not None:
            state.holds.expect(copy_id(topic, event.event_id), event.occurred_at, time.monotonic() + self.grace)


def _is_copy(headers: Any) -> bool:
    if not headers:
        return False
    items = headers.items() if isinstance(headers, dict) else headers
    return any(k == "postsale.rerouted-from" for k, _ in items)


def _time(raw: Any) -> datetime | None:
    """A time in a notice: ISO 8601, "never" (nothing may pass yet) or null (no bound)."""
    return NEVER if raw == "never" else None if raw is None else datetime.fromisoformat(raw)
