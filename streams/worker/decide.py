"""Deciding: a partition's aligned events and due deadlines through the rules, on the batch's working states.

`release` asks the partition's aligner which held events are safe to decide (every topic has caught up or
shown a later event) and what the partition's clock is; each event goes to `rules.engine.handle_event`, then
every deadline the clock has passed goes to `rules.engine.advance`. The decisions' actions are sent through
the outbox at once; their states stay in the batch until it settles. The fence is passed before every
decision: a worker decides only for partitions it provably still owns (`streams.kafka.fencing`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from faust.types import TP

from models.events import OrderPlaced
from models.state import OrderState
from rules.engine import Decision, advance, handle_event
from rules.intake import UNPLACED, refusal, unplaced_deadline
from streams.kafka.fencing import Fence
from streams.kafka.partitioning import partition_for
from streams.orders import OpenOrders, micros
from streams.worker.codec import decode_state
from streams.worker.intake import Inbound
from streams.worker.outbox import Outbox
from streams.worker.runtime import Runtime
from streams.worker.settle import Batch


class Decider:
    def __init__(self, rt: Runtime, outbox: Outbox, fence: Fence) -> None:
        self.rt = rt
        self.outbox = outbox
        self.fence = fence
        self.partitions = rt.settings.partitions

    def load_books(self, partition: int) -> None:
        """Rebuild a partition's books (deadline index, totals, stages) from the orders table after it was
        (re)assigned. Once per assignment, proportional to the open orders of the partition; firing afterwards
        costs what is due."""
        state = self.rt.partition(partition)
        if state.books_loaded:
            return
        books = state.books = OpenOrders()
        for key, raw in self.rt.orders.items():
            if raw is None or partition_for(key.encode(), self.partitions) != partition:
                continue
            books.load(key, decode_state(raw))
        state.books_loaded = True

    def _lagging(self, partition: int) -> Callable[[str, int], bool]:
        consumer = self.rt.app.consumer

        def lagging(topic: str, last_offset: int) -> bool:
            tp = TP(topic, partition)
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not assigned (a rebalance under way): nothing is known
                # In a consumer group, unknown is behind: the clock holds. Counting it as caught up let the clock
                # jump to the latest time seen in the middle of a rebalance and fire deadlines of unread events.
                # Outside a group (Faust's test context) there is no broker to be behind.
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

    async def release(self, partition: int, batch: Batch) -> None:
        """Decide what the partition's aligner releases, then fire the deadlines its clock has passed."""
        aligner = self.rt.partition(partition).aligner
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
            await self._unplaced_expired(partition, clock, batch)
            await self._fire(partition, clock, batch)

    async def _unplaced_expired(self, partition: int, clock: datetime, batch: Batch) -> None:
        """Records whose order was not placed within the policy's grace: dead-lettered (and acknowledged)."""
        hours = self.rt.policy.intake.unplaced_grace_hours
        for inbound in self.rt.partition(partition).unplaced.expire(micros(clock)):
            detail = f"{UNPLACED}: no order.placed within {hours:g} h of its time"
            await self.outbox.dead_letter(inbound.record, batch, "unknown_order", detail)

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
        intake = self.rt.policy.intake
        if refusal(event.occurred_at, state.placed_at if state is not None else None, None, intake) is not None:
            hours = intake.before_placement_tolerance_hours
            detail = f"occurred_at is more than {hours:g} h before the order was placed"
            await self.outbox.dead_letter(inbound.record, batch, "before_placement", detail)
            return
        if state is None and not isinstance(event, OrderPlaced):
            # Waits, unacknowledged (a crash or a rebalance delivers it again), for its order.placed.
            due = unplaced_deadline(event.occurred_at, intake)
            self.rt.partition(partition).unplaced.hold(event.order_id, micros(event.occurred_at), micros(due), inbound)
            return
        try:
            decision = handle_event(state, event, self.rt.policy)
        except Exception as exc:  # noqa: BLE001 - one poison event must not stop the partition
            # The class name and ids only: an exception's message could quote the event's data.
            self.rt.log.error(
                "rules failed on event %s of order %s: %s", event.event_id, event.order_id, type(exc).__name__
            )
            await self.outbox.dead_letter(inbound.record, batch, "rule_error", f"the rules raised {type(exc).__name__}")
            return
        topic = inbound.record.message.topic
        if decision.duplicate:
            self.rt.metrics.duplicate_events.labels(topic=topic).inc()
        if decision.rejected is not None and not decision.retired:
            await self.outbox.dead_letter(inbound.record, batch, "unknown_order", decision.rejected)
            return
        await self._decide(partition, event.order_id, state, decision, batch)
        batch.received.append(inbound.received)
        batch.acks.append(inbound.record)
        if state is None and decision.state is not None:  # just placed: what waited for it, earliest first
            for waiting in self.rt.partition(partition).unplaced.release(event.order_id):
                await self._apply(partition, waiting, batch)

    async def _fire(self, partition: int, now: datetime, batch: Batch) -> None:
        books = self.rt.partition(partition).books
        for order_id in list(books.index.pop_due(now)):
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
        """Send the decision's actions (not waiting: the batch waits for all of them when it settles) and take its
        state as the order's working state. The partition's books follow at once, so that later records of the
        batch see them; a batch overtaken by a rebalance drops them and they are rebuilt from the table."""
        for action in decision.actions:
            await self.outbox.action(partition, action, batch)
        batch.actions.extend(decision.actions)
        if decision.state is before:
            return
        batch.decided(partition, order_id, decision.state)
        self.rt.partition(partition).books.record(order_id, before, decision.state, indexed=False)
