"""Deciding: a partition's aligned events and due deadlines through the rules, on the batch's working states.

`release` asks the partition's aligner which held events are safe to decide (every topic has caught up or
shown a later event) and what the partition's clock is; each event goes to `rules.engine.handle_event`, then
every deadline the clock has passed goes to `rules.engine.advance`. The decisions' actions are sent through
the outbox at once; their states stay in the batch until it settles. The fence is passed before every
decision: a worker decides only for partitions it provably still owns (`streams.kafka.fencing`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from faust.types import TP, EventT

from models.events import OrderPlaced
from models.state import OrderState
from rules.engine import Decision, advance, handle_event
from rules.intake import UNPLACED, refusal, unplaced_deadline
from streams.kafka.fencing import Fence
from streams.orders import OpenOrders, micros
from streams.worker.alignment import NEVER
from streams.worker.codec import decode_state
from streams.worker.intake import Inbound
from streams.worker.outbox import Outbox
from streams.worker.runtime import Frontier, PartitionState, Runtime
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
        routing = self.rt.routing
        if state.books_loaded or not routing.deciding:
            return  # auto has not settled yet: the orders' partitions are not known
        books = state.books = OpenOrders()
        for key, raw in self.rt.orders.items():
            if raw is None or routing.home(key.encode()) != partition:
                continue
            books.load(key, decode_state(raw))
        state.books_loaded = True

    def _lagging(self, partition: int, measure: bool = True) -> Callable[[str, int], bool]:
        consumer = self.rt.app.consumer
        # On the events clock, a topic read to its highwater counts as caught up only once a fetch answered after
        # its last record was taken: the highwater of a partition whose fetched records were still being handed
        # over is older than the records of other topics fetched meanwhile, and a clock moved on it would fire
        # deadlines that records already on the broker settle. On the live clock time is the wall's anyway.
        answered_at = getattr(consumer, "answered_at", None) if self.rt.clock is None else None
        state = self.rt.partitions.get(partition)
        taken_at = state.taken_at if state is not None else {}

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
            if measure:
                self.rt.metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(max(lag, 0))
            if lag > 0:
                return True
            if answered_at is not None and (taken := taken_at.get(topic)) is not None:
                answered = answered_at(tp)
                return answered is None or answered <= taken
            return False

        return lagging

    async def release(self, partition: int, batch: Batch) -> None:
        """Decide what the partition's aligner releases, then fire the deadlines its clock has passed."""
        state = self.rt.partition(partition)
        aligner = state.aligner
        routing = self.rt.routing
        if routing.doubted and not routing.confirmed and routing.refusal is None:
            routing.weigh(self._caught_up_topics())
        if not routing.deciding:
            # Refusing (or auto not settled): nothing is decided or acknowledged; held events stay held.
            self.rt.metrics.held_events.labels(partition=str(partition)).set(len(aligner))
            return
        self.load_books(partition)
        wall = self.rt.clock.now() if self.rt.clock is not None else None
        before = aligner.clock
        mono = time.monotonic()
        ready, clock = aligner.release(self._lagging(partition), wall, mono, self._cap(partition, batch, mono))
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
            if state.pending_ticks:
                # A tick is acknowledged with the batch that stores what the deadlines up to its time decided.
                batch.acks.extend(record for at, record in state.pending_ticks if at <= clock)
                state.pending_ticks[:] = [(at, record) for at, record in state.pending_ticks if at > clock]

    async def _unplaced_expired(self, partition: int, clock: datetime, batch: Batch) -> None:
        """Records whose order was not placed within the policy's grace: dead-lettered (and acknowledged)."""
        hours = self.rt.policy.intake.unplaced_grace_hours
        for inbound in self.rt.partition(partition).unplaced.expire(micros(clock)):
            detail = f"{UNPLACED}: no order.placed within {hours:g} h of its time"
            await self.outbox.dead_letter(inbound.record, batch, "unknown_order", detail)

    def _cap(self, partition: int, batch: Batch, mono: float) -> datetime | None:
        """The earliest time an event of this partition may still come from elsewhere: copies announced in
        flight (each for at most `reroute_grace_seconds`), and while a partition of this worker still has
        misplaced records to read, how far it has read (copies from it will be no older). None: no bound.

        Only when misplaced records are sent on; otherwise nothing comes from elsewhere."""
        if not self.rt.routing.reroutes:
            return None
        state = self.rt.partition(partition)
        expired, notices = state.holds.expire(mono)
        if expired:
            self.rt.metrics.reroute_grace_expired.inc(expired)
            self.rt.log.warning(
                "partition %d: %d cop(ies) of misplaced events not arrived within %.1f s: the clock goes on",
                partition,
                expired,
                self.rt.settings.reroute_grace_seconds,
            )
        batch.acks.extend(cast(list[EventT[Any]], notices))
        self.rt.metrics.reroute_holds.set(sum(len(p.holds) for p in self.rt.partitions.values()))
        if not state.ticks_read:
            # Notices of copies in flight wait on the ticks partition, unacknowledged, across a restart: the
            # clock moves only once they have been read.
            if self._lagging(partition, measure=False)(self.rt.settings.topic_ticks, state.ticks_offset):
                return NEVER
            state.ticks_read = True
        cap = state.holds.cap()
        # Notices with offsets are weighed against the end offsets by `refresh_remote` (`remote_cap` below).
        marks = [f.at for f in self._remote_frontiers(state, batch, mono) if not f.read]
        routing = self.rt.routing
        marks += [w.at for w in routing.waiting]  # copies not sent yet: their home is any partition
        local = self.frontiers(mono)
        for source, mark in local.items():
            # Once misplaced records were seen, any partition may send copies. Before, only one that has not yet
            # caught up since its assignment may: it is what a restarted worker has not read again yet.
            if source != partition and (routing.copies or not self.rt.partitions[source].caught_up):
                marks.append(mark)
        if self.fence.grouped:
            # Other workers' partitions may hold misplaced records they have not even fetched yet: how far the
            # clock may go was set by the last look at their end offsets against what they said they had read.
            marks.append(state.remote_cap)
        for mark in marks:
            if mark is not None and (cap is None or mark < cap):
                cap = mark
        return cap

    def frontiers(self, mono: float) -> dict[int, datetime | None]:
        """How far each partition of this worker has been read: copies it sends on from now will be no older
        (its alignment watermark, which assumes each topic's records come in event-time order). None: no
        bound (caught up)."""
        out: dict[int, datetime | None] = {}
        for source in self._owned():
            other = self.rt.partition(source)  # owned, nothing read yet: it holds back as far as it is behind
            mark = out[source] = other.aligner.watermark(self._lagging(source, measure=False), mono)
            if mark is None:
                other.caught_up = True
        return out

    def progress(self) -> dict[int, dict[str, Any]]:
        """What `frontiers` is made of, per partition of this worker, for the other workers: per input topic the
        next offset it will read and the event time of the last record it read (`Frontier.bound`)."""
        out: dict[int, dict[str, Any]] = {}
        committed = self.rt.app.consumer._committed_offset  # type: ignore[attr-defined]  # noqa: SLF001
        owned = self._owned()
        for source, state in list(self.rt.partitions.items()):
            if source not in owned:
                continue  # taken away by a rebalance under way: its next owner speaks for it
            read: dict[str, int] = {}
            times: dict[str, str | None] = {}
            for topic, p in state.aligner.progress.items():
                # Nothing read since the assignment: everything before the committed offset was processed.
                read[topic] = p.last_offset + 1 if p.last_offset >= 0 else committed.get(TP(topic, source)) or 0
                times[topic] = None if p.last_time is None else p.last_time.isoformat()
            out[source] = {"read": read, "times": times}
        return out

    async def refresh_remote(self) -> None:
        """Set each partition's `remote_cap`: how far its clock may go, as far as the partitions other workers
        read can tell. Their end offsets are fetched from the broker and set against what those workers last
        said they had read (`Frontier.bound`); a partition not heard from holds everything for the first
        `reroute_grace_seconds` of ours. What each of ours had read before the fetch began caps it too: a
        record read after it may have been produced after records the fetch did not see."""
        rt = self.rt
        if not (rt.routing.reroutes and self.fence.grouped):
            for state in rt.partitions.values():
                state.remote_cap = None
            return
        others = sorted(set(range(self.partitions)) - self._owned())
        reach: dict[int, tuple[PartitionState, datetime | None]] = {}
        wall = rt.clock.now() if rt.clock is not None else None
        for partition, state in list(rt.partitions.items()):
            high = state.read_high
            if wall is not None and (high is None or wall > high):
                high = wall  # live time: the clock is at most the wall's
            reach[partition] = (state, high)
        if not others:
            for state, _ in reach.values():
                state.remote_cap = None
            return
        topics = rt.settings.input_topics
        try:
            # Bounded: the consumer's thread runs one call at a time, and one waiting on a broker that does not
            # answer would keep every cap where it was for as long.
            looked = rt.app.consumer.highwaters(*(TP(t, s) for t in topics for s in others))
            ends = await asyncio.wait_for(looked, timeout=rt.settings.reroute_grace_seconds)
        except Exception as exc:  # noqa: BLE001 - the broker did not answer: the caps stay where they were
            rt.log.info("end offsets of other workers' partitions not fetched: %s", exc)
            return
        mono = time.monotonic()
        lateness = timedelta(seconds=rt.settings.allowed_lateness_seconds)
        grace = rt.settings.reroute_grace_seconds
        by_source = {s: {t: int(ends[TP(t, s)]) for t in topics if TP(t, s) in ends} for s in others}
        for partition, (state, high) in reach.items():
            if rt.partitions.get(partition) is not state:
                continue  # forgotten meanwhile
            cap = NEVER if high is None else high
            for source in others:
                told = state.frontiers.get(source)
                if told is None or told.expires <= mono:
                    if mono < state.born + grace:
                        cap = NEVER  # not heard from yet: it may be reading misplaced records
                    continue  # silent longer than the grace: its worker is gone, the clock goes on
                mark = told.bound(by_source[source], lateness)
                if mark is not None and mark < cap:
                    cap = mark
            state.remote_cap = cap

    def _caught_up_topics(self) -> set[str]:
        """Input topics read to their end on every partition of this worker."""
        owned = self._owned()
        lagging = {p: self._lagging(p, measure=False) for p in self.rt.partitions if p in owned}
        return {
            topic
            for topic in self.rt.settings.input_topics
            if not any(
                lag(topic, self.rt.partitions[p].aligner.progress[topic].last_offset) for p, lag in lagging.items()
            )
        }

    def _owned(self) -> set[int]:
        """The input partitions this worker is assigned (none outside a consumer group)."""
        return self.rt.owned()

    def _remote_frontiers(self, state: PartitionState, batch: Batch, mono: float) -> list[Frontier]:
        """The other workers' frontiers this partition was told of, still fresh; stale ones (their worker
        silent for `reroute_grace_seconds`) are let go."""
        for source in [s for s, f in state.frontiers.items() if f.expires <= mono or s in self.rt.partitions]:
            batch.acks.append(state.frontiers.pop(source).notice)
        return list(state.frontiers.values())

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

    def _state(self, partition: int, order_id: str, batch: Batch) -> OrderState | None:
        """The order's state as this batch has decided it so far, else as stored (kept in memory, or read)."""
        if order_id in batch.working:
            return batch.working[order_id]
        kept = self.rt.partition(partition).kept.get(order_id)
        if kept is not None:
            batch.working[order_id] = kept
            batch.in_table.add(order_id)
            return kept  # type: ignore[no-any-return]
        raw = self.rt.orders.get(order_id)
        state = decode_state(raw) if raw is not None else None
        batch.working[order_id] = state
        if raw is not None:
            batch.in_table.add(order_id)
        return state

    async def _apply(self, partition: int, inbound: Inbound, batch: Batch) -> None:
        event = inbound.event
        await self.fence.hold(batch.ticket)
        # The notices of a copy are acknowledged with it, however it ends (decided, repeated, dead-lettered).
        inbound.settled = True
        batch.acks.extend(inbound.also_ack)
        state = self._state(partition, event.order_id, batch)
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
            state = self._state(partition, order_id, batch)
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
