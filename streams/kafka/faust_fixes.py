"""Fixes to Faust, kept small and in one place so they can go upstream (faust-streaming 0.15.x).

1. Recovery and the broker's ListOffsets answer (below).
2. Commits past a held message, or past the one record at the committed offset (`HeldHeadConsumer._new_offset`).
3. Records lost at a rebalance when nothing was committed yet (`HeldHeadConsumer.seek_to_committed`).
4. Input records processed before the seek that ends recovery (`HeldHeadConsumer.on_partitions_assigned`).
5. No fencing of a worker that lost its session (`LeaseKeepingListener`, `PostsaleApp.on_rebalance_start`;
   the gate itself is `streams/kafka/fencing.py`), nor of its late changelog writes (`OwnedChangelogTable`).
6. Four tasks and an `asyncio.wait` per consumed message (`HeldHeadConsumer._drain_messages`,
   `deliver_eagerly`).
7. A fetch wait hard-coded to 1.5 s (`PromptFetchThread`).
8. Records counted as processed because they were fetched and never delivered, and a partition's last records
   fetched and never delivered (`HeldHeadConsumer._drain_messages`, `_jumped`, `_rewind_undelivered`).
9. About 170 Python calls per record between the fetch and the agent (the round-robin scheduler, the
   conductor's flow control, decode and queue, the stream iterator's loop pass and bookkeeping): the topics an
   app names in `deliver_batch` are handed over one fetch at a time instead (`HeldHeadConsumer._drain_batches`,
   `Delivered`).

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
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faust.tables import Table, TableManager
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
RETRY_SECONDS = 1.0  # between tries at the broker where Faust would otherwise crash the worker
log = logging.getLogger("postsale.faust_fixes")


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
    try:
        await consumer.start()
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
        while True:
            try:
                fetched = await fetched_log_ends(self.app, reported)
                break
            except KafkaError as exc:
                # The broker cannot be reached (a network cut during the rebalance): recovery cannot go on
                # without it anyway. Try again rather than crash the worker; a newer rebalance cancels this.
                self.log.warning("changelog ends not fetched (%s): trying again in %.0f s", exc, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
        for tp, end in fetched.items():
            if end - 1 > destination[tp]:
                self.log.info("changelog %s ends at %d, not %d as ListOffsets said", tp, end, reported[tp])
                destination[tp] = end - 1


GENERATION_HEADER = "postsale.generation"


class OwnedChangelogTable(Table[Any, Any]):
    """A table whose changelog says which owner wrote each record, and whose readers ignore a former owner's
    writes that land after the partition's next owner wrote.

    Kafka does not fence a producer that lost its group membership. A worker cut off from the network keeps
    the records it had handed to its producer (its last state writes, decided while it still owned the
    partition) and delivers them when the network comes back, possibly minutes later, after the partition's
    next owner has recovered the changelog and written to it. Two things then went wrong (measured with the
    partition test, tests/reliability/test_partition.py):

    - those late writes sit in the changelog after the new owner's, so whoever recovers the partition next
      takes the former owner's older state of those orders as the latest (decisions lost and added);
    - Faust records the offset of each of its own changelog writes as "everything up to here is in my local
      RocksDB" (`Collection._on_changelog_sent`). The late write's offset lies past the new owner's writes, so
      when the former owner gets the partition back it recovers from there and never sees them (measured:
      events of orders placed meanwhile dead-lettered as `unknown_order`, their decisions lost).

    (Seen in the partition test: the changelog of a partition held 2 records when the second worker took it
    over, the first worker's writes landed after the second's, and when the first got the partition back it
    recovered from offset 670, its own late write, skipping the second worker's 600-odd records before it.)

    Here every changelog record carries the consumer group generation its writer held the partition in
    (`postsale.generation`). Generations only grow, and one generation has one owner per partition, so in
    a partition's changelog a record from an older generation than one already read is a former owner's late
    write: recovery (and standby replicas) skip it. And a write's offset becomes the persisted offset only
    when it directly follows the persisted one (an unbroken run of this worker's own writes after what it
    read); otherwise another writer's records lie in between and the next recovery must read them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # changelog partition -> the highest generation read or written; kept beside RocksDB's own files, so that a
        # worker restarted on its state directory still knows what it had written before its persisted offset
        self.newest_generation = GenerationBook(self._generations_file())
        self.late_writes_skipped = 0

    def _generations_file(self) -> Path | None:
        """Where the generations are kept: beside the table's RocksDB; None for a store that keeps nothing (its
        recovery reads the whole changelog, and so every generation, again)."""
        store = str(getattr(self.app.conf, "store", ""))  # a yarl URL: `rocksdb:` is falsy
        if not store.startswith("rocksdb"):
            return None
        return Path(self.app.conf.tabledir) / f"{self.name}-changelog-generations.json"

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> Any:
        generation = int(getattr(self.app, "consumer_generation_id", 0) or 0)
        if partition is not None:
            # Its own writes count as read: a former owner's older write landing after them is late. (Measured
            # without this: a worker that owned a partition in generation 1 and wrote to it, then recovered it
            # again, applied the generation-0 late writes that had landed after its own, and fired deadlines of
            # orders whose later events those stale states lacked: 2,038 extra decisions.)
            self.newest_generation.note(TP(self.changelog_topic.get_topic_name(), partition), generation)
        return self.changelog_topic.send_soon(
            key=key,
            value=value,
            partition=partition,
            headers=[(GENERATION_HEADER, str(generation).encode())],
            key_serializer=self.key_serializer if key_serializer is None else key_serializer,
            value_serializer=self.value_serializer if value_serializer is None else value_serializer,
            callback=self._on_changelog_sent,
            eager_partitioning=True,
        )

    def _on_changelog_sent(self, fut: Any) -> None:
        res = fut.result()
        tp, offset = res.topic_partition, res.offset
        if self.app.in_transaction:
            super()._on_changelog_sent(fut)
            return
        persisted = self.data.persisted_offset(tp)
        if offset == (0 if persisted is None else persisted + 1):
            self.data.set_persisted_offset(tp, offset)

    def apply_changelog_batch(self, batch: Any) -> None:
        events = list(batch)
        kept = []
        ends: dict[TP, int] = {}
        for event in events:
            msg = event.message
            ends[msg.tp] = max(ends.get(msg.tp, -1), msg.offset)
            generation = _generation_of(msg.headers)
            if generation is not None:
                newest = self.newest_generation.newest(msg.tp)
                if generation < newest:
                    self.late_writes_skipped += 1
                    self.log.warning(
                        "changelog %s@%d: skipped a write of generation %d landed after generation %d's",
                        msg.tp,
                        msg.offset,
                        generation,
                        newest,
                    )
                    continue
                self.newest_generation.note(msg.tp, generation)
            kept.append(event)
        super().apply_changelog_batch(kept)
        for tp, end in ends.items():  # read, kept or not: the next recovery starts after them
            persisted = self.data.persisted_offset(tp)
            if persisted is None or persisted < end:
                self.data.set_persisted_offset(tp, end)


class GenerationBook:
    """The newest consumer-group generation seen per changelog partition, kept in a small JSON file (when given)
    that is rewritten only when a generation grows: once per rebalance, not per write."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._newest: dict[TP, int] | None = None if path is not None else {}

    def _book(self) -> dict[TP, int]:
        if self._newest is None:
            self._newest = {}
            try:
                raw = orjson.loads(self.path.read_bytes()) if self.path is not None else {}
            except (OSError, orjson.JSONDecodeError):
                raw = {}  # none yet (a new state directory), or unreadable: nothing known, as after a restart before
            for key, value in raw.items() if isinstance(raw, dict) else ():
                topic, _, partition = str(key).rpartition(":")
                if topic and partition.isdigit() and isinstance(value, int):
                    self._newest[TP(topic, int(partition))] = value
        return self._newest

    def newest(self, tp: TP) -> int:
        return self._book().get(tp, -1)

    def note(self, tp: TP, generation: int) -> None:
        book = self._book()
        if book.get(tp, -1) >= generation:
            return
        book[tp] = generation
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps({f"{t.topic}:{t.partition}": g for t, g in book.items()}))
            os.replace(tmp, self.path)


def _generation_of(headers: Any) -> int | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key == GENERATION_HEADER and value is not None:
            try:
                return int(bytes(value))
            except ValueError:
                return None
    return None


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

    def answered_at(self, tp: TP) -> float | None:
        """When a fetch response last covered `tp` (wall-clock seconds; None: never since its assignment).

        Its highwater is only as new as that answer. A partition with fetched records not yet handed over is
        left out of the fetches until they are, so once they are read its highwater can be older than records
        of other topics fetched meanwhile: "read to the highwater" then says nothing of what came since."""
        try:
            ms = self._thread._ensure_consumer().last_poll_timestamp(tp)  # noqa: SLF001 - the aiokafka consumer
        except Exception:  # noqa: BLE001 - not assigned (a rebalance under way): never answered
            return None
        return None if ms is None else ms / 1000

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

    @property
    def _seek_targets(self) -> dict[TP, int]:
        """Partition -> the offset it was last sought to, until a record of it is delivered (`_drain_messages`).

        Faust keeps the offset of the last record read per partition, and after a seek the offset sought to:
        the next one due, not the last one read. So a record that does not follow is a jump from the last read
        record, but from the offset sought to after a seek: that record itself is due (the committed offset)."""
        targets: dict[TP, int] = self.__dict__.setdefault("_sought", {})
        return targets

    async def perform_seek(self) -> None:
        await super().perform_seek()
        targets = self._seek_targets
        targets.clear()
        targets.update({tp: offset for tp, offset in self._read_offset.items() if offset is not None})
        # Sought to the beginning (nothing committed yet): the first offset is due. Without a due offset a fetch of
        # such a partition dropped before delivery went unnoticed (measured: `disputes` partitions with no
        # dispute decided yet kept 19 and 28 records unread for good after a rebalance).
        for tp in self.__dict__.pop("_from_start", ()):
            targets.setdefault(tp, 0)
        if self.seeking_streams and self._held_back:
            held, self._held_back = self._held_back, frozenset()
            super().resume_partitions(held & self.assignment())

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if acked:
            # The committed offset is the next one due. Faust refuses a run of acknowledgements that starts more
            # than one past it (`min(acked) - committed > 1`), so one unacknowledged record right at it was
            # committed past (measured: single records at the committed offset lost after a rebalance).
            committed = self._committed_offset.get(tp)
            if committed is not None and min(acked) > committed:
                return None
            pending = [m.offset for m in self._unacked_messages if m.tp == tp and not m.acked]
            if pending and min(pending) < min(acked):
                return None
        return super()._new_offset(tp)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - the consumer's own loop
        """One of the two loops below, with Faust's own ending: a stop of the consumer or the app ends it quietly,
        anything else is logged and raised."""
        try:
            if getattr(self.app, "deliver_batch", None) is not None:
                await self._drain_batches(fetcher)
            else:
                await self._drain_one_by_one(fetcher)
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
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _drain_batches(self, fetcher: Any) -> None:  # pragma: no cover - the consumer's own loop
        """The loop of `_drain_one_by_one` with the app's batch topics handed over a whole fetch at a time.

        Each fetch (`_wait_next_records`: every record the client had for the active partitions) is taken in
        Faust's round-robin order over topics and partitions (its scheduler), as one by one. Records of the topics
        in `app.deliver_batch.topics` become `Delivered` records, checked exactly as one by one (the generation,
        the offset due, gaps), and are handed to `app.deliver_batch` in one call, in that order, which decides,
        settles and acknowledges them; records of every other topic (changelogs for recovery and standbys) take
        Faust's own path, one by one, as they come. A delivered record is unacknowledged (`_unacked_messages`)
        until the app acknowledges it (`Delivered.ack`), so a commit never passes a record still held."""
        deliver = self.app.deliver_batch  # type: ignore[attr-defined]
        batch_topics = deliver.topics
        scheduled = self.scheduler.iterate
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        read_offsets = self._read_offset
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        suspended = self.suspend_flow.wait
        wait_first = self.wait_first
        app = self.app
        monitor = app.monitor
        unacked = self._unacked_messages
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            records, active = await self._wait_next_records(1.0)
            await self.sleep(0)
            if records is None or self.should_stop:
                unset_flag(CONSUMER_FETCHING)
                continue
            if not self.flow_active:
                try:  # as Faust's `getmany` does when the flow stopped while it fetched
                    await self.perform_seek()
                except Exception as exc:  # noqa: BLE001 - Faust's own handling: logged, fetched again
                    self.log.warning(f"exception performing seek when flow not active {exc}")
                unset_flag(CONSUMER_FETCHING)
                continue
            generation = app.consumer_generation_id
            reread: set[TP] = set()  # partitions sought back: the rest of this fetch of them is dropped
            handed: list[Delivered] = []
            live = {}
            for tp, fetched in records.items():
                if active is None or tp in active or tp in self._buffered_partitions:
                    monitor.track_tp_end_offset(tp, self.highwater(tp))
                    live[tp] = fetched
            # In Faust's order, round robin over topics and partitions: records of one topic's backlog must not
            # all come before the first of another topic (streams.worker.routing weighs the topics' evidence).
            for tp, record in scheduled(live):
                if generation != app.consumer_generation_id or not self.flow_active:
                    break  # fetched before a rebalance: its seek reads it again
                if tp in reread:
                    continue
                offset = record.offset
                r_offset = read_offsets.get(tp)
                if r_offset is not None and offset < r_offset:
                    continue
                if not await self._in_line(tp, offset, r_offset):
                    reread.add(tp)
                    continue
                message = self._to_message(tp, record)
                if tp.topic in batch_topics:
                    unacked.add(message)
                    handed.append(Delivered(message, self))
                else:
                    await deliver_eagerly(callback(message), suspended, wait_first)
                read_offsets[tp] = offset
            if handed and generation == app.consumer_generation_id:
                await deliver(handed)
            if commit_every is not None and self._n_acked >= commit_every:
                self._n_acked = 0
                await self.commit()
            if generation == app.consumer_generation_id and self.flow_active:
                await self._rewind_undelivered(reread)
            unset_flag(CONSUMER_FETCHING)

    async def _drain_one_by_one(self, fetcher: Any) -> None:  # pragma: no cover - the consumer's own loop
        """Faust 0.15.3's `Consumer._drain_messages`, with each message delivered by `deliver_eagerly` instead of
        `wait_first(callback(message), suspend_flow.wait())`, and two guards (`_jumped`, and a record fetched
        before a rebalance is not delivered after it); everything else as it is there (commits every
        `broker_commit_every`, a yield to the loop every 100 messages, read offsets)."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        suspended = self.suspend_flow.wait
        wait_first = self.wait_first
        yield_every = 100
        num_since_yield = 0
        app = self.app
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                tp: TP
                message: Message
                reread: set[TP] = set()  # partitions sought back: the rest of this fetch of them is dropped
                generation = app.consumer_generation_id
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    if message.generation_id != app.consumer_generation_id:
                        break  # fetched before a rebalance (awaits below let one in): its seek reads it again
                    if tp in reread:
                        continue
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        if not await self._in_line(tp, offset, r_offset):
                            reread.add(tp)
                            continue
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await deliver_eagerly(callback(message), suspended, wait_first)
                        set_read_offset(tp, offset)
                if generation == app.consumer_generation_id and self.flow_active:
                    await self._rewind_undelivered(reread)
                unset_flag(CONSUMER_FETCHING)

    async def _rewind_undelivered(self, sought_back: set[TP]) -> None:
        """After a fetch was handed over: any input partition the client has read past the record due next,
        with nothing delivered in between, is read again from that record.

        The client's position moves when a fetch is handed to Faust, not when its records are delivered. Faust's
        `getmany` drops the rest of a fetch when the flow stops or the generation changes, and the records of a
        partition that stopped being active while the fetch was handed over. When a later record of the
        partition follows, `_jumped` sees the hole; when none follows (the partition's last records, the end of a
        burst), nothing did: the partition sat with its last records unread and counted as behind the broker
        for good, which held its clock, and, through the misplaced-records frontier, every partition's clock
        (measured: the rebalance test's worker decided nothing more after the second worker left; the
        partition test's worker that kept its partitions kept 5-25 records unread on one topic of each)."""
        try:
            consumer = self._thread._ensure_consumer()  # noqa: SLF001 - the aiokafka consumer Faust drives
            assignment = consumer._subscription.subscription.assignment  # noqa: SLF001
        except Exception:  # noqa: BLE001 - no consumer or no assignment yet (a rebalance under way)
            return
        if assignment is None:
            return
        targets = self._seek_targets
        acks_enabled_for = self.app.topics.acks_enabled_for
        for tp in list(self._get_active_partitions()):
            if tp in sought_back or self._is_changelog_tp(tp) or not acks_enabled_for(tp.topic):
                continue
            sought = targets.get(tp)
            read = self._read_offset.get(tp)
            due = sought if sought is not None else (read + 1 if read is not None else None)
            state = assignment.state_value(TopicPartition(tp.topic, tp.partition))  # None: not assigned any more
            if due is None or state is None or not state.has_valid_position:
                continue
            position = state.position
            if position > due and not await self._jumped(tp, due, position):
                # The same hole twice from the same place: offsets with no record (transaction markers,
                # compaction), processed as Faust counts them.
                await self._add_gap(tp, due, position - 1)
                self._read_offset[tp] = position - 1
                targets.pop(tp, None)

    async def _in_line(self, tp: TP, offset: int, last_read: int | None) -> bool:
        """Whether the record at `offset` may be delivered next. The offset due is where the partition was sought
        to, else the one after the last read; a record past it is either read again from the offset due (False:
        the rest of this fetch of the partition is dropped) or past a real gap, counted as processed."""
        targets = self._seek_targets
        sought = targets.pop(tp, None) if targets else None
        due = sought if sought is not None else (last_read + 1 if last_read is not None else None)
        if due is not None and offset > due and self.app.topics.acks_enabled_for(tp.topic):
            if await self._jumped(tp, due, offset):
                return False
            await self._add_gap(tp, due, offset - 1)
        return True

    async def _jumped(self, tp: TP, expected: int, offset: int) -> bool:
        """The next record of `tp` is at `offset`, not at `expected`: read again from `expected` (True), unless
        the broker showed this same gap on the last read from there (False: a real gap, which is then counted
        as processed, as Faust does for compacted topics and transaction markers).

        Faust counts every offset between two delivered records as processed (`Consumer._add_gap`) and commits
        past them. Records fetched and then dropped before delivery also leave such a gap: Faust's `getmany`
        drops the rest of a fetch when the flow stops or the generation changes, and the records of a
        partition that is not active; after the seek that ends a rebalance, the records of a fetch made in
        between arrived out of line (measured with the partition test, tests/reliability/test_partition.py:
        a worker that kept its partitions through a rebalance delivered offset 453 right after the seek to
        446, and 446-452, events of orders never seen again, were committed unprocessed; their orders' later
        events were dead-lettered as `unknown_order` and their decisions lost). Faust also takes the offset
        sought to for the last one read, so even its gap started one record late. A record is never taken as
        processed because it was not delivered."""
        reread: dict[TP, tuple[int, int]] = self.__dict__.setdefault("_gap_reread", {})
        if reread.get(tp) == (expected, offset):
            del reread[tp]
            return False
        reread[tp] = (expected, offset)
        log.info("%s: read up to %d where %d was due, nothing in between delivered: read again", tp, offset, expected)
        # In the consumer's own thread: aiokafka's seek wakes its fetcher through a future of that thread's loop
        # (measured: sought from the event loop's thread, the fetcher never woke and the worker stopped reading).
        consumer = self._thread._ensure_consumer()  # noqa: SLF001 - the aiokafka consumer Faust drives
        await self._thread.call_thread(consumer.seek, tp, expected)  # noqa: SLF001
        self._read_offset[tp] = expected  # as Faust's `seek` leaves it: the offset due
        self._seek_targets[tp] = expected
        return True

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
        self.__dict__["_from_start"] = set(never)
        return committed


class Delivered:
    """A record handed over in a batch: what the app reads of a Faust event (`message`, `key`, `value`, `headers`,
    `ack()`), without the event, its codecs and its reference counting. It can be made Faust's current event
    (a weak reference to it), so that table writes go to its partition."""

    __slots__ = ("message", "key", "value", "headers", "_consumer", "__weakref__")

    def __init__(self, message: Message, consumer: Any) -> None:
        self.message = message
        self.key = message.key
        self.value = message.value
        self.headers = message.headers
        self._consumer = consumer

    def ack(self) -> bool:
        """Processed: the offset may be committed once every offset before it is."""
        return bool(self._consumer.ack(self.message))


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
