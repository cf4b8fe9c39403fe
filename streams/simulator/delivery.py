"""How the simulated store delivers its events, to Kafka or to a file: paced in simulated time, and faulty.

With `speed` S, an event that occurred t seconds of simulated time after the
first one is due t/S wall seconds after delivery started (S = 0: at once, a
backlog). With `faults` f > 0 the store behaves like a real, imperfect
integration, each with probability f/3 per event: a truncated copy of the
record, the record sent twice, or the record sent to a partition its key does
not hash to. The faults are drawn from the seed, so the same seed gives the
same faults whether the events go to Kafka or to a file.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Fault = Literal["truncated", "repeated", "misrouted"]
FAULTS: tuple[Fault, ...] = ("truncated", "repeated", "misrouted")


@dataclass
class SimulationStats:
    events: int = 0
    ticks: int = 0
    sim_time: datetime | None = None
    faults: Counter[str] = field(default_factory=Counter)


class Pace:
    """When each event is due, in wall seconds from now; the first event is due at once."""

    def __init__(self, speed: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self.clock = clock
        self.started = clock()
        self.first: datetime | None = None

    def delay(self, at: datetime) -> float:
        """How long to wait before delivering an event that occurred `at` (0 when it is already due)."""
        if self.first is None:
            self.first = at
        if self.speed <= 0:
            return 0.0
        return max(0.0, (at - self.first).total_seconds() / self.speed - (self.clock() - self.started))


class Faults:
    """The faults of an imperfect integration, drawn per event from the seed."""

    def __init__(self, share: float, seed: int) -> None:
        self.share = share
        self.rng = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets

    def draw(self) -> Fault | None:
        if self.share <= 0:
            return None
        r = self.rng.random()
        if r >= self.share:
            return None
        return FAULTS[min(int(r / self.share * 3), 2)]


def truncated(record: bytes) -> bytes:
    """A record cut in half, as a producer that dies mid-write leaves it: not valid JSON."""
    return record[: len(record) // 2]
