"""The executor's memory and its writes, in the order that makes a crash harmless.

Memory: outcomes by action id, held refunds by action id, and the refunds
sent (for the breaker), all rebuilt from the two compacted topics at start-up.

Writes, for a held refund: `action.held` to the input topic, the held record,
then the outcome `held`. Writes, for a finished action: first the outcome event(s) to the input topic,
then the dead letter (if it failed), then the outcome record; the caller
commits the action's offset last. A crash before the outcome record means the
action is delivered again under the same idempotency key and its events are
repeated under the same event ids; a crash after it means the action is
skipped. Either way the receiver and the engine see it once.
"""

from __future__ import annotations

import logging
from datetime import datetime

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from models.actions import Action
from models.events import topic_of
from streams.executor.breaker import RefundBook
from streams.executor.config import Breaker
from streams.executor.logs import CompactedLog
from streams.executor.metrics import ExecutorMetrics
from streams.executor.outcomes import (
    HELD_ADAPTER,
    OUTCOME_ADAPTER,
    HeldRecord,
    OutcomeRecord,
    events_for,
    held_event,
    record_for,
)
from streams.executor.redact import validation_reason
from streams.executor.routing import is_customer_refund
from streams.executor.settings import ExecutorSettings

log = logging.getLogger("postsale.executor")


class JournalError(RuntimeError):
    """A record in the executor's own topics that cannot be read: the executor stops rather than forget an
    outcome (and call a receiver twice). Names the topic, the key and the field, never the record's content."""

    def __init__(self, topic: str, key: bytes, reason: str) -> None:
        super().__init__(f"{topic}: the record keyed {key[:64]!r} cannot be read ({reason}); fix or delete it")


__all__ = ["Journal", "JournalError", "is_customer_refund"]


class Journal:
    def __init__(
        self, settings: ExecutorSettings, breaker: Breaker, metrics: ExecutorMetrics, producer: AIOKafkaProducer
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.producer = producer
        self.outcomes: dict[str, OutcomeRecord] = {}
        self.held: dict[str, HeldRecord] = {}
        self.book = RefundBook(breaker)
        self._outcome_log = CompactedLog(settings.kafka, settings.topic_outcomes, self._on_outcome)
        self._held_log = CompactedLog(settings.kafka, settings.topic_held, self._on_held)
        k = settings.kafka
        self._input_topics = {"orders": k.topic_orders, "shipments": k.topic_shipments, "disputes": k.topic_disputes}

    async def open(self) -> None:
        await self._outcome_log.start()
        await self._held_log.start()
        self._update_held_metrics()
        log.info("journal: %d outcomes, %d held refunds", len(self.outcomes), len(self.held))

    async def close(self) -> None:
        await self._outcome_log.stop()
        await self._held_log.stop()

    async def catch_up(self) -> None:
        """Read both topics to their end (after a rebalance: another executor may have finished actions)."""
        await self._outcome_log.catch_up()
        await self._held_log.catch_up()

    async def refresh(self) -> None:
        """Apply what arrived meanwhile, without waiting (releases and drops made through the CLI)."""
        await self._outcome_log.poll()
        await self._held_log.poll()

    # --- writes -----------------------------------------------------------------------------------------

    async def finish(self, action: Action, record: OutcomeRecord) -> None:
        """Publish the outcome events, the dead letter if any, then the outcome record (all acknowledged)."""
        if record.status == "dry_run":
            return
        for event in events_for(action, record):
            topic = self._input_topics[topic_of(event.type)]
            await self.producer.send_and_wait(
                topic, event.model_dump_json(exclude_none=True).encode(), key=action.order_id.encode()
            )
        if record.status in ("failed", "rejected"):
            letter = {
                "action": orjson.loads(action.model_dump_json(exclude_none=True)),
                "status": record.status,
                "reason": record.reason,
                "attempts": record.attempts,
                "http_status": record.http_status,
                "failed_at": record.at.isoformat(),
            }
            await self.producer.send_and_wait(
                self.settings.topic_failed, orjson.dumps(letter), key=action.order_id.encode()
            )
        await self._write_outcome(record)

    async def hold(self, action: Action, reason: str, at: datetime) -> None:
        """Park a refund for a person: `action.held` to the engine (which escalates it to a person), the held
        record, then an outcome `held` so a restart does not re-check it."""
        event = held_event(action, reason, at)
        await self.producer.send_and_wait(
            self._input_topics[topic_of(event.type)],
            event.model_dump_json(exclude_none=True).encode(),
            key=action.order_id.encode(),
        )
        held = HeldRecord(action=action, held_at=at, reason=reason)
        await self.producer.send_and_wait(
            self.settings.topic_held, HELD_ADAPTER.dump_json(held), key=action.action_id.encode()
        )
        self._on_held(action.action_id.encode(), HELD_ADAPTER.dump_json(held))
        await self._write_outcome(record_for(action, "held", at, reason=reason))
        self.metrics.held_total.labels(self.metrics.store(action.store_id)).inc()

    async def unhold(self, action_id: str) -> None:
        await self.producer.send_and_wait(self.settings.topic_held, None, key=action_id.encode())
        self._on_held(action_id.encode(), None)

    async def _write_outcome(self, record: OutcomeRecord) -> None:
        raw = OUTCOME_ADAPTER.dump_json(record, exclude_none=True)
        await self.producer.send_and_wait(self.settings.topic_outcomes, raw, key=record.action_id.encode())
        self._on_outcome(record.action_id.encode(), raw)

    # --- memory -----------------------------------------------------------------------------------------

    def _on_outcome(self, key: bytes, value: bytes | None) -> None:
        action_id = key.decode(errors="replace")
        if value is None:
            self.outcomes.pop(action_id, None)
            self.book.forget(action_id)
            return
        try:
            rec = OUTCOME_ADAPTER.validate_json(value)
        except ValidationError as exc:
            raise JournalError(self.settings.topic_outcomes, key, validation_reason(exc)) from None
        self.outcomes[action_id] = rec
        if rec.sent_at is not None and rec.party == "customer" and rec.currency and rec.amount is not None:
            self.book.record(action_id, rec.store_id, rec.currency, rec.amount, rec.sent_at)

    def _on_held(self, key: bytes, value: bytes | None) -> None:
        action_id = key.decode(errors="replace")
        if value is None:
            self.held.pop(action_id, None)
        else:
            try:
                self.held[action_id] = HELD_ADAPTER.validate_json(value)
            except ValidationError as exc:
                raise JournalError(self.settings.topic_held, key, validation_reason(exc)) from None
        self._update_held_metrics()

    def _update_held_metrics(self) -> None:
        self.metrics.set_held((h.action.store_id, h.action.currency, h.action.amount) for h in self.held.values())
