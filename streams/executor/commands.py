"""What a person does with held refunds: list them, release one (deliver now), drop one (never send it).

Each command reads the held topic to its end, acts on one action, and
publishes the same outcome records and events the running executor would, so
the engine's state and the executor's memory agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from streams.executor.config import ExecutorConfig
from streams.executor.consumer import Executor, utcnow
from streams.executor.delivery import Deliverer
from streams.executor.journal import Journal
from streams.executor.logs import ensure_topics, new_producer
from streams.executor.metrics import ExecutorMetrics
from streams.executor.outcomes import FINAL, HeldRecord, record_for
from streams.executor.settings import ExecutorSettings

log = logging.getLogger("postsale.executor")
DROPPED_REASON = "dropped by a person"


class NotHeld(LookupError):
    """The action is not held (never was, or already released or dropped)."""


@dataclass(frozen=True)
class Done:
    action_id: str
    status: str


async def _with_journal(settings: ExecutorSettings, config: ExecutorConfig) -> tuple[Journal, ExecutorMetrics]:
    k = settings.kafka
    await ensure_topics(
        k, [k.topic_orders, settings.topic_failed], compacted=[settings.topic_outcomes, settings.topic_held]
    )
    producer = new_producer(k)
    await producer.start()
    metrics = ExecutorMetrics.create(CollectorRegistry(), settings.stores_max)
    journal = Journal(settings, config.breaker, metrics, producer)
    try:
        await journal.open()
    except BaseException:
        await producer.stop()
        raise
    return journal, metrics


async def _close(journal: Journal) -> None:
    await journal.close()
    await journal.producer.stop()


async def list_held(settings: ExecutorSettings, config: ExecutorConfig) -> list[HeldRecord]:
    journal, _ = await _with_journal(settings, config)
    try:
        return sorted(journal.held.values(), key=lambda h: h.held_at)
    finally:
        await _close(journal)


async def release(
    settings: ExecutorSettings, config: ExecutorConfig, secrets: Mapping[str, SecretStr], action_id: str
) -> Done:
    """Deliver a held refund now, past the breaker (with the usual retries); the held record is then removed."""
    journal, metrics = await _with_journal(settings, config)
    try:
        held = journal.held.get(action_id)
        if held is None:
            raise NotHeld(action_id)
        known = journal.outcomes.get(action_id)
        if known is not None and known.status in FINAL:
            # An earlier release got this far and stopped before removing the held record.
            await journal.unhold(action_id)
            return Done(action_id, known.status)
        executor = Executor(settings, config, secrets, metrics)
        async with aiohttp.ClientSession() as session:
            deliverer = Deliverer(config, secrets, metrics, session, clock=utcnow)
            status = await executor.deliver(journal, deliverer, held.action, breaker=False)
        await journal.unhold(action_id)
        log.warning("released %s: %s", action_id, status)
        return Done(action_id, status)
    finally:
        await _close(journal)


async def drop(settings: ExecutorSettings, config: ExecutorConfig, action_id: str) -> Done:
    """Never send a held refund: publish `action.failed` ("dropped by a person") and remove the held record."""
    journal, _ = await _with_journal(settings, config)
    try:
        held = journal.held.get(action_id)
        if held is None:
            raise NotHeld(action_id)
        await journal.finish(held.action, record_for(held.action, "dropped", utcnow(), reason=DROPPED_REASON))
        await journal.unhold(action_id)
        log.warning("dropped %s", action_id)
        return Done(action_id, "dropped")
    finally:
        await _close(journal)
