"""Fixes to Faust, kept small and in one place so they can go upstream (faust-streaming 0.15.x).

1. Recovery and the broker's ListOffsets answer (below).
2. Commits past a held message (`HeldHeadConsumer._new_offset`).
3. Records lost at a rebalance when nothing was committed yet (`HeldHeadConsumer.seek_to_committed`).
4. Input records processed before the seek that ends recovery (`HeldHeadConsumer.on_partitions_assigned`).
5. No fencing of a worker that lost its session (`LeaseKeepingListener`, `PostsaleApp.on_rebalance_start`;
   the gate itself is `streams/kafka/fencing.py`).
6. Four tasks and an `asyncio.wait` per consumed message (`HeldHeadConsumer._drain_messages`,
   `deliver_eagerly`).
7. A fetch wait hard-coded to 1.5 s (`PromptFetchThread`).

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
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import (
    AIOKafkaConsumerThread,
    ConsumerRebalanceListener,
    credentials_to_aiokafka_auth,
)
from faust.transport.drivers.aiokafka import Consumer as AiokafkaConsumer
from faust.transport.drivers.aiokafka import Transport as AiokafkaTransport
from faust.types import TP, Message

from streams.kafka.fencing import GroupLease

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


class PromptFetchThread(AIOKafkaConsumerThread):
    """Faust's consumer thread with the fetch wait the app asks for (`PostsaleApp.fetch_max_wait_ms`).

    Faust's aiokafka driver creates its consumer with `fetch_max_wait_ms=1500`, not a setting. A broker may
    hold a fetch that long before it answers with records that arrived meanwhile (Tansu does; Kafka answers as
    soon as `fetch.min.bytes` is there), which puts up to 1.5 s between an event and its actions."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait = getattr(self.app, "fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)  # noqa: SLF001 - read by the Fetcher created at start()
        return consumer


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

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return PromptFetchThread(self, loop=self.loop, beacon=self.beacon)

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

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - the consumer's own loop
        """Faust 0.15.3's `Consumer._drain_messages`, with each message delivered by `deliver_eagerly` instead of
        `wait_first(callback(message), suspend_flow.wait())`; everything else as it is there (gaps, commits
        every `broker_commit_every`, a yield to the loop every 100 messages, read offsets)."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.wait
        wait_first = self.wait_first
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    tp: TP
                    message: Message
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await deliver_eagerly(callback(message), suspended, wait_first)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

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


async def deliver_eagerly(delivery: Awaitable[Any], interrupt: Callable[[], Awaitable[Any]], wait_first: Any) -> None:
    """Run `delivery` at once; only if it has to wait, wait for it or for `interrupt`, whichever comes first.

    Faust hands every fetched message to its streams with
    `wait_first(callback(message), suspend_flow.wait())`: four tasks and an
    `asyncio.wait` per message, so that a delivery blocked on a full stream
    buffer or a suspended flow (a rebalance) can be abandoned. Almost every
    delivery completes without waiting (the buffer has room, the flow runs).
    Here the delivery coroutine is stepped directly; only when it really
    blocks is the rest of it run as before, racing the interrupt. Same
    semantics, no task in the common case."""
    if not isinstance(delivery, Coroutine):
        await wait_first(delivery, interrupt())
        return
    try:
        blocked_on = _received(delivery.send(None))
    except StopIteration:
        return
    await wait_first(_resume(delivery, blocked_on), interrupt())


def _received(yielded: Any) -> Any:
    """What a task does with a future its coroutine yields: take the "blocking" mark off before waiting on it
    (an asyncio future refuses to be awaited again while it carries the mark)."""
    if getattr(yielded, "_asyncio_future_blocking", False):
        yielded._asyncio_future_blocking = False
    return yielded


async def _resume(coro: Coroutine[Any, Any, Any], blocked_on: Any) -> Any:
    """Drive a coroutine that was stepped by hand and is waiting on `blocked_on` (a future, or None for a bare
    yield) to its end, inside the current task."""
    try:
        while True:
            if blocked_on is None:
                await asyncio.sleep(0)
            else:
                try:
                    await blocked_on
                except Exception:  # noqa: BLE001, S110 - the coroutine receives the outcome itself, below
                    pass
            try:
                blocked_on = _received(coro.send(None))
            except StopIteration as done:
                return done.value
    except BaseException:
        coro.close()  # this task was cancelled (the flow was suspended first): the delivery is abandoned
        raise


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
        self.fetch_max_wait_ms: int | None = None  # None: Faust's 1,500 ms (PromptFetchThread)

    def on_rebalance_start(self) -> None:
        # Called by the consumer thread as the first step of a rebalance, before anything is revoked: from here
        # on, no decision started before may store its state (streams/kafka/fencing.py).
        self.rebalance_generation += 1
        super().on_rebalance_start()

    async def _on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Again on the event loop, before Faust suspends the flow and flushes the producer: a decision that
        # started between the two moves stored its state before that flush, or stores nothing.
        self.rebalance_generation += 1
        await super()._on_partitions_revoked(revoked)

    def _new_transport(self) -> Any:
        return PostsaleTransport(self.conf.broker_consumer, self)
