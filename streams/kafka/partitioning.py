"""Which partition a key belongs on, for the two partitioners producers use, and what a record's place says.

The Java client and aiokafka hash keys with murmur2; librdkafka (confluent-kafka, the Go and .NET clients,
kcat) defaults to `consistent_random`, the CRC32 of the key. A store whose producers all use one of them has
co-partitioned topics; the worker must know which, and can tell it from where keyed records landed.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Literal

from aiokafka.partitioner import murmur2

Partitioner = Literal["murmur2", "crc32"]
Placement = Literal["murmur2", "crc32", "both", "neither"]
PLACEMENTS: tuple[Placement, ...] = ("murmur2", "crc32", "both", "neither")


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the Java client and aiokafka choose for a key (murmur2, positive, modulo)."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def crc32_partition_for(key: bytes, partitions: int) -> int:
    """The partition librdkafka's default partitioner (`consistent_random`) chooses for a non-empty key: the
    CRC-32 (IEEE, as zlib) of the key, unsigned, modulo the partition count. An empty or null key is placed
    at random by librdkafka; postsale never accepts one (the key is the order id)."""
    return zlib.crc32(key) % partitions


def placement(key: bytes, partition: int, partitions: int) -> Placement:
    """Which partitioner could have put `key` on `partition`: one of them, both (they agree for this key), or
    neither (a producer that chose the partition itself, or another partitioner)."""
    return placement_of(partition_for(key, partitions), crc32_partition_for(key, partitions), partition)


def placement_of(by_murmur2: int, by_crc32: int, partition: int) -> Placement:
    """`placement`, given where each partitioner puts the key."""
    if by_murmur2 == partition:
        return "both" if by_crc32 == partition else "murmur2"
    return "crc32" if by_crc32 == partition else "neither"


class Evidence:
    """A running tally, per topic, of where keyed records landed, and what it says about the producers.

    Only records that tell the partitioners apart (placed by one and not the other) are evidence; with n
    partitions that is about (n - 1) / n of the keys."""

    def __init__(self) -> None:
        self.tally: dict[str, Counter[Placement]] = {}

    def add(self, topic: str, where: Placement) -> None:
        tally = self.tally.get(topic)  # called per record: no Counter made for nothing
        if tally is None:
            tally = self.tally[topic] = Counter()
        tally[where] += 1

    def verdict(self, topic: str) -> str:
        """`murmur2` or `crc32` (every record that tells them apart says so), `mixed` (some say each),
        `neither` (records placed by neither, none by one alone), or `unknown` (nothing tells them apart yet)."""
        c = self.tally.get(topic)
        if c is None:
            return "unknown"
        m, k = c["murmur2"], c["crc32"]
        if m and k:
            return "mixed"
        if m:
            return "murmur2"
        if k:
            return "crc32"
        return "neither" if c["neither"] else "unknown"

    def total(self, where: Placement) -> int:
        return sum(c[where] for c in self.tally.values())


def crc32_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """librdkafka's partitioner in aiokafka's (and Faust's) form, so that the app's own key routing (the order
    view's forwarding to the owner of an order) agrees with CRC32 producers. Only keyed sends use it."""
    if key is None:
        return (available or all_partitions)[0]
    return all_partitions[crc32_partition_for(key, len(all_partitions))]
