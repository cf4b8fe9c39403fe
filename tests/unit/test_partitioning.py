"""The two partitioners, checked against librdkafka itself, and what a record's place says about its producer.

confluent-kafka's mock cluster (`test.mock.num.brokers`) runs librdkafka's own partitioners in process, on
topics it creates with 4 partitions; the embedded-broker test (tests/reliability/test_partitioner.py) checks
8 partitions on a real broker.
"""

from __future__ import annotations

import zlib

import pytest
from confluent_kafka import Producer

from streams.kafka.partitioning import Evidence, crc32_partition_for, partition_for, placement

KEYS = [f"O-{i:06d}".encode() for i in range(400)] + [b"A", b"\xff\x00\xfe", "订单-7".encode(), b"x" * 300]


def _librdkafka_places(config: dict[str, str]) -> tuple[list[tuple[bytes, int]], int]:
    producer = Producer({"test.mock.num.brokers": 1, "linger.ms": 1, **config})
    landed: list[tuple[bytes, int]] = []
    for key in KEYS:
        producer.produce(
            "placed", key=key, value=b"x", on_delivery=lambda e, m: landed.append((m.key(), m.partition()))
        )
    assert producer.flush(20) == 0
    partitions = len(producer.list_topics("placed", timeout=10).topics["placed"].partitions)
    return landed, partitions


def test_crc32_is_where_a_default_librdkafka_producer_puts_a_key() -> None:
    landed, n = _librdkafka_places({})  # no partitioner setting: librdkafka's default, consistent_random
    assert len(landed) == len(KEYS) and n > 1
    assert [(k, crc32_partition_for(k, n)) for k, _ in landed] == landed
    assert sum(partition_for(k, n) != p for k, p in landed) > len(KEYS) // 2, "murmur2 would disagree mostly"


def test_murmur2_is_where_librdkafka_murmur2_random_puts_a_key() -> None:
    landed, n = _librdkafka_places({"partitioner": "murmur2_random"})
    assert [(k, partition_for(k, n)) for k, _ in landed] == landed


def test_crc32_is_the_ieee_crc_unsigned() -> None:
    assert zlib.crc32(b"123456789") == 0xCBF43926  # the CRC-32 check value
    assert crc32_partition_for(b"123456789", 7) == 0xCBF43926 % 7
    assert all(0 <= crc32_partition_for(k, 5) < 5 for k in KEYS)


def _key(n: int, want: str) -> bytes:
    for i in range(10_000):
        key = f"K{i}".encode()
        m, c = partition_for(key, n), crc32_partition_for(key, n)
        if (want == "both") == (m == c):
            return key
    raise AssertionError(want)


@pytest.mark.parametrize("n", [2, 8, 24])
def test_placement_says_which_partitioner_could_have_put_the_key_there(n: int) -> None:
    apart, same = _key(n, "apart"), _key(n, "both")
    m, c = partition_for(apart, n), crc32_partition_for(apart, n)
    assert placement(apart, m, n) == "murmur2"
    assert placement(apart, c, n) == "crc32"
    assert placement(same, partition_for(same, n), n) == "both"
    others = [p for p in range(n) if p not in (m, c)]
    if others:
        assert placement(apart, others[0], n) == "neither"


def test_evidence_per_topic() -> None:
    ev = Evidence()
    assert ev.verdict("orders") == "unknown"
    ev.add("orders", "both")
    assert ev.verdict("orders") == "unknown", "a key both put in one place tells nothing"
    ev.add("orders", "crc32")
    ev.add("shipments", "murmur2")
    assert (ev.verdict("orders"), ev.verdict("shipments")) == ("crc32", "murmur2")
    ev.add("orders", "murmur2")
    assert ev.verdict("orders") == "mixed"
    ev.add("disputes", "neither")
    assert ev.verdict("disputes") == "neither"
    assert (ev.total("murmur2"), ev.total("crc32"), ev.total("both"), ev.total("neither")) == (2, 1, 1, 1)
