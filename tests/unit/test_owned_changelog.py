"""A former owner's late state writes, as the next owner's recovery reads the changelog (streams/kafka/faust_fixes.py).

A worker cut off from the network delivers the state writes it had in flight when the network comes back,
after the partition's next owner has written. Recovery must keep the newer owner's states: a record of an
older generation than the newest read or written in that changelog partition is skipped, also after a
restart of a worker on its own state directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from streams.kafka.faust_fixes import GENERATION_HEADER, GenerationBook, OwnedChangelogTable

CHANGELOG = "postsale-orders-changelog"


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


@dataclass
class Event:
    message: Message

    @property
    def key(self) -> Any:
        return self.message.key

    @property
    def value(self) -> Any:
        return self.message.value


def write(offset: int, key: bytes, value: bytes, generation: int | None, partition: int = 0) -> Event:
    headers = [] if generation is None else [(GENERATION_HEADER, str(generation).encode())]
    return Event(Message(CHANGELOG, partition, offset, key, value, headers))


def table(tmp_path: Path, store: str = "memory://") -> OwnedChangelogTable:
    app = faust.App("postsale-test", broker="kafka://127.0.0.1:1", store=store, datadir=str(tmp_path))
    return OwnedChangelogTable(app, name="orders", key_type=bytes, value_type=bytes)


def test_a_former_owners_write_landing_after_the_next_owners_is_skipped(tmp_path: Path) -> None:
    orders = table(tmp_path)
    orders.apply_changelog_batch(
        [
            write(0, b"o-1", b"placed", generation=0),  # worker 1 owns the partition in generation 0
            write(1, b"o-1", b"shipped", generation=1),  # worker 2 took it over: generation 1
            write(2, b"o-1", b"placed, again", generation=0),  # worker 1's write, delivered when its network is back
            write(3, b"o-2", b"placed", generation=1),
        ]
    )
    assert orders.data[b"o-1"] == b"shipped"
    assert orders.data[b"o-2"] == b"placed"
    assert orders.late_writes_skipped == 1


def test_records_without_a_generation_are_applied_as_before(tmp_path: Path) -> None:
    orders = table(tmp_path)
    orders.apply_changelog_batch([write(0, b"o-1", b"old", generation=None), write(1, b"o-1", b"new", None)])
    assert orders.data[b"o-1"] == b"new"
    assert orders.late_writes_skipped == 0


def test_generations_are_kept_per_changelog_partition(tmp_path: Path) -> None:
    orders = table(tmp_path)
    orders.apply_changelog_batch(
        [write(0, b"o-1", b"a", generation=3, partition=0), write(0, b"o-2", b"b", generation=1, partition=1)]
    )
    assert orders.data[b"o-2"] == b"b"  # generation 3 of partition 0 says nothing of partition 1


def test_own_writes_count_and_survive_a_restart_on_the_state_directory(tmp_path: Path) -> None:
    book = GenerationBook(tmp_path / "orders-changelog-generations.json")
    tp = TP(CHANGELOG, 0)
    book.note(tp, 2)  # this worker wrote in generation 2 (before its RocksDB persisted the offset)
    book.note(tp, 1)  # never goes back
    restarted = GenerationBook(tmp_path / "orders-changelog-generations.json")
    assert restarted.newest(tp) == 2
    assert restarted.newest(TP(CHANGELOG, 1)) == -1


def test_a_rocksdb_table_keeps_its_generations_beside_its_state(tmp_path: Path) -> None:
    orders = table(tmp_path, store="rocksdb://")
    assert orders.newest_generation.path is not None
    orders.newest_generation.note(TP(CHANGELOG, 0), 4)
    again = table(tmp_path, store="rocksdb://")
    assert again.newest_generation.newest(TP(CHANGELOG, 0)) == 4
    assert table(tmp_path).newest_generation.path is None  # the memory store reads the whole changelog again


def test_an_unreadable_generations_file_is_taken_as_nothing_known(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text("{not json")
    assert GenerationBook(path).newest(TP(CHANGELOG, 0)) == -1
