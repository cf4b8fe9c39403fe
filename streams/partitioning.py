"""Which partition a key belongs on: the murmur2 of the Java client and aiokafka (the worker's default)."""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=1 << 16)  # an order's key comes back with each of its events; murmur2 here is pure Python
def partition_for(key: bytes, partitions: int) -> int:
    """The partition the Java client and aiokafka choose for a key (murmur2, positive, modulo)."""
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)
