"""The consumer loop of `postsale execute`: one action at a time per partition, offset committed after a
definite outcome (done, rejected, failed, held or dry-run).

Partitions are worked concurrently; within one, actions keep their order, and
an action being retried holds back the ones behind it (the same order's later
actions are on the same partition, and must not overtake it).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import SecretStr, ValidationError

from models.actions import Action, parse_action
from streams.executor.config import ExecutorConfig, WebhookEndpoint
from streams.executor.delivery import Deliverer, log_fields
from streams.executor.journal import Journal
from streams.executor.logs import ensure_topics, new_producer
from streams.executor.metrics import ExecutorMetrics
from streams.executor.outcomes import FINAL, record_for
from streams.executor.redact import validation_reason
from streams.executor.routing import endpoint_type, is_customer_refund
from streams.executor.settings import ExecutorSettings
from streams.kafka.auth import kafka_options

log = logging.getLogger("postsale.executor")


def utcnow() -> datetime:
    return datetime.now(UTC)


class _CatchUpOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        # The previous owner may have finished actions we have not read yet: read them before we deliver.
        await self.journal.catch_up()


class Executor:
    def __init__(
        self,
        settings: ExecutorSettings,
        config: ExecutorConfig,
        secrets: Mapping[str, SecretStr],
        metrics: ExecutorMetrics,
        *,
        clock: Callable[[], datetime] = utcnow,
        signing_clock: Callable[[], datetime] | None = None,
        draw: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`clock` times outcomes, outcome events and the breaker's hours; `signing_clock` (default: `clock`) is
        the one receivers check webhook timestamps against. They differ only in a simulation (`postsale demo`),
        where the engine lives in simulated time and the receiver in wall time."""
        self.settings = settings
        self.config = config
        self.secrets = secrets
        self.metrics = metrics
        self.clock = clock
        self.signing_clock = signing_clock or clock
        self.draw = draw
        self.sleep = sleep
        self._commit_lock = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        s, k = self.settings, self.settings.kafka
        await ensure_topics(
            k, [k.topic_actions, k.topic_orders, s.topic_failed], compacted=[s.topic_outcomes, s.topic_held]
        )
        producer = new_producer(k)
        await producer.start()
        journal = Journal(s, self.config.breaker, self.metrics, producer)
        session = aiohttp.ClientSession()
        consumer = AIOKafkaConsumer(
            **kafka_options(k),
            group_id=s.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(k.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(k.heartbeat_interval_seconds * 1000),
            max_poll_interval_ms=int(s.max_poll_interval_seconds * 1000),
        )
        try:
            await journal.open()
            deliverer = Deliverer(
                self.config,
                self.secrets,
                self.metrics,
                session,
                clock=self.signing_clock,
                draw=self.draw,
                sleep=self.sleep,
            )
            consumer.subscribe([k.topic_actions], listener=_CatchUpOnAssign(journal))
            await consumer.start()
            log.warning("executor started: group %s on %s", s.group_id, k.topic_actions)
            stopping = asyncio.create_task(stop.wait())
            while not stop.is_set():
                fetch = asyncio.create_task(consumer.getmany(timeout_ms=500, max_records=100))
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    break
                batch = fetch.result()
                await journal.refresh()
                if not batch:
                    continue
                work = asyncio.create_task(self._batch(consumer, journal, deliverer, batch))
                await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not work.done():
                    # Stopping mid-delivery: nothing after the last commit is lost, it is delivered again later
                    # under the same idempotency key.
                    work.cancel()
                    await asyncio.gather(work, return_exceptions=True)
                    break
                work.result()
            stopping.cancel()
        finally:
            await consumer.stop()
            await session.close()
            await journal.close()
            await producer.stop()

    async def _batch(
        self,
        consumer: AIOKafkaConsumer,
        journal: Journal,
        deliverer: Deliverer,
        batch: dict[TopicPartition, list[Any]],
    ) -> None:
        async def partition(tp: TopicPartition, records: list[Any]) -> None:
            for r in records:
                await self.handle(journal, deliverer, r.value)
                async with self._commit_lock:
                    await consumer.commit({tp: r.offset + 1})

        await asyncio.gather(*(partition(tp, records) for tp, records in batch.items()))

    async def handle(self, journal: Journal, deliverer: Deliverer, raw: bytes | None) -> None:
        """Bring one action to a definite outcome, recorded in the journal."""
        try:
            action = parse_action(raw if raw is not None else b"")
        except ValidationError as exc:
            # The reason names the field and the kind of error only: the record may carry customer text.
            reason = validation_reason(exc)
            record = (raw or b"").decode(errors="replace")
            letter = {"status": "invalid", "reason": reason, "record": record}
            await journal.producer.send_and_wait(self.settings.topic_failed, orjson.dumps(letter))
            log.error("invalid action dead-lettered: %s", reason)
            return
        known = journal.outcomes.get(action.action_id)
        if known is not None and (known.status in FINAL or known.status == "held"):
            self.metrics.skipped.labels(action.type).inc()
            log.info(
                "%s %s already %s: not called again", action.type, action.action_id, known.status,
                extra=log_fields(action, "skipped"),
            )  # fmt: skip
            return
        await self.deliver(journal, deliverer, action, breaker=True)

    async def deliver(self, journal: Journal, deliverer: Deliverer, action: Action, *, breaker: bool) -> str:
        """Deliver (after the breaker, unless a person released it) and record the outcome; returns its status."""
        now = self.clock()
        sent_at = None
        live = isinstance(self.config.endpoint_for(endpoint_type(action)), WebhookEndpoint)
        if is_customer_refund(action) and live:
            if action.amount is None or action.currency is None:
                record = record_for(action, "failed", now, reason="customer refund without amount or currency")
                await journal.finish(action, record)
                self.metrics.deliveries.labels(action.type, "failed").inc()
                return "failed"
            if breaker:
                verdict = journal.book.check(action.store_id, action.currency, action.amount, now)
                if verdict.hold:
                    await journal.hold(action, verdict.reason, now)
                    self.metrics.deliveries.labels(action.type, "held").inc()
                    log.error(
                        "HELD refund %s of order %s (store %s): %s. A person decides: "
                        "`postsale actions release %s` or `postsale actions drop %s`",
                        action.action_id, action.order_id, action.store_id, verdict.reason,
                        action.action_id, action.action_id,
                        extra=log_fields(action, "held", reason=verdict.reason, amount=str(action.amount),
                                         currency=action.currency),
                    )  # fmt: skip
                    return "held"
            journal.book.record(action.action_id, action.store_id, action.currency, action.amount, now)
            sent_at = now
        result = await deliverer.deliver(action)
        if result.status == "rejected":
            journal.book.forget(action.action_id)  # refused: no money moved
            sent_at = None
        record = record_for(
            action,
            result.status,
            self.clock(),
            reason=result.reason,
            attempts=result.attempts,
            http_status=result.http_status,
            sent_at=sent_at,
        )
        await journal.finish(action, record)
        self.metrics.deliveries.labels(action.type, result.status).inc()
        if result.status in ("failed", "rejected"):
            log.error(
                "%s %s %s: %s", action.type, action.action_id, result.status, result.reason,
                extra=log_fields(action, result.status, http_status=result.http_status, attempts=result.attempts,
                                 reason=result.reason),
            )  # fmt: skip
        return result.status
