"""Which event times are trusted: the check an event passes before it reaches the engine.

Not a playbook row: the shell (replay and the live worker alike) calls it for
every decoded event, so that the same input gives the same decisions in both.
Plain data in, a short reason code or None out; the clock is an argument.

- `refusal(occurred_at, placed_at, now, intake)`:
  - `ahead_of_clock`: the event is dated more than `intake.ahead_of_clock_hours`
    after `now`. `now` is the clock before this event is seen: the wall clock
    live, the latest event time accepted so far in replay (None before the
    first event: nothing to compare with). Refused, so that one mistyped year
    cannot move replay's clock and fire every open order's deadlines at once.
  - `before_placement`: the event is dated more than
    `intake.before_placement_tolerance_hours` before its order's placement
    (`placed_at`, None when the order is not placed yet). Within the
    tolerance it is clock skew between systems (a carrier's first scan
    stamped minutes before the store's placement) and is applied: the engine
    then decides as of the placement (`rules.engine.handle_event` uses
    max(event time, placed_at)), so no decision is ever dated before its
    order was placed, and the action ids do not depend on it.
  The future is checked first: an event both far ahead and far before is
  reported as ahead of the clock.
- An event of an order not placed yet waits for its `order.placed` until the
  clock passes `unplaced_deadline(occurred_at, intake)` (its own time plus
  `intake.unplaced_grace_hours`), then is dead-lettered with `UNPLACED`. Once
  the order is placed, each waiting event is checked with `refusal` (now with
  `placed_at`) and applied in event-time order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final, Literal

from models.policy import Intake

Refusal = Literal["ahead_of_clock", "before_placement"]
UNPLACED: Final = "unplaced_too_long"
"""Reason code of an event whose order was not placed within the grace."""


def refusal(occurred_at: datetime, placed_at: datetime | None, now: datetime | None, intake: Intake) -> Refusal | None:
    """Why an event dated `occurred_at` must not reach the engine, or None if it may."""
    ahead, tolerance = _limits(intake.ahead_of_clock_hours, intake.before_placement_tolerance_hours)
    if now is not None and occurred_at - now > ahead:
        return "ahead_of_clock"
    if placed_at is not None and placed_at - occurred_at > tolerance:
        return "before_placement"
    return None


@lru_cache(maxsize=16)
def _limits(ahead_hours: float, tolerance_hours: float) -> tuple[timedelta, timedelta]:
    """The two limits as durations: asked for every event, and building them was most of the check's time."""
    return timedelta(hours=ahead_hours), timedelta(hours=tolerance_hours)


def unplaced_deadline(occurred_at: datetime, intake: Intake) -> datetime:
    """Until when an event of an order not placed yet may wait for its order.placed (dead-letter it after)."""
    return occurred_at + timedelta(hours=intake.unplaced_grace_hours)
