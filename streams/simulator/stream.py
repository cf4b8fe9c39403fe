"""The merged stream: many orders' timelines as one stream of wire events in event-time order.

`generate` writes an order only when the stream reaches its placement time,
and a heap holds the pending events of the orders still in flight, so a
million-event run never holds a million events. Every order's thresholds are
resolved from the policy (the shipped default unless one is passed), as the
engine resolves them. `write_lines` writes a stream as JSON lines, paced and
with faults if asked (`delivery`); `write_jsonl` writes it to a file at once.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, overload

import orjson

from models.policy import Policy
from models.policy_file import load_policy
from streams.simulator.catalogue import CN_TZ, EVENT_TZ, Store, stores_for
from streams.simulator.delivery import Faults, Pace, SimulationStats, truncated
from streams.simulator.mix import DUPLICATE_RATE, SCENARIOS, Mix, destination, wholesale
from streams.simulator.timelines import OrderContext, Timeline


def _with_duplicate(rng: random.Random, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Repeat one event right behind itself: same id, same bytes, same time, so the stream stays time-ordered."""
    i = rng.randrange(len(events))
    return [*events[: i + 1], dict(events[i]), *events[i + 1 :]]


def _instant(event: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(event["occurred_at"]).timestamp())


@overload
def generate(
    seed: int,
    orders: int,
    start: datetime,
    orders_per_hour: float = ...,
    stores: int = ...,
    *,
    with_scenarios: Literal[False] = ...,
    tour: bool = ...,
    policy: Policy | None = ...,
) -> Iterator[dict[str, Any]]: ...


@overload
def generate(
    seed: int,
    orders: int,
    start: datetime,
    orders_per_hour: float = ...,
    stores: int = ...,
    *,
    with_scenarios: Literal[True],
    tour: bool = ...,
    policy: Policy | None = ...,
) -> Iterator[tuple[str, dict[str, Any]]]: ...


def generate(
    seed: int,
    orders: int,
    start: datetime,
    orders_per_hour: float = 120.0,
    stores: int = 3,
    *,
    with_scenarios: bool = False,
    tour: bool = False,
    policy: Policy | None = None,
) -> Iterator[dict[str, Any]] | Iterator[tuple[str, dict[str, Any]]]:
    """The events of `orders` orders, in non-decreasing `occurred_at` order, deterministic for `seed`.

    Placements arrive as a Poisson process of `orders_per_hour` (simulated time,
    from `start`). Ties are broken by the order's number, then by its own event
    sequence. `with_scenarios` yields `(scenario name, event)` pairs, for tests.
    `tour` draws every scenario once first (each as soon as an order can take
    it), then the weighted mix: a small sample that still covers the playbook.
    `policy` sets the thresholds the timelines aim at (default: the shipped one).
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if orders_per_hour <= 0:
        raise ValueError("orders_per_hour must be positive")
    shop = stores_for(stores)
    rules = policy if policy is not None else load_policy()
    if with_scenarios:
        return _merged(seed, orders, start, orders_per_hour, shop, tour, rules)
    return (event for _, event in _merged(seed, orders, start, orders_per_hour, shop, tour, rules))


class _InFlight:
    """One order's events not yet yielded, last first (popping frees a yielded event at once)."""

    __slots__ = ("events", "instants", "name")

    def __init__(self, name: str, events: list[dict[str, Any]]) -> None:
        self.name = name
        self.events = events[::-1]
        self.instants = [_instant(e) for e in self.events]


def _merged(
    seed: int,
    orders: int,
    start: datetime,
    orders_per_hour: float,
    shop: tuple[Store, ...],
    tour: bool,
    policy: Policy,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Write each order's timeline when the stream reaches its placement, and pop events off a heap.

    An order's events all happen at or after its placement, and placements come
    in order, so every event earlier than the next placement is final: popping
    it cannot be overtaken. The heap has one entry per order still in flight
    (its next event), keyed by (instant, order number): ties go to the earlier
    order, and an order's own events keep their sequence.
    """
    master = random.Random(seed)  # noqa: S311 - a simulation, not security
    mix = Mix(shop)
    if tour:
        mix.tour = [s.name for s in SCENARIOS]
        master.shuffle(mix.tour)
    heap: list[tuple[int, int, _InFlight]] = []

    def pop() -> tuple[str, dict[str, Any]]:
        _, n, order = heap[0]
        event = order.events.pop()
        order.instants.pop()
        if order.events:
            heapq.heapreplace(heap, (order.instants[-1], n, order))
        else:
            heapq.heappop(heap)
        return order.name, event

    clock = start.timestamp()
    for n in range(orders):
        clock += master.expovariate(orders_per_hour) * 3600
        placed_ts = round(clock)
        while heap and heap[0][0] <= placed_ts:
            yield pop()
        store = master.choice(shop)
        marketplace = master.choice(store.marketplaces)
        placed_at = datetime.fromtimestamp(placed_ts, EVENT_TZ.get(marketplace, CN_TZ))
        promotion = policy.promotion_at(marketplace, placed_at)
        scenario = mix.draw(master, marketplace, promotion)
        rng = random.Random(f"{seed}/{n}")  # noqa: S311 - per-order stream: an order's content is independent of the mix
        country = destination(rng, marketplace, scenario.route)
        order = OrderContext(
            order_id=f"{store.store_id}-{seed}-{n:07d}",
            store_id=store.store_id,
            marketplace=marketplace,
            origin_country=store.origin_country,
            destination_country=country,
            placed_at=placed_at,
            thresholds=policy.resolved(marketplace, country, promotion).thresholds,
            promotion=promotion,
            wholesale=wholesale(rng, marketplace),
        )
        timeline = Timeline(rng, order)
        scenario.write(timeline)
        events = timeline.events
        if rng.random() < DUPLICATE_RATE:
            events = _with_duplicate(rng, events)
        flight = _InFlight(scenario.name, events)
        heapq.heappush(heap, (flight.instants[-1], n, flight))
    while heap:
        yield pop()


# The shipped sample, streams/samples/day.jsonl: two stores over three days from the last 40 hours of
# double11, every scenario once (the tour) then the mix; regenerate it with
# `write_jsonl(path, generate(**SAMPLE_RECIPE))` after changing a scenario.
SAMPLE_RECIPE: dict[str, Any] = {
    "seed": 11,
    "orders": 56,
    "start": datetime(2026, 11, 10, 8, 0, tzinfo=CN_TZ),
    "orders_per_hour": 0.75,
    "stores": 2,
    "tour": True,
}


def write_jsonl(path: str | Path, events: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line (orjson); returns how many were written."""
    with Path(path).open("wb") as out:
        return write_lines(out, events).events


def write_lines(
    out: BinaryIO, events: Iterable[dict[str, Any]], *, speed: float = 0.0, faults: float = 0.0, seed: int = 0
) -> SimulationStats:
    """Write `events` as JSON lines, each when it is due at `speed` (flushed, for a reader at the other end of a
    pipe), with the faults a file can hold: a truncated line before the record, or the record twice. A file has
    no partitions, so a record the Kafka producer would misroute is written as it is."""
    stats = SimulationStats()
    pace = Pace(speed)
    integration = Faults(faults, seed)
    for event in events:
        at = datetime.fromisoformat(event["occurred_at"])
        wait = pace.delay(at)
        if wait > 0:
            time.sleep(wait)
        line = orjson.dumps(event)
        fault = integration.draw()
        if fault == "truncated":
            out.write(truncated(line) + b"\n")
        elif fault == "repeated":
            out.write(line + b"\n")
        if fault in ("truncated", "repeated"):
            stats.faults[fault] += 1
        out.write(line + b"\n")
        stats.events += 1
        stats.sim_time = at
        if speed > 0:
            out.flush()
    return stats
