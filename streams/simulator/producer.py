"""The simulated store to Kafka, paced in simulated time, with ticks and faults.

Events are sent when they are due (`delivery.Pace`). With `ticks`, the
producer also sends the simulated time to every partition of the tick topic
twice a second, so that a worker on the `events` clock sees time pass between
events ("2 days overdue" in seconds). Keys are order ids and the partitioner
is murmur2 (aiokafka's, like the Java client's), the one the worker expects.
The faults (`delivery.Faults`) are what a worker meets in production: a
truncated record is dead-lettered as `invalid_json`, a repeat is decided
once, a misrouted record is rerouted. The decisions are those of the clean
stream; the dead-letter, duplicate and misrouted counters move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from models.events import topic_of
from streams.kafka.partitioning import partition_for
from streams.settings import Settings
from streams.simulator.delivery import Faults, Pace, SimulationStats, truncated

TICK_EVERY_SECONDS = 0.5


def producer_for(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers(), linger_ms=5, acks="all", **settings.client_auth()
    )


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
    integration = Faults(faults, seed)
    topic_names = {
        "orders": settings.topic_orders,
        "shipments": settings.topic_shipments,
        "disputes": settings.topic_disputes,
    }
    stats = SimulationStats()
    producer = producer_for(settings)
    await producer.start()
    last_tick = 0.0
    pace = Pace(speed)
    started = time.monotonic()
    sim_start: datetime | None = None
    try:
        pending = []
        for event in events:
            at = datetime.fromisoformat(event["occurred_at"])
            wait = pace.delay(at)
            if wait > 0:
                await asyncio.sleep(wait)
            if stop is not None and stop.is_set():
                break
            if sim_start is None:
                sim_start = at
            topic, key, value = topic_names[topic_of(event["type"])], event["order_id"].encode(), orjson.dumps(event)
            fault = integration.draw()
            if fault == "misrouted" and event["type"] == "order.placed":
                # Rerouted, it would arrive after the order's next events, which would be dead-lettered as for
                # an unknown order: a different fault from the one simulated here.
                fault = None
            partition = None
            if fault == "truncated":
                pending.append(await producer.send(topic, truncated(value), key=key))
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
