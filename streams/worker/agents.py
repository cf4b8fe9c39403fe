"""The order agent: one loop, intake → align and decide → settle, over the input and tick topics.

Records reach the loop one fetch at a time (`BatchDelivery`: the consumer hands over everything it fetched for
the input and tick topics in one call, `streams/kafka/faust_fixes.py`), or with `delivery: stream` one by one
through a Faust agent's stream. Each record is taken into the current batch (`intake`: decoded, dead-lettered,
rerouted, or held for alignment). When the fetch is taken (or nothing more is waiting in the agent's queue), or
the batch is full, each partition the batch touched releases what is aligned and fires what is due (`decide`),
and the batch settles (`settle`): the broker acknowledges every action, then the states are stored, then the
records are acknowledged. A worker that keeps up therefore adds no batching delay.

A timer sends a tick to each owned partition so that time reaches the agent as a message (a table can only
be written inside stream iteration); partitions assigned or revoked are forgotten (`Runtime.forget`).
"""

from __future__ import annotations

import time
from typing import Any

from faust.types import TP, EventT

from streams.kafka.fencing import Fence, Overtaken
from streams.worker.decide import Decider
from streams.worker.gauges import export_gauges
from streams.worker.intake import Intake
from streams.worker.outbox import Outbox
from streams.worker.runtime import Runtime
from streams.worker.settle import Batch, Settler, as_current

FENCE_WATCH_SECONDS = 0.25
# How often the end offsets of the partitions other workers read are fetched: what a partition's clock may pass
# waits for the next look (streams.worker.decide, `refresh_remote`).
REMOTE_LOOK_SECONDS = 0.25


class OrderLoop:
    """The agent's body: owns the current batch and hands it from stage to stage."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.fence = Fence(rt.app, getattr(rt.app, "group_lease", None), rt.metrics)
        outbox = self.outbox = Outbox(rt)
        self.intake = Intake(rt, outbox)
        self.decider = Decider(rt, outbox, self.fence)
        s = rt.settings
        self.settler = Settler(
            rt.orders,
            rt.metrics,
            self.fence,
            outbox.remember_dead_letters,
            rt.known_stores,
            kept=lambda partition: state.kept if (state := rt.partitions.get(partition)) is not None else None,
            keep_per_partition=s.orders_kept_in_memory // max(1, s.partitions),
        )
        self.batch: Batch | None = None  # taken in, not yet settled
        self.batch_max = rt.settings.batch_max_records

    async def take(self, record: EventT[Any]) -> None:
        """Take `record` into the current batch; it is decided, and its effects settled, in `flush`."""
        ticket = self.fence.ticket()
        if not self.fence.flowing():
            # Fetched before a rebalance: unacknowledged, read again after the rebalance's seek (fencing.py).
            self.rt.metrics.fenced_records.inc()
            msg = record.message
            where = (msg.topic, msg.partition, msg.offset)
            self.rt.log.info("record %s[%d]@%d left for the next owner: flow suspended", *where)
            self.rt.left_unacked.append(record)
            return
        batch = self.batch
        if batch is not None and batch.ticket != ticket:
            self.drop(batch, "overtaken by a rebalance")
            batch = None
        if batch is None:
            batch = self.batch = Batch(ticket)
        batch.saw(record)
        self.decider.load_books(record.message.partition)
        await self.intake.take(record, batch)

    def full(self) -> bool:
        return self.batch is not None and self.batch.records >= self.batch_max

    async def flush(self) -> None:
        """Decide what the batch released, wait for the broker to have every send, then store and acknowledge."""
        batch = self.batch
        if batch is None:
            return
        try:
            # Released once per partition per batch: the watermark is then computed on everything fetched. The
            # partition's orders are read as one of its own records (RocksDB reads the current event's partition).
            for partition in sorted(batch.writer):
                with as_current(batch.writer[partition]):
                    await self.decider.release(partition, batch)
            self.batch = None
            await self.settler.confirm(batch)
        except Overtaken:
            self.drop(batch, "overtaken by a rebalance")
            return
        self.settler.store(batch)

    def drop(self, batch: Batch, why: str) -> None:
        """Store and acknowledge nothing of `batch`: its records are read again after the rebalance's seek, by
        this worker or the partition's next owner, and decided again under the same action ids. What this
        worker derived from the batch's decisions (books, held events) is rebuilt from the table."""
        if self.batch is batch:
            self.batch = None
        self.rt.left_unacked.append(batch)
        self.rt.metrics.fenced_records.inc(batch.records)
        self.rt.log.info("%d record(s) left for the next owner: %s", batch.records, why)
        for partition in batch.writer:
            self.rt.forget(partition)


class BatchDelivery:
    """What the consumer calls with each fetch of the input and tick topics (`app.deliver_batch`): every record is
    taken, in the order a stream would have seen them (Faust's round robin over topics and partitions), then the
    batch is decided and settled before the next fetch is handed over. Records fetched before a rebalance never
    get here (the consumer checks the generation); those of a batch the rebalance overtakes stay unacknowledged
    (`OrderLoop.drop`)."""

    def __init__(self, loop: OrderLoop, topics: frozenset[str]) -> None:
        self.loop = loop
        self.topics = topics

    async def __call__(self, fetched: list[Any]) -> None:
        loop = self.loop
        take = loop.take
        for record in fetched:
            # Each record is the current event while it is taken, as in a stream: what is read from the table
            # meanwhile is read in its partition.
            with as_current(record):
                await take(record)
                if loop.full():
                    await loop.flush()
        await loop.flush()


def install(rt: Runtime) -> None:
    s = rt.settings
    app = rt.app
    ticks = rt.topics[s.topic_ticks]
    channel = app.topic(*s.input_topics, s.topic_ticks, key_type=bytes, value_type=bytes)
    loop = OrderLoop(rt)

    @app.agent(channel, name="postsale-orders")
    async def orders(stream: Any) -> None:
        waiting = stream.channel.queue  # records Faust has fetched for this agent and not yet handed over
        async for record in stream.noack().events():
            await loop.take(record)
            if waiting.empty() or loop.full():
                await loop.flush()

    @app.timer(interval=s.tick_interval_seconds)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        """Time flows through the agents as messages: one tick per owned partition per interval."""
        for tp in app.assignor.assigned_actives():
            if tp.topic == s.topic_ticks:
                await ticks.send(key=b"tick", value=b"{}", partition=tp.partition)
        if rt.routing.reroutes and loop.fence.grouped:
            # Misplaced records would be sent on: tell every partition how far ours have been read, so that the
            # other workers' clocks wait for what we have not read yet (streams.worker.decide, `_cap`).
            decider = loop.decider
            await loop.outbox.announce_frontiers(decider.frontiers(time.monotonic()), progress=decider.progress())
        export_gauges(rt)

    @app.timer(interval=REMOTE_LOOK_SECONDS)  # type: ignore[untyped-decorator]
    async def look_at_other_partitions() -> None:
        """How far each partition's clock may go while other workers have records they have not read."""
        await loop.decider.refresh_remote()

    @app.timer(interval=FENCE_WATCH_SECONDS)  # type: ignore[untyped-decorator]
    async def watch_fence() -> None:
        """Say when the group coordinator is lost and deciding stops or resumes, even with nothing to decide."""
        loop.fence.watch()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(_app: Any, revoked: set[TP], **_: Any) -> None:
        for tp in revoked:
            if tp.topic in s.input_topics:
                rt.forget(tp.partition)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(_app: Any, assigned: set[TP], **_: Any) -> None:
        rt.left_unacked.clear()  # the seek that ends this rebalance reads them again, as new records
        # Every partition state goes: those assigned are rebuilt from the table, and one made meanwhile for a
        # partition that is not ours (a record or a timer during the rebalance) must not outlive it.
        for partition in set(rt.partitions) | {tp.partition for tp in assigned if tp.topic in s.input_topics}:
            rt.forget(partition)

    rt.order_agent = orders  # type: ignore[attr-defined]
    if s.delivery == "batch":
        # The agent stays (Faust subscribes to its topics and assigns their partitions), but the consumer hands
        # its records over a fetch at a time: none reaches the agent's stream.
        app.deliver_batch = BatchDelivery(loop, frozenset((*s.input_topics, s.topic_ticks)))  # type: ignore[attr-defined]
