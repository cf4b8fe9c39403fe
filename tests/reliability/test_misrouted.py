"""Producers that disagree on the partitioner: the worker sends misplaced events on, or dead-letters them.

Shipments are produced with confluent-kafka (librdkafka, default partitioner
`consistent_random`, i.e. CRC32), everything else with aiokafka (murmur2, as
the Java client). Most shipments land on a partition where their order is
not: the worker must send each on to the partition of its key and decide it
there, so that the decisions equal `postsale replay`'s.

A rerouted event reaches its partition later than its neighbours. To compare
decisions exactly, the stream is produced in event-time order, in steps that
wait until the worker has read what was sent (docs/reliability.md explains
what a late arrival changes when nobody waits).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka import Producer

from models.events import topic_of
from streams.demo.broker import EmbeddedBroker
from streams.kafka.partitioning import partition_for
from tests.integration.kafka import Wire, free_port, new_wire, send_clock, start_worker
from tests.integration.reference import replay_actions
from tests.reliability.support import Tail, audit, distinct_ids, metric_sum, report, scrape, simulated, wait_scrape

pytestmark = [pytest.mark.broker, pytest.mark.slow]


class ConfluentShipments:
    """confluent-kafka with its defaults (the partitioner included); remembers where each record landed."""

    def __init__(self, wire: Wire) -> None:
        self.producer = Producer({"bootstrap.servers": wire.broker.bootstrap, "linger.ms": 2, "acks": "all"})
        self.landed: list[tuple[bytes, int]] = []
        self.errors: list[str] = []

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.landed.append((msg.key(), msg.partition()))

    def send(self, topic: str, events: list[dict[str, Any]]) -> None:
        for e in events:
            self.producer.produce(topic, key=e["order_id"].encode(), value=orjson.dumps(e), on_delivery=self._delivered)
        assert self.producer.flush(30) == 0, "confluent-kafka could not deliver"
        assert not self.errors, self.errors


def wait_consumed(port: int, topics: list[str], count: int, timeout: float = 30) -> None:
    """Until the worker has decoded `count` events from `topics` (on their right partitions)."""
    deadline = time.monotonic() + timeout
    seen = 0.0
    while time.monotonic() < deadline:
        text = scrape(port)
        seen = sum(metric_sum(text, "postsale_events_consumed_total", topic=t) for t in topics)
        if seen >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the worker decoded {seen} of {count} events of {topics} in {timeout} s")


def steps(events: list[dict[str, Any]], partitions: int) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """The stream cut into (aiokafka part, confluent part): a run of other events, then a run of shipments.

    Copies sent on from different partitions reach their common destination in any order, so a run of
    shipments is cut where a destination partition would get a second order's shipments: within a step,
    each destination gets the shipments of one order, in order (one key, one source partition)."""
    out: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    others: list[dict[str, Any]] = []
    ships: list[dict[str, Any]] = []
    owner: dict[int, str] = {}
    for e in events:
        if topic_of(e["type"]) == "shipments":
            home = partition_for(e["order_id"].encode(), partitions)
            if owner.setdefault(home, e["order_id"]) != e["order_id"]:
                out.append((others, ships))
                others, ships, owner = [], [], {home: e["order_id"]}
            ships.append(e)
        else:
            if ships:
                out.append((others, ships))
                others, ships, owner = [], [], {}
            others.append(e)
    out.append((others, ships))
    return out


async def _aiokafka_send(producer: AIOKafkaProducer, wire: Wire, events: list[dict[str, Any]]) -> None:
    futs = [
        await producer.send(wire.topics[topic_of(e["type"])], orjson.dumps(e), key=e["order_id"].encode())
        for e in events
    ]
    for f in futs:
        await f


def test_misplaced_events_are_sent_on_and_decided_as_replay_does(broker: EmbeddedBroker, tmp_path: Path) -> None:
    import asyncio

    started = time.monotonic()
    events, until = simulated(seed=31, orders=40)
    expected = replay_actions(events, until)
    wire = new_wire(broker, "misrouted")
    t = wire.topics
    port = free_port()
    tail = Tail(wire, "actions")
    worker = start_worker(wire, tmp_path, POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port))
    confluent = ConfluentShipments(wire)
    plan = steps(events, wire.partitions)

    async def feed() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=2, acks="all")
        await producer.start()
        try:
            others_sent = ships_sent = 0
            for others, ships in plan:
                if others:
                    await _aiokafka_send(producer, wire, others)
                    others_sent += len(others)
                    wait_consumed(port, [t["orders"], t["disputes"]], others_sent)
                if ships:
                    confluent.send(t["shipments"], ships)
                    ships_sent += len(ships)
                    wait_consumed(port, [t["shipments"]], ships_sent)
        finally:
            await producer.stop()

    try:
        wait_scrape(port)
        asyncio.run(feed())
        send_clock(wire, until)
        records = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=90, quiet=2.0)
        metrics = scrape(port)
        assert worker.alive(), worker.log_text()[-3000:]
    finally:
        code = worker.stop()
        tail.close()
    misplaced = [(k, p) for k, p in confluent.landed if p != partition_for(k, wire.partitions)]
    shipments = [e for e in events if topic_of(e["type"]) == "shipments"]
    assert len(misplaced) > len(shipments) // 2, "librdkafka's partitioner should disagree with murmur2 mostly"
    counted = metric_sum(metrics, "postsale_misrouted_events_total", topic=t["shipments"])
    assert counted == len(misplaced), (counted, len(misplaced))
    for topic in (t["orders"], t["disputes"]):
        assert metric_sum(metrics, "postsale_misrouted_events_total", topic=topic) == 0
    assert metric_sum(metrics, "postsale_invalid_records_total") == 0

    # The copies sent on: on the key's partition, marked with where they came from, the original bytes.
    copies = Tail(wire, "shipments")
    try:
        on_topic = copies.wait(lambda rs: len(rs) >= len(shipments) + len(misplaced), timeout=30)
    finally:
        copies.close()
    rerouted = [r for r in on_topic if any(k == "postsale.rerouted-from" for k, _ in r.headers)]
    assert len(rerouted) == len(misplaced)
    originals = {(r.key, r.value) for r in on_topic if r not in rerouted}
    for r in rerouted:
        assert r.partition == partition_for(r.key, wire.partitions)
        assert int(dict(r.headers)["postsale.rerouted-from"]) != r.partition
        assert (r.key, r.value) in originals, "the copy is the original record"

    result = audit(records, expected)
    report(
        "misrouted",
        events_processed=len(events),
        shipments_by_librdkafka=len(shipments),
        misplaced_and_rerouted=len(misplaced),
        produce_steps=len(plan),
        actions_lost=len(result.missing),
        extra_actions=len(result.extra),
        distinct_duplicate_decisions=len(result.double_refunds) + len(result.repeats_not_identical),
        seconds=round(time.monotonic() - started, 1),
    )
    assert result.ok, result.explain()
    assert code == 0, worker.log_text()[-3000:]


def test_misplaced_events_can_be_dead_lettered_instead(broker: EmbeddedBroker, tmp_path: Path) -> None:
    events, _ = simulated(seed=32, orders=15)
    shipments = [e for e in events if topic_of(e["type"]) == "shipments"]
    wire = new_wire(broker, "misrouted-dl")
    port = free_port()
    worker = start_worker(
        wire, tmp_path, POSTSALE_MISROUTED="dead_letter", POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port)
    )
    confluent = ConfluentShipments(wire)
    try:
        confluent.send(wire.topics["shipments"], shipments)
        misplaced = [(k, p) for k, p in confluent.landed if p != partition_for(k, wire.partitions)]
        dead = Tail(wire, "dead_letter")
        try:
            letters = dead.wait(lambda rs: len(rs) >= len(misplaced), timeout=60, quiet=1.0)
        finally:
            dead.close()
        metrics = scrape(port)
    finally:
        worker.stop()
    reasons = [dict(r.headers)["postsale.reason"] for r in letters]
    assert reasons.count(b"misrouted") == len(misplaced) > 0
    assert metric_sum(metrics, "postsale_misrouted_events_total", topic=wire.topics["shipments"]) == len(misplaced)
