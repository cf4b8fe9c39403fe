"""What a person does with held refunds: list them, release one (deliver now), drop one (never send it).

Each command reads the held topic to its end, acts on one action, and
publishes the same outcome records and events the running executor would, so
the engine's state and the executor's memory agree. Release and drop are one
mechanism whoever asks (`postsale actions` or the console): each takes the
operator's name and a reason and appends an `AuditRecord` to the audit topic
(keyed by order id, replayable). Decisions on one action are serialised within
a process, and a second release finds the refund no longer held: a refund
released twice is paid once (and the receiver is called with the same
Idempotency-Key should two processes race).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import aiohttp
from prometheus_client import CollectorRegistry
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from streams.executor.config import ExecutorConfig
from streams.executor.consumer import Executor, utcnow
from streams.executor.delivery import Deliverer
from streams.executor.journal import Journal, JournalError
from streams.executor.logs import CompactedLog, ensure_topics, new_producer
from streams.executor.metrics import ExecutorMetrics
from streams.executor.outcomes import FINAL, HELD_ADAPTER, HeldRecord, record_for
from streams.executor.redact import validation_reason
from streams.executor.settings import ExecutorSettings

log = logging.getLogger("postsale.executor")
DROPPED_REASON = "dropped by a person"


class NotHeld(LookupError):
    """The action is not held (never was, already released or dropped, or of a store the operator may not see)."""


@dataclass(frozen=True)
class Done:
    action_id: str
    status: str


class AuditRecord(BaseModel):
    """One person's decision on a held refund, as appended to the audit topic (keyed by order id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    action_id: str
    order_id: str
    store_id: str
    decision: Literal["release", "drop"]
    operator: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)
    outcome: str = Field(description="What came of it: done, rejected, failed, dropped, dry_run.")
    via: Literal["cli", "console"] = "cli"
    signed_in_as: str | None = Field(default=None, description="The console account that asked, if any.")
    amount: Decimal | None = None
    currency: str | None = None


AUDIT_ADAPTER: TypeAdapter[AuditRecord] = TypeAdapter(AuditRecord)
_decisions: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # action id -> (lock, [requests using it])


@contextlib.asynccontextmanager
async def _deciding(action_id: str) -> AsyncIterator[None]:
    """One decision at a time on an action, within this process (the console serves several people)."""
    lock, users = _decisions.setdefault(action_id, (asyncio.Lock(), [0]))
    users[0] += 1
    try:
        async with lock:
            yield
    finally:
        users[0] -= 1
        if users[0] == 0:
            del _decisions[action_id]


@dataclass(frozen=True)
class Who:
    """Who decides and why; `store` limits the decision to one store's refunds (a store-scoped account)."""

    operator: str
    reason: str
    via: Literal["cli", "console"] = "cli"
    signed_in_as: str | None = None
    store: str | None = None

    def __post_init__(self) -> None:
        if not self.operator.strip() or not self.reason.strip():
            raise ValueError("an operator name and a reason are required")


async def _with_journal(settings: ExecutorSettings, config: ExecutorConfig) -> tuple[Journal, ExecutorMetrics]:
    k = settings.kafka
    await ensure_topics(
        k,
        [k.topic_orders, settings.topic_failed, settings.topic_audit],
        compacted=[settings.topic_outcomes, settings.topic_held],
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


async def list_held(settings: ExecutorSettings) -> list[HeldRecord]:
    """The refunds held now, oldest first. A listing only reads the held topic: it creates no topic and starts no
    producer, and a held topic that does not exist yet holds nothing."""
    held: dict[str, HeldRecord] = {}

    def on_record(key: bytes, value: bytes | None) -> None:
        action_id = key.decode(errors="replace")
        if value is None:
            held.pop(action_id, None)
            return
        try:
            held[action_id] = HELD_ADAPTER.validate_json(value)
        except ValidationError as exc:
            raise JournalError(settings.topic_held, key, validation_reason(exc)) from None

    reader = CompactedLog(settings.kafka, settings.topic_held, on_record)
    try:
        await reader.start(missing_ok=True)
    finally:
        await reader.stop()
    return sorted(held.values(), key=lambda h: h.held_at)


async def release(
    settings: ExecutorSettings,
    config: ExecutorConfig,
    secrets: Mapping[str, SecretStr],
    action_id: str,
    who: Who,
) -> Done:
    """Deliver a held refund now, past the breaker (with the usual retries); the held record is then removed
    and the decision appended to the audit topic."""
    async with _deciding(action_id):
        journal, metrics = await _with_journal(settings, config)
        try:
            held = _held(journal, action_id, who)
            known = journal.outcomes.get(action_id)
            if known is not None and known.status in FINAL:
                # An earlier release got this far and stopped before removing the held record.
                await journal.unhold(action_id)
                await _audit(journal, settings, held, "release", known.status, who)
                return Done(action_id, known.status)
            executor = Executor(settings, config, secrets, metrics)
            async with aiohttp.ClientSession() as session:
                deliverer = Deliverer(config, secrets, metrics, session, clock=utcnow)
                status = await executor.deliver(journal, deliverer, held.action, breaker=False)
            await journal.unhold(action_id)
            await _audit(journal, settings, held, "release", status, who)
            log.warning("released %s: %s", action_id, status)
            return Done(action_id, status)
        finally:
            await _close(journal)


async def drop(settings: ExecutorSettings, config: ExecutorConfig, action_id: str, who: Who) -> Done:
    """Never send a held refund: publish `action.failed` ("dropped by a person"), remove the held record and
    append the decision to the audit topic."""
    async with _deciding(action_id):
        journal, _ = await _with_journal(settings, config)
        try:
            held = _held(journal, action_id, who)
            await journal.finish(held.action, record_for(held.action, "dropped", utcnow(), reason=DROPPED_REASON))
            await journal.unhold(action_id)
            await _audit(journal, settings, held, "drop", "dropped", who)
            log.warning("dropped %s", action_id)
            return Done(action_id, "dropped")
        finally:
            await _close(journal)


def _held(journal: Journal, action_id: str, who: Who) -> HeldRecord:
    held = journal.held.get(action_id)
    if held is None or (who.store is not None and held.action.store_id != who.store):
        raise NotHeld(action_id)
    return held


async def _audit(
    journal: Journal,
    settings: ExecutorSettings,
    held: HeldRecord,
    decision: Literal["release", "drop"],
    outcome: str,
    who: Who,
) -> None:
    a = held.action
    record = AuditRecord(
        at=utcnow(),
        action_id=a.action_id,
        order_id=a.order_id,
        store_id=a.store_id,
        decision=decision,
        operator=who.operator.strip()[:100],
        reason=who.reason.strip()[:500],
        outcome=outcome,
        via=who.via,
        signed_in_as=who.signed_in_as,
        amount=a.amount,
        currency=a.currency,
    )
    await journal.producer.send_and_wait(
        settings.topic_audit, AUDIT_ADAPTER.dump_json(record, exclude_none=True), key=a.order_id.encode()
    )
