"""The console's one Kafka reader: actions, the three input topics, held refunds and the audit trail, from
their start, into the `Board`.

No consumer group (it commits nothing and takes no partitions from the workers or the executor): every console
reads everything. The held topic is compacted (a tombstone when a refund is released or dropped); the audit
topic is an append-only log keyed by order id.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.console.board import Board
from streams.executor.logs import ensure_topics
from streams.executor.settings import ExecutorSettings
from streams.kafka.auth import kafka_options

log = logging.getLogger("postsale.console")


class KafkaFeed:
    def __init__(self, settings: ExecutorSettings, board: Board) -> None:
        self.settings = settings
        self.board = board
        k = settings.kafka
        self.topic_actions = k.topic_actions
        self.inputs = set(k.input_topics)
        self.topics = [k.topic_actions, *k.input_topics, settings.topic_held, settings.topic_audit]
        self.ready = asyncio.Event()
        self.error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Read until `stop`; retried with a pause when the broker is away."""
        while not stop.is_set():
            try:
                await self._read(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away: say so on the pages, try again
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("console: reading Kafka failed (%s); retrying", type(exc).__name__)
                try:
                    await asyncio.wait_for(stop.wait(), 3)
                except TimeoutError:
                    pass

    async def _read(self, stop: asyncio.Event) -> None:
        s = self.settings
        k = s.kafka
        await ensure_topics(
            k, [k.topic_orders, k.topic_actions, s.topic_failed, s.topic_audit], [s.topic_outcomes, s.topic_held]
        )
        consumer = AIOKafkaConsumer(
            **kafka_options(k), group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            tps = await self._partitions(consumer)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            self.error = None
            board = self.board
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=5000)
                for tp, records in batch.items():
                    topic = tp.topic
                    for r in records:
                        if topic == self.topic_actions:
                            if r.value is not None:
                                board.add_action(r.value)
                        elif topic in self.inputs:
                            if r.value is not None:
                                board.add_event(r.value)
                        elif topic == s.topic_held:
                            if r.key is not None:
                                board.set_held(r.key, r.value)
                        elif r.value is not None:
                            board.add_audit(r.value)
                if not self.ready.is_set() and await self._caught_up(consumer, tps):
                    self.ready.set()
                if batch:
                    board.changed.set()
                    await asyncio.sleep(0)
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer, timeout: float = 60) -> list[TopicPartition]:
        deadline = time.monotonic() + timeout
        while True:
            found = {t: consumer.partitions_for_topic(t) for t in self.topics}
            if all(found.values()):
                return [TopicPartition(t, p) for t, parts in found.items() for p in sorted(parts or ())]
            if time.monotonic() > deadline:
                missing = ", ".join(t for t, p in found.items() if not p)
                raise RuntimeError(f"topics not found: {missing}")
            await consumer.topics()
            await asyncio.sleep(0.3)

    @staticmethod
    async def _caught_up(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> bool:
        for tp in tps:
            hw = consumer.highwater(tp)
            if hw is None or await consumer.position(tp) < hw:
                return False
        return True
