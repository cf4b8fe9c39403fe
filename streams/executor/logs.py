"""The executor's topics: created when allowed, a producer, and compacted topics read into memory.

The end of a topic is taken from fetch responses (the highwater), never from
ListOffsets: the embedded test broker under-reports the log end there (see
docs/architecture.md), and stopping short of the end would forget an outcome and call a
receiver twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka.admin import create_topics
from streams.kafka.auth import admin_options, kafka_options
from streams.settings import Settings


async def ensure_topics(settings: Settings, plain: list[str], compacted: list[str]) -> None:
    """Create the executor's topics when the settings allow it (an admin may own them instead)."""
    if not settings.create_topics:
        return
    await create_topics(
        ",".join(settings.bootstrap_servers()),
        [*plain, *compacted],
        settings.partitions,
        compacted=compacted,
        replication_factor=settings.replication_factor,
        admin_options=admin_options(settings),
    )


def new_producer(settings: Settings) -> AIOKafkaProducer:
    # acks=all: an outcome counts as written only when the cluster has it, before the offset commit.
    return AIOKafkaProducer(**kafka_options(settings), acks="all", linger_ms=0)


class CompactedLog:
    """A compacted topic read from the start into memory, then kept up to date by polling.

    `on_record(key, value)` is called for every record in offset order per
    partition; `value` is None for a tombstone.
    """

    def __init__(self, settings: Settings, topic: str, on_record: Callable[[bytes, bytes | None], None]) -> None:
        self.settings = settings
        self.topic = topic
        self.on_record = on_record
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []
        self._lock = asyncio.Lock()

    async def start(self, timeout: float = 60.0, *, missing_ok: bool = False) -> bool:
        """Read the topic to its end; False (and nothing started) when `missing_ok` and the broker does not have
        it. Only metadata of every topic is asked for, which creates none (a request naming one may)."""
        consumer = AIOKafkaConsumer(
            **kafka_options(self.settings), group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        self._consumer = consumer
        deadline = time.monotonic() + timeout
        while True:
            parts = consumer.partitions_for_topic(self.topic)
            if parts:
                break
            if missing_ok and self.topic not in await consumer.topics():
                await self.stop()
                return False
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {self.topic} not found")
            await consumer.topics()  # refreshes metadata
            await asyncio.sleep(0.2)
        self._tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        consumer.assign(self._tps)
        await consumer.seek_to_beginning(*self._tps)
        await self.catch_up(timeout)
        return True

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def catch_up(self, timeout: float = 60.0) -> None:
        """Read until every partition's position reaches the highwater of a fetch response."""
        consumer = self._require()
        deadline = time.monotonic() + timeout
        async with self._lock:
            while True:
                self._apply(await consumer.getmany(timeout_ms=200))
                behind = False
                for tp in self._tps:
                    hw = consumer.highwater(tp)
                    if hw is None or await consumer.position(tp) < hw:
                        behind = True
                        break
                if not behind:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {self.topic} to its end within {timeout:g}s")

    async def poll(self) -> None:
        """Apply whatever has arrived since (no waiting): changes made by another executor or by the CLI."""
        async with self._lock:
            self._apply(await self._require().getmany(timeout_ms=0))

    def _apply(self, batch: dict[TopicPartition, list[Any]]) -> None:
        for records in batch.values():
            for r in records:
                if r.key is not None:
                    self.on_record(r.key, r.value)

    def _require(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("CompactedLog.start() first")
        return self._consumer
