"""`postsale actions` against the real broker: a listing only reads; a decision answers in JSON when asked."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.demo.broker import EmbeddedBroker
from streams.executor.outcomes import HELD_ADAPTER, HeldRecord
from streams.kafka.admin import create_topics
from tests.integration.executor_support import executor_env, write_config
from tests.integration.kafka import ROOT, free_port, new_wire
from tests.unit.executor.factories import refund

pytestmark = [pytest.mark.broker]


def topics(broker: EmbeddedBroker) -> set[str]:
    async def names() -> set[str]:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        try:
            return set(await consumer.topics())
        finally:
            await consumer.stop()

    return asyncio.run(names())


def actions(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`postsale actions ARGS…` as a person runs it."""
    return subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "streams.cli", "actions", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_listing_held_refunds_creates_no_topic(broker: EmbeddedBroker, tmp_path: Path) -> None:
    wire = new_wire(broker, "list", partitions=1)
    env = executor_env(wire, write_config(tmp_path, free_port()))
    before = topics(broker)
    listed = actions(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert orjson.loads(listed.stdout) == {"held": []}
    table = actions(env, "list")
    assert table.returncode == 0 and "0 held refunds" in table.stdout, table.stderr
    assert topics(broker) == before, "a listing created topics"


def test_a_held_refund_is_listed_then_dropped_with_a_json_answer(broker: EmbeddedBroker, tmp_path: Path) -> None:
    wire = new_wire(broker, "drop", partitions=1)
    env = executor_env(wire, write_config(tmp_path, free_port()))
    held_topic = env["POSTSALE_EXECUTOR_TOPIC_HELD"]
    action = refund(order_id="H-1", amount="900.00")
    held = HeldRecord(action=action, held_at=datetime(2026, 11, 11, 11, tzinfo=UTC), reason="above 500 USD")

    async def hold() -> None:  # as the running executor's breaker would
        await create_topics(broker.bootstrap, [held_topic], 1, compacted=[held_topic])
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(held_topic, HELD_ADAPTER.dump_json(held), key=action.action_id.encode())
        finally:
            await producer.stop()

    asyncio.run(hold())
    before = topics(broker)
    listed = actions(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = orjson.loads(listed.stdout)["held"]
    assert (row["action"]["action_id"], row["action"]["amount"], row["reason"]) == (
        action.action_id,
        "900.00",
        held.reason,
    )
    assert topics(broker) == before, "a listing created topics"

    dropped = actions(env, "drop", action.action_id, "--operator", "Ana Lima", "--reason", "a duplicate", "--json")
    assert dropped.returncode == 0, dropped.stderr
    assert orjson.loads(dropped.stdout) == {
        "action_id": action.action_id,
        "decision": "drop",
        "status": "dropped",
        "operator": "Ana Lima",
        "reason": "a duplicate",
    }
    assert orjson.loads(actions(env, "list", "--json").stdout) == {"held": []}
    again = actions(env, "drop", action.action_id, "--reason", "again", "--json")
    assert again.returncode == 1 and again.stdout == ""
    assert (
        again.stderr.strip().splitlines()[-1]
        == f"{action.action_id} is not held (unknown, or already released or dropped)"
    )
