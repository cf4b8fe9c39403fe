"""The live clock: the wall clock, or a faster simulated one for the demo.

`now()` is the only place the worker reads the wall clock. With `speed` > 1
(the demo), event time runs `speed` times faster than the wall clock from
`origin`, so "2 days overdue" happens in seconds; the simulator uses the
same mapping so both agree on what time it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class LiveClock:
    def __init__(
        self,
        speed: float = 1.0,
        origin: datetime | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.speed = speed
        self._wall = wall
        self._wall_origin = wall()
        self.origin = origin if origin is not None else datetime.fromtimestamp(self._wall_origin, UTC)

    def now(self) -> datetime:
        elapsed = self._wall() - self._wall_origin
        return self.origin + timedelta(seconds=elapsed * self.speed)

    def wall_seconds_until(self, at: datetime) -> float:
        """Wall seconds until event time `at` (negative if past)."""
        return (at - self.now()).total_seconds() / self.speed
