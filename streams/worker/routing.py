"""Which partition an order's events belong on: the partitioner, what the records show about it, and refusal.

The store's producers decide where an order's events land; the worker must agree with them, or it reroutes
most events and decides them late (a copy sent on arrives after its partition's clock has moved). So every
keyed record is evidence: murmur2 and crc32 place a key on different partitions for most keys, and where a
record landed says which of them its producer used. A setting the records contradict is not guessed around:
the worker stops deciding, says why, and leaves the records unacknowledged, to be read again once the
setting is fixed (docs/reliability.md, "Misrouted events").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from streams.kafka.partitioning import (
    Evidence,
    Partitioner,
    Placement,
    crc32_partition_for,
    partition_for,
    placement_of,
)
from streams.settings import Settings
from streams.worker.metrics import PARTITIONER_VERDICTS, Metrics

LIBRDKAFKA = "crc32, librdkafka's default consistent_random"
# Keys whose homes are remembered: an order's events come several times, and murmur2 is pure Python (a tenth
# of a worker's own CPU per event when computed for every record). Emptied when full.
HOMES_KEPT = 1 << 17
WAITING_MAX = 50  # times partitioner_evidence_records: records kept waiting at most (memory), then refused
NAMES = {"murmur2": "murmur2, the Java client's and aiokafka's", "crc32": LIBRDKAFKA}


@dataclass(frozen=True)
class Route:
    """What to do with a decoded record: decide it `here`, `reroute` it to `home`, let it `wait` until the
    setting is confirmed (unacknowledged), or `refuse` it (unacknowledged: read again after a restart)."""

    action: Literal["here", "reroute", "wait", "refuse"]
    home: int


@dataclass
class Waiting:
    """A misplaced record kept (unacknowledged) until a record confirms the configured partitioner."""

    source: int
    record: Any
    home: int
    at: datetime | None = None  # its event time: no partition's clock passes it while it waits


class Routing:
    """The worker's partitioner, the evidence about the producers' one, and whether the worker may decide.

    - `murmur2`, `crc32`: the setting names the home partition. A misplaced record is sent on (or
      dead-lettered), except one where the other partitioner puts its key before any record has confirmed
      the setting: it waits, unacknowledged, until one does. When `partitioner_evidence_records` such records
      came first and every input topic has had its say (`weigh`), the setting is contradicted: the worker
      refuses. With `misrouted=dead_letter` nothing
      waits and nothing is refused: a dead letter keeps the record and says where it came from.
    - `auto`: the home is what `partitioner_evidence_records` records that tell the partitioners apart show,
      all alike; nothing is decided before. Producers that disagree (a record of each, or one placed by
      neither) make it refuse: auto never reroutes.
    - `none`: no check; homes by murmur2 (the table's own partitioner).
    """

    def __init__(self, settings: Settings, metrics: Metrics, log: logging.Logger) -> None:
        self.setting = settings.partitioner
        self.partitions = settings.partitions
        self.needed = settings.partitioner_evidence_records
        self.topics = settings.input_topics
        self.metrics = metrics
        self.log = log
        self.evidence = Evidence()
        self.chosen: Partitioner | None = None
        if self.setting == "murmur2" or self.setting == "crc32":
            self.chosen = self.setting
        elif self.setting == "none":
            self.chosen = "murmur2"
        self.confirmed = self.setting == "none"  # a record that tells them apart agreed with `chosen`
        self.refusal: str | None = None
        self.waiting: list[Waiting] = []
        self.doubted = 0  # records where the other partitioner puts their key, before any confirmation
        self.dead_letters = settings.misrouted == "dead_letter"
        self.copies = False  # a misplaced record was read: any partition may be sending copies on
        self._said: dict[str, str] = {}
        self._homes: dict[bytes, tuple[int, int]] = {}  # key -> (murmur2's partition, crc32's)

    @property
    def deciding(self) -> bool:
        return self.refusal is None and self.chosen is not None

    @property
    def reroutes(self) -> bool:
        """Whether misplaced records are sent on (so copies may be in flight to any partition)."""
        return self.setting in ("murmur2", "crc32")

    def home(self, key: bytes) -> int | None:
        """The key's home partition; None while `auto` has not settled."""
        if self.chosen is None:
            return None
        by_murmur2, by_crc32 = self.homes(key)
        return by_murmur2 if self.chosen == "murmur2" else by_crc32

    def homes(self, key: bytes) -> tuple[int, int]:
        """Where murmur2 and crc32 put `key`."""
        homes = self._homes.get(key)
        if homes is None:
            if len(self._homes) >= HOMES_KEPT:
                self._homes.clear()
            homes = self._homes[key] = (partition_for(key, self.partitions), crc32_partition_for(key, self.partitions))
        return homes

    def placement(self, key: bytes, partition: int) -> Placement:
        """Which partitioner could have put `key` on `partition` (`streams.kafka.partitioning.placement`)."""
        return placement_of(*self.homes(key), partition)

    def route(self, topic: str, key: bytes, partition: int) -> Route:
        """Count where the record landed, then say what to do with it."""
        where = self.placement(key, partition)
        self.evidence.add(topic, where)
        self.metrics.child(self.metrics.partitioner_evidence, topic=topic, placement=where).inc()
        self._report(topic)
        if self.refusal is not None:
            return Route("refuse", partition)
        if self.setting == "none" or where == "both":
            return Route("here", partition)
        if self.setting == "auto":
            return self._auto(topic, where, partition)
        chosen = self.chosen
        assert chosen is not None
        home = self.homes(key)[0 if chosen == "murmur2" else 1]
        if where == chosen:
            self.confirm(topic, "a record is where it puts its key")
            return Route("here", partition)
        if self.confirmed or where == "neither" or self.dead_letters:
            # (A dead letter is no guess about the home: it keeps the record and says where it came from.)
            return Route("reroute", home)
        # Where the other partitioner puts the key, and nothing has confirmed the setting yet: sending it on
        # would be a guess. It waits; `weigh` decides when the setting is contradicted.
        self.doubted += 1
        if len(self.waiting) >= WAITING_MAX * self.needed:
            self.refuse(
                f"POSTSALE_PARTITIONER={chosen}, but {self.doubted} records where the other partitioner puts "
                f"their key came before any that confirms it (still silent: {self._silent_topics()})"
            )
            return Route("refuse", partition)
        return Route("wait", home)

    def weigh(self, caught_up: set[str]) -> None:
        """Refuse the setting once `partitioner_evidence_records` records contradict it, none confirms it, and
        every input topic has had its say: shown a record that tells the partitioners apart, or been read to
        its end (`caught_up`). A topic still being read may yet confirm it: a restarted worker often reads a
        backlog of one topic before the others."""
        if self.confirmed or self.refusal is not None or self.doubted < self.needed or self.chosen is None:
            return
        if any(self._silent(t) and t not in caught_up for t in self.topics):
            return
        other = "crc32" if self.chosen == "murmur2" else "murmur2"
        self.refuse(
            f"POSTSALE_PARTITIONER={self.chosen}, but the first {self.doubted} records that tell the partitioners "
            f"apart are all where {NAMES[other]} puts their key, none where {self.chosen} does; "
            f"set POSTSALE_PARTITIONER={other} (or auto)"
        )

    def _silent(self, topic: str) -> bool:
        c = self.evidence.tally.get(topic)
        return c is None or not (c["murmur2"] or c["crc32"] or c["neither"])

    def _silent_topics(self) -> str:
        return ", ".join(t for t in self.topics if self._silent(t)) or "none"

    def _auto(self, topic: str, where: Placement, partition: int) -> Route:
        if where == "neither":
            self.refuse(
                f"POSTSALE_PARTITIONER=auto, but a record on {topic} is where neither murmur2 nor crc32 puts its "
                "key: a producer chooses partitions itself; set POSTSALE_PARTITIONER to reroute such records"
            )
            return Route("refuse", partition)
        mine: Partitioner = "murmur2" if where == "murmur2" else "crc32"
        other: Partitioner = "crc32" if mine == "murmur2" else "murmur2"
        if self.chosen == other or self.evidence.total(other):
            self.refuse(
                f"POSTSALE_PARTITIONER=auto, but the producers disagree: records placed by murmur2 "
                f"({self.evidence.total('murmur2')}) and by crc32 ({self.evidence.total('crc32')}), the last on "
                f"{topic}; set POSTSALE_PARTITIONER to the partitioner of the store's main producers (the others' "
                "records are then sent on)"
            )
            return Route("refuse", partition)
        if self.chosen is None and self.evidence.total(mine) >= self.needed:
            self.chosen = mine
            self.confirmed = True
            self.log.warning(
                "partitioner: auto settled on %s: %d records tell the partitioners apart, all alike",
                NAMES[mine],
                self.evidence.total(mine),
            )
        return Route("here", partition)

    def confirm(self, topic: str, why: str) -> None:
        """The configured partitioner is the store's: misplaced records are sent on from now on."""
        if self.confirmed or self.chosen is None or self.setting == "auto":
            return
        self.confirmed = True
        self.log.warning("partitioner: %s confirmed on %s: %s", self.chosen, topic, why)

    def refuse(self, why: str) -> None:
        if self.refusal is not None:
            return
        self.refusal = why
        self.waiting.clear()  # unacknowledged: read again after the restart
        self.metrics.partitioner_refusing.set(1)
        self.log.error(
            "partitioner: refusing to decide: %s. Nothing more is decided or acknowledged by this worker; "
            "the records are read again when it restarts with the setting fixed",
            why,
        )

    def take_waiting(self) -> list[Waiting]:
        """The records that waited, once the setting is confirmed (to be sent on now)."""
        if not self.confirmed or not self.waiting:
            return []
        out, self.waiting = self.waiting, []
        return out

    def forget(self, partition: int) -> None:
        """A partition was revoked or assigned: its waiting records are left to be read again."""
        self.waiting = [w for w in self.waiting if w.source != partition]

    def _report(self, topic: str) -> None:
        verdict = self.evidence.verdict(topic)
        if self._said.get(topic, "unknown") == verdict:
            return
        self._said[topic] = verdict
        for v in PARTITIONER_VERDICTS:
            self.metrics.partitioner_detected.labels(topic=topic, partitioner=v).set(v == verdict)
        c = self.evidence.tally[topic]
        counts = ", ".join(f"{w} {c[w]}" for w in ("murmur2", "crc32", "both", "neither"))
        if verdict in ("murmur2", "crc32"):
            agree = "as configured" if verdict == self.setting else f"POSTSALE_PARTITIONER is {self.setting}"
            self.log.warning(
                "partitioner: the producers of %s use %s (%s; records placed by %s)",
                topic,
                NAMES[verdict],
                agree,
                counts,
            )
        else:
            self.log.warning(
                "partitioner: the producers of %s place keys by %s (POSTSALE_PARTITIONER is %s; records placed by %s)",
                topic,
                "both murmur2 and crc32" if verdict == "mixed" else "neither murmur2 nor crc32",
                self.setting,
                counts,
            )
