"""Fixes to Faust, kept small and in one place so they can go upstream (faust-streaming 0.15.x).

1. Recovery and the broker's ListOffsets answer (below).
2. Commits past a held message (`HeldHeadConsumer._new_offset`).
3. Records lost at a rebalance when nothing was committed yet (`HeldHeadConsumer.seek_to_committed`).
4. Input records processed before the seek that ends recovery (`HeldHeadConsumer.on_partitions_assigned`).
5. No fencing of a worker that lost its session (`LeaseKeepingListener`, `PostsaleApp.on_rebalance_start`;
   the gate itself is `streams/fencing.py`).

Table recovery trusts the broker's ListOffsets(LATEST) answer as the end of a
changelog. Some Kafka-protocol brokers answer "base offset of the last record
batch + 1" instead of the log end (Tansu 0.6, measured: batches of 3, 1 and 10
records → 5, not 14). Faust then stops restoring a table short of its last
writes (memory store), or refuses to start because the offset RocksDB
persisted is "higher than the highwater" (ConsistencyError). The fetch
response's high watermark is right on every broker, so recovery here asks for
it: it reads from the reported end and keeps the larger of the two. On a
correct broker the two agree and this costs one empty fetch per changelog
partition at recovery.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import Consumer as AiokafkaConsumer
from faust.transport.drivers.aiokafka import ConsumerRebalanceListener, credentials_to_aiokafka_auth
from faust.transport.drivers.aiokafka import Transport as AiokafkaTransport
from faust.types import TP

from streams.fencing import GroupLease

PINNED_FAUST = "0.15."


def bootstrap_of(app: Any) -> list[str]:
    return [f"{url.host}:{url.port or 9092}" for url in app.conf.broker]


async def fetched_log_ends(app: Any, starts: Mapping[TP, int], timeout_s: float = 5.0) -> dict[TP, int]:
    """Log end offsets of `starts`' partitions, from fetch responses beginning at the given offsets."""
    if not starts:
        return {}
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_of(app), enable_auto_commit=False, group_id=None, fetch_max_wait_ms=200, **auth
    )
    await consumer.start()
    try:
        tps = {tp: TopicPartition(tp.topic, tp.partition) for tp in starts}
        consumer.assign(list(tps.values()))
        for tp, start in starts.items():
            consumer.seek(tps[tp], max(start, 0))
        ends: dict[TP, int] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(ends) < len(tps) and loop.time() < deadline:
            await consumer.getmany(timeout_ms=300, max_records=1)
            for tp, ktp in tps.items():
                hw = consumer.highwater(ktp)
                if hw is not None:
                    ends[tp] = hw
        return ends
    finally:
        await consumer.stop()


class FetchCheckedRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        with _seeking_streams(self.app.consumer):
            await super().on_recovery_completed(generation_id)

    async def _resume_streams(self, generation_id: int = 0) -> None:
        with _seeking_streams(self.app.consumer):
            await super()._resume_streams(generation_id)

    async def _build_highwaters(self, consumer: Any, tps: set[TP], destination: Counter[TP], title: str) -> None:
        await super()._build_highwaters(consumer, tps, destination, title)
        reported = {tp: destination[tp] + 1 for tp in tps}
        for tp, end in (await fetched_log_ends(self.app, reported)).items():
            if end - 1 > destination[tp]:
                self.log.info("changelog %s ends at %d, not %d as ListOffsets said", tp, end, reported[tp])
                destination[tp] = end - 1


class PostsaleTableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = FetchCheckedRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class LeaseKeepingListener(ConsumerRebalanceListener):
    """Attach the app's group lease to the coordinator before the first join (and after any re-creation)."""

    def on_partitions_revoked(self, revoked: Any) -> Any:
        lease = getattr(self._thread.app, "group_lease", None)
        if lease is not None:
            lease.attach(self._thread._ensure_consumer()._coordinator)  # noqa: SLF001
        return super().on_partitions_revoked(revoked)


class HeldHeadConsumer(AiokafkaConsumer):
    """Never commit past a message that is still being processed.

    Faust commits the first run of consecutive acknowledged offsets. When the
    partition has no committed offset yet (a new consumer group, or offset 0),
    it does not notice that the run starts after a message still unacknowledged
    (`Consumer._new_offset`: `if committed_offset:` is false for None and 0),
    and commits past it. postsale holds messages unacknowledged on purpose
    (event-time alignment), so such a commit would lose them on a rebalance or
    a crash. Here the lowest unacknowledged offset of the partition bounds the
    commit.
    """

    RebalanceListener = LeaseKeepingListener
    seeking_streams = False
    _held_back: frozenset[TP] = frozenset()

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        """Keep the input partitions from fetching until recovery has sought them to their committed offsets.

        Faust makes every assigned partition active here, pauses them a few awaits later, resumes the input
        partitions at the end of recovery and only then seeks them back to the committed offsets. Records
        fetched in those windows reached the agent before the seek (measured: every partition read to its end
        during recovery, then read again from the committed offset, with the clock already at the end: deadlines
        fired before the events that settle them). Here they stay paused until the seek is done."""
        self._held_back = frozenset(tp for tp in assigned if not self._is_changelog_tp(tp))
        self._paused_partitions.update(self._held_back)
        await super().on_partitions_assigned(assigned, generation_id)

    def resume_partitions(self, tps: Any) -> None:
        tpset = set(tps)
        super().resume_partitions(tpset - self._held_back)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        if self.seeking_streams and self._held_back:
            held, self._held_back = self._held_back, frozenset()
            super().resume_partitions(held & self.assignment())

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if acked:
            pending = [m.offset for m in self._unacked_messages if m.tp == tp and not m.acked]
            if pending and min(pending) < min(acked):
                return None
        return super()._new_offset(tp)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every partition to its committed offset, and those with none to the beginning.

        Faust discards records fetched while a rebalance is under way and then
        "seeks back to committed offsets"; aiokafka's seek_to_committed leaves a
        partition with no committed offset where the fetcher got to, so the
        discarded records are never read (measured: a worker taking over a
        partition whose previous owner had committed nothing skipped all of its
        records). No committed offset means nothing was processed: start over
        (`consumer_auto_offset_reset` is earliest here; repeats are no-ops).
        """
        committed = await super().seek_to_committed()
        never = [tp for tp, offset in committed.items() if not offset]
        if never:
            consumer = self._thread._ensure_consumer()  # noqa: SLF001 - the aiokafka consumer Faust drives
            await self._thread.call_thread(consumer.seek_to_beginning, *never)  # noqa: SLF001
            for tp in never:
                self._read_offset.pop(tp, None)
        return committed


@contextmanager
def _seeking_streams(consumer: Any) -> Iterator[None]:
    """Recovery is about to resume the input partitions and seek them (the only seek that may release them)."""
    consumer.seeking_streams = True
    try:
        yield
    finally:
        consumer.seeking_streams = False


class PostsaleTransport(AiokafkaTransport):
    Consumer = HeldHeadConsumer


class PostsaleApp(faust.App):
    """Faust's App with the fixes above (a consumer that respects held messages, checked recovery, fencing)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rebalance_generation = 0
        self.group_lease = GroupLease(self.conf.broker_session_timeout)

    def on_rebalance_start(self) -> None:
        # Called by the consumer thread as the first step of a rebalance, before anything is revoked: from here
        # on, no decision started before may store its state (streams/fencing.py).
        self.rebalance_generation += 1
        super().on_rebalance_start()

    async def _on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Again on the event loop, before Faust suspends the flow and flushes the producer: a decision that
        # started between the two moves stored its state before that flush, or stores nothing.
        self.rebalance_generation += 1
        await super()._on_partitions_revoked(revoked)

    def _new_transport(self) -> Any:
        return PostsaleTransport(self.conf.broker_consumer, self)
