"""The agents: decode at the edge, align in event time, call the rules, send, then store.

Order of effects for every decision (DESIGN.md, "Effects"): the actions are
sent and acknowledged by the broker first; only then is the order's state
written to its table, and only then is the source record acknowledged
(committed later by Faust). A crash in between repeats the decision under the
same action ids; it never loses one, and the event ids recorded in the state
make a re-delivered event a no-op.

Decisions are made one record at a time but their effects are settled in
batches (`streams/batch.py`): the records already fetched are decided
against a working copy of their orders' states, every action, dead letter and
rerouted record of the batch is sent without waiting, and then one wait for
the broker's acknowledgement of all of them is followed by one table write per
changed order and the acknowledgement of the batch's records. The order of
effects is the same as one record at a time; what is saved is a produce round
trip and a changelog record per event. A batch ends when nothing more is
waiting in the agent's queue (so an event reaches its actions with no added
delay when the worker keeps up) or when it reaches `batch_max_records`.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from faust.types import TP, EventT
from pydantic import ValidationError

from models.actions import CUSTOMER_MONEY, Action, dump_action
from models.events import Event, parse_event, topic_of
from models.state import OrderState
from rules.engine import Decision, advance, handle_event, next_due
from streams.app import Runtime
from streams.batch import Batch, as_current
from streams.codec import decode_state, encode_state
from streams.fencing import Fence, Overtaken
from streams.partitioning import partition_for
from streams.replay import validation_reason

DEAD_LETTERED_REMEMBERED = 100_000  # source positions already dead-lettered (a re-read after a rebalance)


@dataclass
class Inbound:
    """A decoded event and the record it came in, held until aligned."""

    event: Event
    record: EventT[Any]
    received: float


def install(rt: Runtime) -> None:
    s = rt.settings
    app = rt.app
    inputs = [rt.topics[t] for t in s.input_topics]
    ticks = rt.topics[s.topic_ticks]
    channel = app.topic(*s.input_topics, s.topic_ticks, key_type=bytes, value_type=bytes)
    order_processor = OrderProcessor(rt)

    @app.agent(channel, name="postsale-orders")
    async def orders(stream: Any) -> None:
        waiting = stream.channel.queue  # records Faust has fetched for this agent and not yet handed over
        async for record in stream.noack().events():
            await order_processor.on_record(record)
            if waiting.empty() or order_processor.batch_full():
                await order_processor.flush()

    @app.timer(interval=s.tick_interval_seconds)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        """Time flows through the agents as messages: one tick per owned partition per interval."""
        for tp in app.assignor.assigned_actives():
            if tp.topic == s.topic_ticks:
                await ticks.send(key=b"tick", value=b"{}", partition=tp.partition)
        order_processor.export_gauges()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(_app: Any, revoked: set[TP], **_: Any) -> None:
        for tp in revoked:
            if tp.topic in s.input_topics:
                order_processor.forget(tp.partition)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(_app: Any, assigned: set[TP], **_: Any) -> None:
        for tp in assigned:
            if tp.topic in s.input_topics:
                order_processor.forget(tp.partition)

    rt.order_agent = orders  # type: ignore[attr-defined]
    del inputs


class OrderProcessor:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        s = rt.settings
        self.inputs = set(s.input_topics)
        self.ticks_topic = s.topic_ticks
        self.partitions = s.partitions
        self.max_future = timedelta(seconds=s.max_future_seconds)
        self.known_stores: set[str] = set()
        self.stages: dict[int, Counter[str]] = {}
        self.dead_lettered: OrderedDict[tuple[str, int, int], None] = OrderedDict()
        self.fence = Fence(rt.app, getattr(rt.app, "group_lease", None))
        self.announced = datetime.min.replace(tzinfo=UTC)  # the latest time a clock tick announced
        self.batch: Batch | None = None  # decided, not yet settled (streams/batch.py)
        self.batch_max = s.batch_max_records
        self.actions_topic = s.topic_actions

    # --- partitions -------------------------------------------------------------------------------------------

    def forget(self, partition: int) -> None:
        """Drop what this worker held for a partition; its next owner (maybe us again) re-reads it."""
        aligner = self.rt.aligners.pop(partition, None)
        if aligner is not None:
            aligner.drop()
        self.rt.deadlines.pop(partition, None)
        self.rt.store_totals.pop(partition, None)
        self.rt.index_ready.discard(partition)
        self.stages.pop(partition, None)
        self.rt.metrics.forget_partition(partition, self.inputs)

    def _ensure_index(self, partition: int) -> None:
        """Rebuild a partition's deadline index from the orders table after it was (re)assigned.

        Once per assignment, proportional to the open orders of the partition;
        firing afterwards costs what is due."""
        if partition in self.rt.index_ready:
            return
        idx = self.rt.index(partition)
        totals = self.rt.totals(partition)
        stages = self.stages[partition] = Counter()
        for key, raw in self.rt.orders.items():
            if raw is None or partition_for(key.encode(), self.partitions) != partition:
                continue
            state = decode_state(raw)
            idx.set(key, next_due(state))
            totals.apply(None, state)
            stages[state.stage] += 1
        self.rt.index_ready.add(partition)

    def _lagging(self, partition: int) -> Any:
        consumer = self.rt.app.consumer

        def lagging(topic: str, last_offset: int) -> bool:
            tp = TP(topic, partition)
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not assigned (a rebalance under way): nothing is known
                # In a consumer group, unknown is behind: the clock holds. Counting it as caught up let the clock
                # jump to the latest time seen in the middle of a rebalance and fire deadlines of unread events
                # (measured). Outside a group (Faust's test context) there is no broker to be behind.
                return self.fence.grouped
            if highwater is None:
                # Assigned but not fetched yet (a partition just taken over, or paused while its table
                # recovers): its records may be older than what the other topics showed, so it holds them back
                # until a fetch answers. Every assigned, unpaused partition is fetched, data or not.
                return True
            if last_offset < 0:
                # Nothing read since the partition was (re)assigned: everything before the committed offset was
                # processed already (by us or the previous owner), so that is where this topic stands.
                committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # noqa: SLF001
                if committed:
                    last_offset = committed - 1
            lag = highwater - (last_offset + 1)
            self.rt.metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(max(lag, 0))
            return lag > 0

        return lagging

    # --- records --------------------------------------------------------------------------------------------------

    async def on_record(self, record: EventT[Any]) -> None:
        """Take `record` into the current batch: decoded, dead-lettered or held for alignment. It is decided,
        and its effects settled, in `flush`."""
        ticket = self.fence.ticket()
        if not self.fence.flowing():
            # Fetched before a rebalance: unacknowledged, read again after the rebalance's seek (fencing.py).
            self.rt.metrics.fenced_records.inc()
            self.rt.log.info("record %s[%d]@%d left for the next owner: flow suspended", *_where(record))
            return
        batch = self.batch
        if batch is not None and batch.ticket != ticket:
            self._drop(batch, "overtaken by a rebalance")
            batch = None
        if batch is None:
            batch = self.batch = Batch(ticket)
        batch.saw(record)
        await self._on_record(record, batch)

    def batch_full(self) -> bool:
        return self.batch is not None and self.batch.records >= self.batch_max

    async def flush(self) -> None:
        """Decide what the batch released, wait for the broker to have every send, then store the states, then
        acknowledge.

        The fence is passed again after the sends: states are stored only by the partition's owner, in the
        generation the batch was decided in (streams/fencing.py). No await from there to the last ack."""
        batch = self.batch
        if batch is None:
            return
        try:
            # Released once per partition per batch: the watermark is then computed on everything fetched. The
            # partition's orders are read as one of its own records (RocksDB reads the current event's partition).
            for partition in sorted(batch.writer):
                with as_current(batch.writer[partition]):
                    await self._release(partition, batch)
            self.batch = None
            for sent in batch.in_flight:
                await sent
            if batch.changed or batch.actions:
                await self.fence.hold(batch.ticket)
            else:
                self.fence.check(batch.ticket)
        except Overtaken:
            self._drop(batch, "overtaken by a rebalance")
            return
        orders = self.rt.orders
        for partition, states in batch.changed.items():
            with as_current(batch.writer[partition]):
                for order_id, state in states.items():
                    if state is not None:
                        orders[order_id] = encode_state(state)
                    elif order_id in batch.in_table:
                        orders.pop(order_id, None)
        self._count(batch.actions)
        for source, reason in batch.dead_letters:
            self.rt.metrics.invalid_records.labels(topic=source[0], reason=reason).inc()
            self.dead_lettered[source] = None
            if len(self.dead_lettered) > DEAD_LETTERED_REMEMBERED:
                self.dead_lettered.popitem(last=False)
        for (topic, type_), n in batch.consumed.items():
            self.rt.metrics.events_consumed.labels(topic=topic, type=type_).inc(n)
        for record in batch.acks:
            record.ack()
        done = time.perf_counter()
        for received in batch.received:
            self.rt.metrics.processing_latency.observe(done - received)

    def _drop(self, batch: Batch, why: str) -> None:
        """Store and acknowledge nothing of `batch`: its records are read again after the rebalance's seek, by
        this worker or the partition's next owner, and decided again under the same action ids. What this
        worker derived from the batch's decisions (deadline index, held events, store totals) is rebuilt
        from the table."""
        if self.batch is batch:
            self.batch = None
        self.rt.metrics.fenced_records.inc(batch.records)
        self.rt.log.info("%d record(s) left for the next owner: %s", batch.records, why)
        for partition in batch.writer:
            self.forget(partition)

    async def _on_record(self, record: EventT[Any], batch: Batch) -> None:
        msg = record.message
        topic, partition = msg.topic, msg.partition
        self._ensure_index(partition)
        aligner = self.rt.aligner(partition)
        if topic == self.ticks_topic:
            self._tick_request(record, aligner)
            batch.acks.append(record)
            return
        inbound = await self._decode(record, batch)
        if inbound is None:
            aligner.saw_offset(topic, msg.offset)
        else:
            aligner.add(topic, msg.offset, inbound.event.occurred_at, inbound, read_at=time.monotonic())

    def _tick_request(self, record: EventT[Any], aligner: Any) -> None:
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
        try:
            event = parse_event(raw)
        except ValidationError as exc:
            reason = validation_reason(exc)
            kind = "invalid_json" if exc.errors()[0]["type"] in ("json_invalid", "json_type") else "invalid_event"
            await self._dead_letter(record, batch, kind, reason)
            return None
        if key is None or key != event.order_id.encode():
            await self._dead_letter(record, batch, "key_mismatch", "record key is not the event's order_id")
            return None
        if topic_of(event.type) != _logical_topic(self.rt, msg.topic):
            await self._dead_letter(record, batch, "wrong_topic", f"{event.type} does not belong on {msg.topic}")
            return None
        # "Now" is the live clock, or on the events clock the latest time the ticks announced (a simulated store
        # runs ahead of the wall clock; measured: the demo dead-lettered most events after its first seconds).
        now = max(datetime.now(UTC), self.rt.clock.now() if self.rt.clock is not None else self.announced)
        if event.occurred_at - now > self.max_future:
            ahead = f"occurred_at is more than {self.max_future} ahead"
            await self._dead_letter(record, batch, "future_timestamp", ahead)
            return None
        if self.rt.settings.partitioner == "murmur2":
            home = partition_for(key, self.partitions)
            if home != msg.partition:
                self.rt.metrics.misrouted_events.labels(topic=msg.topic).inc()
                if self.rt.settings.misrouted == "dead_letter":
                    await self._dead_letter(record, batch, "misrouted", "key does not hash to this partition (murmur2)")
                else:
                    await self._reroute(record, batch, home)
                return None
        batch.consumed[msg.topic, event.type] += 1
        return Inbound(event, record, time.perf_counter())

    async def _reroute(self, record: EventT[Any], batch: Batch, home: int) -> None:
        """Send the original record on to the partition its key hashes to, then acknowledge the misplaced copy.

        The copy sent on is the record as it came (key, value, headers, timestamp), marked with
        `postsale.rerouted-from`; it is decided where it lands, among the order's other events, and never
        here. A crash between the send and the acknowledgement sends it on twice: the second is a repeated
        event id, a no-op. It arrives later than its neighbours on that partition, so it may be older than
        that partition's clock: it is still applied, but a deadline the clock passed meanwhile has fired
        (docs/reliability.md, "Misrouted events")."""
        msg = record.message
        headers = [(k, v) for k, v in _header_items(msg.headers) if k != "postsale.rerouted-from"]
        headers.append(("postsale.rerouted-from", str(msg.partition).encode()))
        sent = await self._produce(msg.topic, msg.key, msg.value, home, headers, msg.timestamp)
        batch.in_flight.append(sent)
        batch.acks.append(record)

    async def _dead_letter(self, record: EventT[Any], batch: Batch, reason: str, detail: str) -> None:
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
        sent = await self._produce(self.rt.settings.topic_dead_letter, msg.key, value, None, headers)
        batch.in_flight.append(sent)
        batch.dead_letters.append((source, reason))  # counted and remembered once the broker has it (flush)
        batch.acks.append(record)

    # --- deciding -------------------------------------------------------------------------------------------------

    async def _release(self, partition: int, batch: Batch) -> None:
        aligner = self.rt.aligner(partition)
        wall = self.rt.clock.now() if self.rt.clock is not None else None
        before = aligner.clock
        ready, clock = aligner.release(self._lagging(partition), wall, time.monotonic())
        if before is not None:
            for inbound in ready:
                if inbound.event.occurred_at < before:
                    self._late(inbound, before)
        if self.rt.log.isEnabledFor(10):
            self.rt.log.debug(
                "partition %d: released %d, held %d, clock %s, progress %s",
                partition,
                len(ready),
                len(aligner),
                clock,
                {t: (p.last_offset, p.last_time) for t, p in aligner.progress.items()},
            )
        for inbound in ready:
            await self._apply(partition, inbound, batch)
        self.rt.metrics.held_events.labels(partition=str(partition)).set(len(aligner))
        if clock is not None:
            await self._fire(partition, clock, batch)

    def _late(self, inbound: Inbound, clock: datetime) -> None:
        """An event older than its partition's clock: deadlines it might have settled may have fired already."""
        msg = inbound.record.message
        self.rt.metrics.late_events.labels(topic=msg.topic).inc()
        self.rt.log.warning(
            "late event %s[%d]@%d: occurred %s, partition clock already at %s",
            msg.topic,
            msg.partition,
            msg.offset,
            inbound.event.occurred_at.isoformat(),
            clock.isoformat(),
        )

    def _state(self, order_id: str, batch: Batch) -> OrderState | None:
        """The order's state as this batch has decided it so far, else as stored."""
        if order_id in batch.working:
            return batch.working[order_id]
        raw = self.rt.orders.get(order_id)
        state = decode_state(raw) if raw is not None else None
        batch.working[order_id] = state
        if raw is not None:
            batch.in_table.add(order_id)
        return state

    async def _apply(self, partition: int, inbound: Inbound, batch: Batch) -> None:
        event = inbound.event
        await self.fence.hold(batch.ticket)
        state = self._state(event.order_id, batch)
        try:
            decision = handle_event(state, event, self.rt.policy)
        except Exception as exc:  # noqa: BLE001 - one poison event must not stop the partition
            # The class name only: a message could quote the event's data.
            self.rt.log.exception("rules failed on event %s of order %s", event.event_id, event.order_id)
            await self._dead_letter(inbound.record, batch, "rule_error", f"the rules raised {type(exc).__name__}")
            return
        topic = inbound.record.message.topic
        if decision.duplicate:
            self.rt.metrics.duplicate_events.labels(topic=topic).inc()
        if decision.rejected is not None and not decision.retired:
            await self._dead_letter(inbound.record, batch, "unknown_order", decision.rejected)
            return
        await self._decide(partition, event.order_id, state, decision, batch)
        batch.received.append(inbound.received)
        batch.acks.append(inbound.record)

    async def _fire(self, partition: int, now: datetime, batch: Batch) -> None:
        idx = self.rt.index(partition)
        for order_id in list(idx.pop_due(now)):
            await self.fence.hold(batch.ticket)
            state = self._state(order_id, batch)
            if state is None:
                continue
            try:
                decision = advance(state, now, self.rt.policy)
            except Exception as exc:  # noqa: BLE001 - a deadline that cannot be decided waits for a person
                self.rt.log.error("rules failed on a deadline of order %s: %s", order_id, type(exc).__name__)
                self.rt.metrics.rule_errors.inc()
                continue  # out of the index until the order's next event; its state is unchanged
            for d in state.deadlines:
                if d.due < now and d.rule != "retire":
                    self.rt.metrics.deadlines_fired.labels(rule=d.rule).inc()
            await self._decide(partition, order_id, state, decision, batch)

    async def _decide(
        self, partition: int, order_id: str, before: OrderState | None, decision: Decision, batch: Batch
    ) -> None:
        """Send the decision's actions (not waiting: `flush` waits for the whole batch) and take its state as
        the order's working state. The deadline index, store totals and stages follow at once, so that later
        records of the batch see them; a dropped batch rebuilds them from the table (`_drop`)."""
        for action in decision.actions:
            batch.in_flight.append(await self._send_action(partition, action))
        batch.actions.extend(decision.actions)
        if decision.state is before:
            return
        batch.decided(partition, order_id, decision.state)
        self.rt.totals(partition).apply(before, decision.state)
        stages = self.stages.setdefault(partition, Counter())
        if before is not None:
            stages[before.stage] -= 1
        if decision.state is not None:
            stages[decision.state.stage] += 1
        self.rt.index(partition).set(order_id, next_due(decision.state) if decision.state is not None else None)

    async def _send_action(self, partition: int, action: Action) -> Awaitable[Any]:
        # The order's partition, as the key would hash (the actions topic has the input topics' partitions).
        return await self._produce(self.actions_topic, action.order_id.encode(), dump_action(action), partition)

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

    def _count(self, actions: Sequence[Action]) -> None:
        m = self.rt.metrics
        for (type_, rule), n in Counter((a.type, a.rule) for a in actions).items():
            m.actions_emitted.labels(type=type_, rule=rule).inc(n)
        for a in actions:
            if a.type in CUSTOMER_MONEY and a.party is not None:
                store = self.rt.metrics.store_label(a.store_id, self.known_stores) or "other"
                m.refunds.labels(party=a.party, currency=a.currency or "none", store=store).inc()
                if a.amount is not None:
                    m.refund_amount.labels(party=a.party, currency=a.currency or "none", store=store).inc(
                        float(a.amount)
                    )

    def export_gauges(self) -> None:
        """Gauges that are sums over this worker's partitions; Prometheus sums them over workers."""
        m = self.rt.metrics
        m.set_open_orders(sum(self.stages.values(), Counter()))
        clocks = [a.clock for a in self.rt.aligners.values() if a.clock is not None]
        # Overdue against the live clock; on the events clock, against the furthest partition's clock.
        now = self.rt.clock.now() if self.rt.clock is not None else max(clocks, default=None)
        pending = sum(len(idx) for idx in self.rt.deadlines.values())
        if now is None:
            m.deadlines_pending.set(pending)
        else:
            m.set_deadline_backlog(pending, (d for idx in self.rt.deadlines.values() for d in idx.overdue(now)), now)
        if not clocks:
            return
        # Clock lag in wall seconds: behind the live clock, or on the events clock behind the most advanced partition.
        speed = self.rt.clock.speed if self.rt.clock is not None else 1.0
        for partition, aligner in self.rt.aligners.items():
            if aligner.clock is not None and now is not None:
                lag = (now - aligner.clock).total_seconds() / speed
                m.clock_lag.labels(partition=str(partition)).set(max(lag, 0.0))
        today = max(clocks).astimezone(UTC).date()
        th = self.rt.policy.defaults
        stores: set[str] = set()
        for totals in self.rt.store_totals.values():
            stores.update(totals.stores())
        for store in sorted(stores):
            label = m.store_label(store, self.known_stores)
            if label is None:
                continue
            points = orders = disputes = 0
            for totals in self.rt.store_totals.values():
                ledger = totals.ledger(store, today, th.dispute_rate_window_days, th.penalty_points_alert_at, 0.05)
                points += ledger.penalty_points
                orders += ledger.orders_in_window()
                disputes += ledger.disputes_in_window()
            m.store_penalty_points.labels(store=label).set(points)
            m.store_orders_in_window.labels(store=label).set(orders)
            m.store_disputes_in_window.labels(store=label).set(disputes)


def _where(record: EventT[Any]) -> tuple[str, int, int]:
    msg = record.message
    return msg.topic, msg.partition, msg.offset


def _logical_topic(rt: Runtime, topic: str) -> str:
    s = rt.settings
    return {s.topic_orders: "orders", s.topic_shipments: "shipments", s.topic_disputes: "disputes"}.get(topic, topic)


def _header_items(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(k), bytes(v) if v is not None else b"") for k, v in items]
