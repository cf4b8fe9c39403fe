"""Helpers for tests that speak Kafka to the embedded broker: produce a stream, run workers, collect topics.

Every test gets its own topic names and consumer group (a `Wire`), so tests
share one broker without seeing each other's records.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from models.events import topic_of
from streams.demo.broker import EmbeddedBroker
from streams.demo.wire import Wire
from streams.demo.wire import new_wire as _new_wire

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_wire(broker: EmbeddedBroker, name: str, partitions: int = 8) -> Wire:
    return _new_wire(broker, name, partitions, "t", os.environ.get("POSTSALE_TEST_WORKER_LOG_LEVEL", "warning"))


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def spawn(module_args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m MODULE ARGS…` from the repository, in its own process group (so it can be SIGKILLed alone),
    output to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", *module_args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker(wire: Wire, tmp: Path, name: str = "w", data: str | None = None, **extra_env: str) -> WorkerProcess:
    """`postsale worker` in its own process group; `data` names its state directory (default: `name`)."""
    log = tmp / f"{name}.log"
    env = dict(os.environ)
    env.update(wire.env(**extra_env))
    env.setdefault("POSTSALE_DATA_DIR", str(tmp / f"{data or name}-data"))
    return WorkerProcess(spawn(["streams.cli", "worker"], env, log), log, extra_env)


async def _produce(bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes, int | None]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    n = 0
    try:
        futures = []
        for topic, key, value, partition in records:
            futures.append(await producer.send(topic, value, key=key, partition=partition))
            n += 1
            if len(futures) >= 500:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


def produce_events(wire: Wire, events: Sequence[dict[str, Any]]) -> int:
    """Each event to its topic, keyed by order id (aiokafka's murmur2, like the Java client)."""
    t = wire.topics
    records = [(t[topic_of(e["type"])], e["order_id"].encode(), orjson.dumps(e), None) for e in events]
    return asyncio.run(_produce(wire.broker.bootstrap, records))


def produce_raw(wire: Wire, records: Iterable[tuple[str, bytes | None, bytes, int | None]]) -> int:
    return asyncio.run(_produce(wire.broker.bootstrap, records))


def send_clock(wire: Wire, now: datetime) -> None:
    """An end-of-input tick on every partition: once caught up, the workers' clock reaches `now`."""
    body = orjson.dumps({"now": now.isoformat()})
    produce_raw(wire, [(wire.topics["ticks"], b"clock", body, p) for p in range(wire.partitions)])


async def _collect(
    bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout: float, quiet: float
) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for msgs in batch.values():
                records.extend(msgs)
                if msgs:
                    last_new = time.monotonic()
            if done(records) and time.monotonic() - last_new >= quiet:
                break
    finally:
        await consumer.stop()
    return records


def collect(
    wire: Wire, name: str, done: Callable[[list[Any]], bool], timeout: float = 90, quiet: float = 1.0
) -> list[Any]:
    """Records of one of the wire's topics, read from the start until `done(records)` holds and nothing new
    came for `quiet` seconds, or `timeout` (then the caller's assertion shows what is missing)."""
    return asyncio.run(_collect(wire.broker.bootstrap, wire.topics[name], done, timeout, quiet))


def action_dicts(records: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Distinct actions by id (repeats of an id must be identical; the caller may check that)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        a = orjson.loads(r.value)
        out[a["action_id"]] = a
    return out
