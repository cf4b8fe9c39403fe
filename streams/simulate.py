"""Producing a simulated store to Kafka, paced in simulated time.

With `speed` S, an event that occurred t seconds of simulated time after the
start is produced t/S wall seconds after the producer started (S = 0: as fast
as possible, a backlog). With `ticks`, the producer also sends the simulated
time to every partition of the tick topic twice a second, so that a worker on
the `events` clock sees time pass between events ("2 days overdue" in seconds).
Keys are order ids and the partitioner is murmur2 (aiokafka's, like the Java
client's), the one the worker expects.

With `faults` f > 0 the producer also behaves like a real, imperfect store
integration, each with probability f/3 per event: a truncated copy of the
record (dead-lettered as `invalid_json`), the record sent twice (an
at-least-once producer: a repeat, decided once), or the record sent to a
partition its key does not hash to (another client's partitioner: rerouted).
The decisions are those of the clean stream; the dead-letter, duplicate and
misrouted counters move, as they do in production.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from models.events import topic_of
from streams.kafka.partitioning import partition_for
from streams.settings import Settings

TICK_EVERY_SECONDS = 0.5


@dataclass
class SimulationStats:
    events: int = 0
    ticks: int = 0
    sim_time: datetime | None = None
    faults: Counter[str] = field(default_factory=Counter)


def producer_for(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers(), linger_ms=5, acks="all", **settings.client_auth()
    )


async def _paced(events: Iterable[dict[str, Any]], speed: float) -> AsyncIterator[tuple[dict[str, Any], datetime]]:
    start_wall = time.monotonic()
    start_sim: datetime | None = None
    for event in events:
        at = datetime.fromisoformat(event["occurred_at"])
        if start_sim is None:
            start_sim = at
        if speed > 0:
            wait = (at - start_sim).total_seconds() / speed - (time.monotonic() - start_wall)
            if wait > 0:
                await asyncio.sleep(wait)
        yield event, at


async def produce(
    settings: Settings,
    events: Iterable[dict[str, Any]],
    *,
    speed: float,
    ticks: bool,
    stop: asyncio.Event | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    until: datetime | None = None,
    faults: float = 0.0,
    seed: int = 0,
) -> SimulationStats:
    """Produce `events` (wire dicts, in time order) to their topics; returns what was sent."""
    rng = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
    topic_names = {
        "orders": settings.topic_orders,
        "shipments": settings.topic_shipments,
        "disputes": settings.topic_disputes,
    }
    stats = SimulationStats()
    producer = producer_for(settings)
    await producer.start()
    last_tick = 0.0
    started = time.monotonic()
    sim_start: datetime | None = None
    try:
        pending = []
        async for event, at in _paced(events, speed):
            if stop is not None and stop.is_set():
                break
            if sim_start is None:
                sim_start = at
            topic, key, value = topic_names[topic_of(event["type"])], event["order_id"].encode(), orjson.dumps(event)
            fault = _fault(rng, faults)
            if fault == "misrouted" and event["type"] == "order.placed":
                # Rerouted, it would arrive after the order's next events, which would be dead-lettered as for
                # an unknown order: a different fault from the one simulated here.
                fault = None
            partition = None
            if fault == "truncated":
                pending.append(await producer.send(topic, value[: len(value) // 2], key=key))
            elif fault == "repeated":
                pending.append(await producer.send(topic, value, key=key))
            elif fault == "misrouted":
                partition = (partition_for(key, settings.partitions) + 1) % settings.partitions
            if fault is not None:
                stats.faults[fault] += 1
            pending.append(await producer.send(topic, value, key=key, partition=partition))
            stats.events += 1
            stats.sim_time = at
            if on_event is not None:
                on_event(event)
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
            now = time.monotonic()
            if ticks and speed > 0 and now - last_tick >= TICK_EVERY_SECONDS:
                sim_now = sim_start + timedelta(seconds=(now - started) * speed)
                await send_ticks(producer, settings, sim_now)
                stats.ticks += 1
                last_tick = now
        await asyncio.gather(*pending)
        if ticks and until is not None:
            await send_ticks(producer, settings, until)
            stats.ticks += 1
    finally:
        await producer.stop()
    return stats


def _fault(rng: random.Random, share: float) -> str | None:
    if share <= 0:
        return None
    r = rng.random()
    if r >= share:
        return None
    return ("truncated", "repeated", "misrouted")[min(int(r / share * 3), 2)]


async def send_ticks(producer: AIOKafkaProducer, settings: Settings, now: datetime) -> None:
    body = orjson.dumps({"now": now.isoformat()})
    futures = [
        await producer.send(settings.topic_ticks, body, key=b"clock", partition=p) for p in range(settings.partitions)
    ]
    await asyncio.gather(*futures)


async def keep_ticking(settings: Settings, sim_from: datetime, speed: float, stop: asyncio.Event) -> None:
    """After the last event, keep simulated time running (the demo's deadlines still fire)."""
    producer = producer_for(settings)
    await producer.start()
    started = time.monotonic()
    try:
        while not stop.is_set():
            await send_ticks(producer, settings, sim_from + timedelta(seconds=(time.monotonic() - started) * speed))
            try:
                await asyncio.wait_for(stop.wait(), TICK_EVERY_SECONDS)
            except TimeoutError:
                pass
    finally:
        await producer.stop()
