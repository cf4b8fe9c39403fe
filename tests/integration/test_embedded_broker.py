"""The embedded broker against a real Tansu process: never skipped.

Every other integration test stands on this fixture, so it checks what they
rely on: keyed records keep their partition, a consumer reads back what was
produced, topic creation is idempotent and explicit about its configs, and
pause/resume really makes the broker unresponsive and then healthy again.
Waits are polls with a deadline; no test sleeps for an effect.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.demo.broker import EmbeddedBroker
from streams.kafka.admin import BrokerError, create_topics, create_topics_sync, normalize_bootstrap

PARTITIONS = 8
DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    """A broker of this module's own, shadowing the session one in conftest.

    The pause test freezes it, which must not disturb other modules' workers;
    a Tansu starts in well under a second, so isolation costs nothing.
    """
    with EmbeddedBroker() as b:
        yield b


async def _consume(
    bootstrap: str, topic: str, expected: int, deadline_s: float = DEADLINE_S
) -> list[tuple[int, bytes, bytes]]:
    """Read ``topic`` from the start until ``expected`` records or the deadline."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list[tuple[int, bytes, bytes]] = []
    try:
        deadline = time.monotonic() + deadline_s
        while len(out) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for tp, records in batches.items():
                for r in records:
                    assert r.key is not None and r.value is not None
                    out.append((tp.partition, r.key, r.value))
    finally:
        await consumer.stop()
    return out


def test_addresses_and_process(broker: EmbeddedBroker) -> None:
    assert broker.running
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert broker.url == f"kafka://127.0.0.1:{broker.port}"
    assert normalize_bootstrap(broker.url) == [broker.bootstrap]
    assert Path(f"/proc/{broker.pid}").exists()
    assert broker.log_path.exists()


def test_keyed_round_trip_on_8_partitions(broker: EmbeddedBroker) -> None:
    topic = "roundtrip"
    create_topics_sync(broker.bootstrap, [topic], PARTITIONS)
    keys = [f"order-{i}".encode() for i in range(200)]

    async def run() -> tuple[dict[bytes, int], list[tuple[int, bytes, bytes]]]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        placed: dict[bytes, int] = {}
        try:
            # Two records per key: both must land on the key's partition.
            for round_ in range(2):
                for key in keys:
                    md = await producer.send_and_wait(topic, key=key, value=b"%d" % round_)
                    assert placed.setdefault(key, md.partition) == md.partition
        finally:
            await producer.stop()
        return placed, await _consume(broker.bootstrap, topic, 2 * len(keys))

    placed, consumed = asyncio.run(run())
    assert len(set(placed.values())) == PARTITIONS  # 200 keys cover all 8
    assert len(consumed) == 2 * len(keys)
    for partition, key, _ in consumed:
        assert placed[key] == partition
    # Per-key order is kept within its partition.
    per_key: dict[bytes, list[bytes]] = {}
    for _, key, value in consumed:
        per_key.setdefault(key, []).append(value)
    assert all(v == [b"0", b"1"] for v in per_key.values())


def test_create_topics_is_idempotent_and_explicit(broker: EmbeddedBroker) -> None:
    names = ["ct-orders", "ct-shipments", "ct-changelog"]
    create_topics_sync(broker.url, names, PARTITIONS, compacted=["ct-changelog"])
    create_topics_sync(broker.bootstrap, names, PARTITIONS)  # again: no error

    async def inspect() -> tuple[dict[str, int], dict[str, dict[str, str]]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            meta = await admin.describe_topics(names)
            counts = {t["topic"]: len(t["partitions"]) for t in meta}
            responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        finally:
            await admin.close()
        configs: dict[str, dict[str, str]] = {}
        for resp in responses:
            for res in resp.resources:
                # (error_code, error_message, type, name, entries)
                configs[res[3]] = {e[0]: e[1] for e in res[4]}
        return counts, configs

    counts, configs = asyncio.run(inspect())
    assert counts == dict.fromkeys(names, PARTITIONS)
    assert configs["ct-orders"]["cleanup.policy"] == "delete"
    assert configs["ct-changelog"]["cleanup.policy"] == "compact"
    for name in names:
        assert configs[name]["retention.ms"] == "604800000"
        assert configs[name]["retention.bytes"] == "-1"


def test_create_topics_rejects_other_partition_count(broker: EmbeddedBroker) -> None:
    create_topics_sync(broker.bootstrap, ["ct-mismatch"], PARTITIONS)
    with pytest.raises(BrokerError, match="partition count"):
        create_topics_sync(broker.bootstrap, ["ct-mismatch"], 4)
    with pytest.raises(ValueError, match="compacted"):
        create_topics_sync(broker.bootstrap, ["a"], 1, compacted=["b"])


def test_create_topics_inside_a_running_loop(broker: EmbeddedBroker) -> None:
    async def run() -> None:
        await create_topics(broker.bootstrap, ["ct-async"], 2)
        create_topics_sync(broker.bootstrap, ["ct-async-sync"], 2)  # loop running

    asyncio.run(run())


def test_pause_blocks_produce_and_resume_recovers(broker: EmbeddedBroker) -> None:
    topic = "paused"
    create_topics_sync(broker.bootstrap, [topic], PARTITIONS)

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=b"k", value=b"before")
            broker.pause()
            try:
                assert broker.paused
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(producer.send_and_wait(topic, key=b"k", value=b"during"), 1.5)
            finally:
                broker.resume()
            assert not broker.paused
            md = await asyncio.wait_for(producer.send_and_wait(topic, key=b"k", value=b"after"), DEADLINE_S)
            assert md.offset >= 1
        finally:
            await producer.stop()
        values = [v for _, _, v in await _consume(broker.bootstrap, topic, 2)]
        assert values[0] == b"before" and values[-1] == b"after"

    asyncio.run(run())


def test_stop_is_clean_and_idempotent() -> None:
    b = EmbeddedBroker().start()
    pid = b.pid
    b.pause()
    b.stop()  # a paused broker must still stop promptly
    b.stop()
    assert not b.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_binary_and_failed_start_are_clear(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="missing or not executable"):
        EmbeddedBroker(binary=tmp_path / "nope").start()
    failing = tmp_path / "failing-broker"
    failing.write_text("#!/bin/sh\necho 'boom: cannot bind' >&2\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(BrokerError, match="boom: cannot bind"):
        EmbeddedBroker(binary=failing, startup_timeout=5).start()


def test_explicit_port_in_use_fails_fast(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match="another process|exited|did not answer"):
        EmbeddedBroker(port=broker.port, startup_timeout=5).start()
    assert broker.running
