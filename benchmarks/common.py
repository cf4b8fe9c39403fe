"""Shared pieces of the benchmark: the event stream, a broker per run, fast producing, process figures."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from models.actions import dump_action
from models.events import parse_event, topic_of
from models.policy_file import load_policy
from streams.demo.broker import EmbeddedBroker
from streams.demo.wire import Wire
from streams.demo.wire import new_wire as _new_wire
from streams.offline.replay import Replayer

ROOT = Path(__file__).resolve().parents[1]
CN = timezone(timedelta(hours=8))
START = datetime(2026, 11, 11, 0, 0, tzinfo=CN)  # a big-sale day
SEED = 20261111
EVENTS_PER_ORDER = 8  # about what the simulator's mix gives; only used to size the order count


# --- the stream ------------------------------------------------------------------------------------------------


@dataclass
class Stream:
    events: list[dict[str, Any]]
    records: list[tuple[str, bytes, bytes]]  # (logical topic, key, value), in stream order
    until: datetime  # the end-of-input clock: every open order's deadlines have passed

    @property
    def n(self) -> int:
        return len(self.events)


def make_stream(n: int, seed: int = SEED, orders_per_hour: float = 2000.0) -> Stream:
    """The first `n` events of a simulated big-sale day (fixed seed: the same events every run)."""
    from streams.simulator import generate

    orders = max(n // EVENTS_PER_ORDER * 2, 10)
    events: list[dict[str, Any]] = []
    for e in generate(seed=seed, orders=orders, start=START, orders_per_hour=orders_per_hour):
        events.append(e)
        if len(events) >= n:
            break
    records = [(topic_of(e["type"]), e["order_id"].encode(), orjson.dumps(e)) for e in events]
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in events)
    return Stream(events, records, last + timedelta(days=90))


def reference_actions(events: Sequence[dict[str, Any]], until: datetime) -> dict[str, dict[str, Any]]:
    """What `postsale replay` decides for these events: what the live worker must emit (as the tests do)."""
    replayer = Replayer(load_policy())
    actions = []
    for e in events:
        _, acts = replayer.feed(parse_event(orjson.dumps(e)))
        actions += acts
    actions += replayer.finish(until)
    return {a.action_id: orjson.loads(dump_action(a)) for a in actions}


# --- topics and brokers ----------------------------------------------------------------------------------------


def new_wire(broker: EmbeddedBroker, name: str, partitions: int) -> Wire:
    return _new_wire(broker, name, partitions, "b")


# --- producing and reading -------------------------------------------------------------------------------------


def produce(bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes, int | None]]) -> float:
    """Produce as fast as the client allows (librdkafka with the Java/aiokafka murmur2 partitioner when
    confluent-kafka is installed, aiokafka otherwise); returns the seconds it took."""
    started = time.perf_counter()
    try:
        from confluent_kafka import Producer
    except ImportError:
        asyncio.run(_produce_aiokafka(bootstrap, records))
        return time.perf_counter() - started
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "partitioner": "murmur2_random",  # = Java client / aiokafka for non-null keys (docs/architecture.md)
            "linger.ms": 5,
            "acks": "all",
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    errors: list[Any] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for topic, key, value, partition in records:
        kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    p.flush(60)
    if errors:
        raise RuntimeError(f"{len(errors)} records not delivered, e.g. {errors[0]}")
    return time.perf_counter() - started


async def _produce_aiokafka(bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes, int | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", max_batch_size=262144)
    await producer.start()
    try:
        futures = []
        for topic, key, value, partition in records:
            futures.append(await producer.send(topic, value, key=key, partition=partition))
            if len(futures) >= 2000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def stream_records(wire: Wire, stream: Stream) -> list[tuple[str, bytes | None, bytes, int | None]]:
    t = wire.topics
    return [(t[topic], key, value, None) for topic, key, value in stream.records]


class TopicReader:
    """Reads a topic from the start in the background of a polling loop (one consumer, no group)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.records: list[Any] = []
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await self.consumer.start()

    async def poll(self, timeout_ms: int = 50) -> list[Any]:
        assert self.consumer is not None
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=100_000)
        new = [m for msgs in batch.values() for m in msgs]
        self.records.extend(new)
        return new

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()


async def committed_total(bootstrap: str, group: str, topics: Sequence[str], partitions: int) -> int:
    """Sum of the group's committed offsets over the input partitions (`AIOKafkaConsumer.committed`: the
    admin client's `list_consumer_group_offsets` fails on the embedded broker)."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await c.start()
    try:
        total = 0
        for t in topics:
            for p in range(partitions):
                off = await c.committed(TopicPartition(t, p))
                total += off or 0
        return total
    finally:
        await c.stop()


async def end_total(bootstrap: str, topics: Sequence[str], partitions: int) -> int:
    """Sum of the fetch highwaters (not ListOffsets: wrong on the embedded broker) of the partitions."""
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await c.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        c.assign(tps)
        for tp in tps:
            c.seek(tp, 0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(c.highwater(tp) is None for tp in tps):
            await c.getmany(*[tp for tp in tps if c.highwater(tp) is None], timeout_ms=100, max_records=1)
        return sum(c.highwater(tp) or 0 for tp in tps)
    finally:
        await c.stop()


# --- processes -------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def spawn(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full_env = dict(os.environ)
    full_env.update(env)
    return subprocess.Popen(
        list(args), cwd=ROOT, env=full_env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> int | None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def python() -> str:
    return sys.executable


# --- figures ---------------------------------------------------------------------------------------------------


def figure(runs: Sequence[float], unit: str) -> dict[str, Any]:
    """A measured figure: the median of the runs, with the runs."""
    return {"median": statistics.median(runs), "runs": list(runs), "unit": unit}


def percentile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]
