"""The replay's deadline index (`streams.orders.DeadlineIndex`, also the worker's): integer keys give the
order of the aware times themselves, equal instants in different offsets included; and the replay's
peak-memory figure is the process's own."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

from streams.offline.commands import peak_rss_mb
from streams.orders import DeadlineIndex, micros

ZONES = [timezone(timedelta(hours=h)) for h in (-5, 0, 8, 14)]
START = datetime(2026, 11, 11, tzinfo=UTC)


def _time(rng: random.Random) -> datetime:
    # seconds on a coarse grid so that equal instants (in different offsets) are common
    return (START + timedelta(seconds=rng.randrange(0, 50) * 3600, microseconds=rng.choice([0, 1]))).astimezone(
        rng.choice(ZONES)
    )


def test_micros_orders_and_equates_like_the_times() -> None:
    rng = random.Random(1)
    times = [_time(rng) for _ in range(300)]
    for a, b in zip(times, times[1:], strict=False):
        assert (micros(a) < micros(b)) == (a < b)
        assert (micros(a) == micros(b)) == (a == b)


def test_orders_pop_in_time_then_id_order_with_updates_and_removals() -> None:
    rng = random.Random(7)
    index = DeadlineIndex()
    expected: dict[str, datetime] = {}
    for step in range(3000):
        order_id = f"o{rng.randrange(200):03d}"
        due = None if rng.random() < 0.1 else _time(rng)
        index.set(order_id, due)
        if due is None:
            expected.pop(order_id, None)
        else:
            expected[order_id] = due
        if step % 500 == 499:
            now = _time(rng)
            overdue = sorted(d for d in expected.values() if d < now)
            assert sorted(index.overdue(now)) == overdue
            popped = list(index.pop_due(now))
            assert popped == [o for o, d in sorted(expected.items(), key=lambda kv: (kv[1], kv[0])) if d < now]
            for o in popped:
                del expected[o]
            assert len(index) == len(expected)


def test_peak_rss_is_this_process_not_its_parent() -> None:
    assert 5 < peak_rss_mb() < 4096
    code = "from streams.offline.commands import peak_rss_mb; print(peak_rss_mb())"
    big = bytearray(120 * 1024 * 1024)  # this process now holds 120 MiB more than its child will
    big[::4096] = b"\x01" * len(big[::4096])
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert child < peak_rss_mb() - 80
