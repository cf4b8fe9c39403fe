"""Which partition a key belongs on: the murmur2 of the Java client and aiokafka (the worker's default)."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the Java client and aiokafka choose for a key (murmur2, positive, modulo)."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)
