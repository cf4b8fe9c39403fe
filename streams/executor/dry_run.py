"""`postsale execute --dry-run`: read actions and log what would be done; call, write and commit nothing."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from models.actions import parse_action
from streams.executor.config import ExecutorConfig, WebhookEndpoint
from streams.executor.redact import validation_reason
from streams.executor.routing import endpoint_type, is_customer_refund
from streams.executor.settings import ExecutorSettings
from streams.kafka.auth import kafka_options

log = logging.getLogger("postsale.executor")


def describe(config: ExecutorConfig, raw: bytes | None) -> str:
    """One log line: the action and where it would go."""
    try:
        action = parse_action(raw if raw is not None else b"")
    except ValidationError as exc:
        return f"invalid action (would be dead-lettered): {validation_reason(exc)}"
    try:
        target = config.target(endpoint_type(action), action.store_id)
    except KeyError as exc:
        return f"{action.action_id} {action.type}: would fail: {exc.args[0]}"
    where = "log only" if target is None else f"POST {target[0]}"
    money = f" {action.party} {action.amount} {action.currency}" if action.amount is not None else ""
    ep = config.endpoint_for(endpoint_type(action))
    note = (
        " (pays the customer: breaker applies)"
        if isinstance(ep, WebhookEndpoint) and is_customer_refund(action)
        else ""
    )

    return f"{action.action_id} {action.type}{money} order {action.order_id} store {action.store_id}: {where}{note}"


async def run_dry(settings: ExecutorSettings, config: ExecutorConfig, stop: asyncio.Event, from_beginning: bool) -> int:
    k = settings.kafka
    consumer = AIOKafkaConsumer(
        k.topic_actions,
        **kafka_options(k),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    n = 0
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    n += 1
                    log.warning("dry run: %s", describe(config, r.value))
    finally:
        await consumer.stop()
    return n
