"""The figures measured through the embedded broker: ceiling, naive Faust, Quix Streams, postsale's worker
(one and two processes) and event → action latency.

Each function gets a running broker and the stream, and returns plain dicts of what it measured.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.common import (
    ROOT,
    Stream,
    TopicReader,
    cpu_seconds,
    end_total,
    new_wire,
    peak_rss_mb,
    percentile,
    produce,
    spawn,
    stop,
    stream_records,
    wait_until,
)
from models.events import parse_event
from streams.demo.broker import EmbeddedBroker
from streams.demo.wire import Wire
from streams.kafka.admin import create_topics

QUIX_VENV = ROOT / ".venv" / "tools" / "quix"
QUIX_SPEC = "quixstreams>=3.28,<4"
#: what postsale's models and rules need besides pydantic and orjson (as pyproject.toml pins them), for the peer
#: that runs them; quixstreams' own pydantic (<2.14) satisfies postsale's (>=2.11)
# What postsale's models and rules import beyond what Quix Streams brings (the ranges of pyproject.toml)
QUIX_RULES_SPECS = ("PyYAML>=6.0,<7", "holidays>=0.108,<1", "msgspec>=0.19,<0.23")


# --- 1. the ceiling ----------------------------------------------------------------------------------------------


async def _ceiling(bootstrap: str, topics: Sequence[str], partitions: int, n: int) -> float:
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await c.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        c.assign(tps)
        for tp in tps:
            c.seek(tp, 0)
        got = 0
        started = time.perf_counter()
        while got < n:
            batch = await c.getmany(timeout_ms=500, max_records=10_000)
            for msgs in batch.values():
                for m in msgs:
                    parse_event(m.value)
                got += len(msgs)
        return got / (time.perf_counter() - started)
    finally:
        await c.stop()


def ceiling(wire: Wire, stream: Stream) -> float:
    """Raw aiokafka `getmany` + `parse_event` (pydantic validation) of the events already on the wire."""
    return asyncio.run(_ceiling(wire.broker.bootstrap, wire.inputs, wire.partitions, stream.n))


# --- 2. naive Faust and Quix Streams (pre-produced input, the child reports its first and N-th event) ---------


def _marker_run(
    args: list[str], env: dict[str, str], marker: Path, log: Path, n: int, timeout: float
) -> dict[str, Any]:
    proc = spawn(args, env, log)
    try:
        wait_until(lambda: marker.exists() or proc.poll() is not None, timeout, f"{args[-1]} to process {n} events")
        if not marker.exists():
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
        body = orjson.loads(marker.read_bytes())
        rss = peak_rss_mb(proc.pid)
    finally:
        stop(proc)
    seconds = body["last"] - body["first"]
    out = {"events_per_s": (n - 1) / seconds, "seconds": seconds, "cpu_s": body["cpu"], "peak_rss_mb": rss}
    if "cpu_first" in body:  # the CPU from the first to the N-th event, start-up left out
        out["cpu_ms_per_event"] = (body["cpu"] - body["cpu_first"]) / (n - 1) * 1000
    if body.get("counts"):
        out["counts"] = body["counts"]
    return out


_naive_runs = itertools.count(1)


def naive_faust(
    wire: Wire, stream: Stream, tmp: Path, timeout: float, transport: str = "kafka", **extra_env: str
) -> dict[str, Any]:
    """`transport`: Faust's aiokafka driver ("kafka") or its librdkafka one ("confluent")."""
    name = f"{wire.prefix}-naive-{transport}-{next(_naive_runs)}"  # a group of its own: reads from the start
    marker = tmp / f"{name}.done"
    env = {
        "BENCH_BROKER": wire.broker.url.replace("kafka://", f"{transport}://", 1),
        "BENCH_APP_ID": name,
        "BENCH_INPUTS": ",".join(wire.inputs),
        "BENCH_PARTITIONS": str(wire.partitions),
        "BENCH_EXPECT": str(stream.n),
        "BENCH_MARKER": str(marker),
        **extra_env,
    }
    args = [sys.executable, "-m", "benchmarks.naive_faust", "worker", "-l", "warn", "--without-web"]
    return _marker_run(args, env, marker, tmp / f"{name}.log", stream.n, timeout)


def quix_python() -> str:
    """An interpreter with Quix Streams: $POSTSALE_BENCH_QUIX_PYTHON, else .venv/tools/quix (created on first
    use: quixstreams pins pydantic<2.14, pydantic-settings<2.16 and confluent-kafka<2.13, so it does not
    share postsale's virtualenv)."""
    explicit = os.environ.get("POSTSALE_BENCH_QUIX_PYTHON")
    if explicit:
        return explicit
    py = QUIX_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", QUIX_SPEC, "orjson", *QUIX_RULES_SPECS], check=True)
    elif subprocess.run([str(py), "-c", "import yaml, holidays, msgspec"], capture_output=True).returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *QUIX_RULES_SPECS], check=True)  # an older venv
    return str(py)


def quix_peer(wire: Wire, stream: Stream, tmp: Path, timeout: float, work: str = "count") -> dict[str, Any]:
    """`work`: "count", the naive baseline's state per order (Quix Streams alone), or "rules", postsale's decoding,
    rules and codec in Quix's stateful `apply` (`benchmarks/quix_rules.py`); the result then has `counts`
    (events, invalid, refused, deadline advances, actions) from the child."""
    name = f"{wire.prefix}-quix" if work == "count" else f"{wire.prefix}-quix-{work}"  # a group of its own
    marker = tmp / f"{name}.done"
    output = f"{name}-out"
    asyncio.run(create_topics(wire.broker.bootstrap, [output], wire.partitions))
    env = {
        "BENCH_BROKER": wire.broker.bootstrap,
        "BENCH_APP_ID": name,
        "BENCH_INPUTS": ",".join(wire.inputs),
        "BENCH_OUTPUT": output,
        "BENCH_EXPECT": str(stream.n),
        "BENCH_MARKER": str(marker),
        "BENCH_STATE_DIR": str(tmp / f"{name}-state"),
        "BENCH_WORK": work,
        # postsale's packages for the rules (imported from the source tree: quixstreams' venv has no postsale)
        "PYTHONPATH": str(ROOT) if work == "rules" else "",
    }
    args = [quix_python(), str(ROOT / "benchmarks" / "quix_peer.py")]
    return _marker_run(args, env, marker, tmp / f"{name}.log", stream.n, timeout)


# --- 3 and 8. postsale's worker ----------------------------------------------------------------------------------


def start_workers(wire: Wire, tmp: Path, count: int, **extra_env: str) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(count):
        env = wire.env(POSTSALE_DATA_DIR=str(tmp / f"{wire.prefix}-w{i}-data"), **extra_env)
        procs.append(spawn([sys.executable, "-m", "streams.cli", "worker"], env, tmp / f"{wire.prefix}-w{i}.log"))
    return procs


async def _probe(wire: Wire, reader: TopicReader, want: int, timeout: float) -> None:
    """Invalid records to every partition of `orders`: once all are dead-lettered, every partition is being
    consumed (the worker is up, has joined, recovered and is in its agent)."""
    await asyncio.to_thread(
        produce, wire.broker.bootstrap, [(wire.topics["orders"], None, b"probe", p) for p in range(wire.partitions)]
    )
    deadline = time.monotonic() + timeout
    while len(reader.records) < want:
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers did not dead-letter the probe within {timeout:.0f}s")
        await reader.poll(100)


Hook = Callable[[list[subprocess.Popen[bytes]]], None]


async def _send_clock(bootstrap: str, wire: Wire, until: datetime) -> dict[TopicPartition, int]:
    """The end-of-input clock tick on every partition of the ticks topic; the offset of each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        clock = orjson.dumps({"now": until.isoformat()})
        topic = wire.topics["ticks"]
        sent = [await producer.send(topic, clock, key=b"clock", partition=p) for p in range(wire.partitions)]
        return {TopicPartition(topic, p): (await fut).offset for p, fut in enumerate(sent)}
    finally:
        await producer.stop()


async def _worker_run(
    wire: Wire,
    stream: Stream,
    expected: dict[str, Any],
    procs: list[subprocess.Popen[bytes]],
    timeout: float,
    on_ready: Hook | None = None,
    on_done: Hook | None = None,
) -> dict[str, Any]:
    bootstrap = wire.broker.bootstrap
    dead = TopicReader(bootstrap, wire.topics["dead_letter"])
    actions = TopicReader(bootstrap, wire.topics["actions"])
    await dead.start()
    await actions.start()
    group = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=wire.prefix, enable_auto_commit=False)
    await group.start()
    try:
        await _probe(wire, dead, wire.partitions, 90)
        if len(procs) > 1:
            # Let the group settle (a member that joined late triggers one more rebalance), then re-probe.
            await asyncio.sleep(7)
            await _probe(wire, dead, 2 * wire.partitions, 60)
        if on_ready is not None:
            on_ready(procs)
        cpu0 = [cpu_seconds(p.pid) for p in procs]
        t0 = time.monotonic()
        produce_s = await asyncio.to_thread(produce, bootstrap, stream_records(wire, stream))
        # The end-of-input clock only once every event is on the broker (as tests/integration do): a tick that
        # overtook events of its partition would move the clock past deadlines that those events cancel.
        clock_ticks = await _send_clock(bootstrap, wire, stream.until)
        want = set(expected)
        seen: set[str] = set()
        deadline = t0 + timeout
        end = await end_total(bootstrap, wire.inputs, wire.partitions)
        tps = [TopicPartition(t, p) for t in wire.inputs for p in range(wire.partitions)]
        t_actions: float | None = None  # every expected action seen
        t_commit: float | None = None
        t_settled: float | None = None  # the clock ticks committed: every deadline up to the end is decided
        cpu_actions: list[float] = []
        next_commit_check = 0.0
        # Done: input offsets committed to the end, and the end-of-input clock ticks committed (a tick is
        # acknowledged only with the batch that stored what the deadlines up to its time decided, so every action
        # is on the broker then), and the actions topic read to its end. What differs from `postsale replay`
        # is then a difference, not a wait cut short.
        actions_end: int | None = None
        while actions_end is None or len(actions.records) < actions_end:
            new = await actions.poll(50)
            now = time.monotonic()
            if new:
                seen.update(orjson.loads(m.value)["action_id"] for m in new)
            if t_actions is None and want <= seen:
                t_actions = now
                cpu_actions = [cpu_seconds(p.pid) for p in procs]
            if t_settled is None and now >= next_commit_check:
                next_commit_check = now + 0.1
                if t_commit is None:
                    total = 0
                    for tp in tps:
                        total += await group.committed(tp) or 0
                    if total >= end:
                        t_commit = time.monotonic()
                if t_commit is not None and all(
                    [(await group.committed(tp) or 0) > offset for tp, offset in clock_ticks.items()]
                ):
                    t_settled = time.monotonic()
                    actions_end = await end_total(bootstrap, [wire.topics["actions"]], wire.partitions)
            if now > deadline:
                raise TimeoutError(
                    f"after {timeout:.0f}s: {len(want - seen)} of {len(want)} actions missing, inputs committed "
                    f"{'to the end' if t_commit else 'short of the end'}, end-of-input clock "
                    f"{'committed' if t_settled else 'not committed'}"
                )
        assert t_commit is not None
        if t_actions is None:
            t_actions = time.monotonic()
            cpu_actions = [cpu_seconds(p.pid) for p in procs]
        cpu_commit = [cpu_seconds(p.pid) for p in procs]
        rss = [peak_rss_mb(p.pid) for p in procs]
        if on_done is not None:
            on_done(procs)
    finally:
        await group.stop()
        await dead.stop()
        await actions.stop()
    n = stream.n
    done = max(t_actions, t_commit)
    cpu = sum(cpu_commit) - sum(cpu0)
    return {
        "events_per_s": n / (done - t0),
        "events_per_s_actions": n / (t_actions - t0),
        "seconds_to_actions": t_actions - t0,
        "seconds_to_commit": t_commit - t0,
        "produce_seconds": produce_s,
        "cpu_s": cpu,
        "cpu_ms_per_event": cpu / n * 1000,
        "cpu_s_per_worker": [c1 - c0 for c0, c1 in zip(cpu0, cpu_commit, strict=True)],
        "cpu_s_at_actions": sum(cpu_actions) - sum(cpu0),
        "peak_rss_mb": max(rss),
        "actions": len(seen),
        "actions_expected": len(want),
        "missing_actions": len(want - seen),
        "extra_actions": len(seen - want),
        "missing_examples": [expected[m] for m in sorted(want - seen)[:3]],
    }


def worker(
    broker: EmbeddedBroker,
    stream: Stream,
    expected: dict[str, Any],
    tmp: Path,
    workers: int,
    partitions: int,
    timeout: float,
    on_ready: Hook | None = None,
    on_done: Hook | None = None,
    **extra_env: str,
) -> dict[str, Any]:
    wire = new_wire(broker, f"w{workers}", partitions)
    return _with_workers(
        wire,
        tmp,
        workers,
        lambda procs: _worker_run(wire, stream, expected, procs, timeout, on_ready, on_done),
        **extra_env,
    )


def _with_workers(wire: Wire, tmp: Path, count: int, body: Any, **extra_env: str) -> dict[str, Any]:
    procs = start_workers(wire, tmp, count, **extra_env)
    try:
        result: dict[str, Any] = asyncio.run(body(procs))
    except BaseException:
        for i, p in enumerate(procs):
            log = tmp / f"{wire.prefix}-w{i}.log"
            if p.poll() is not None and log.exists():
                print(f"worker {i} exited {p.returncode}: {log.read_text(errors='replace')[-1500:]}")
        raise
    finally:
        codes = [stop(p) for p in procs]
    result["exit_codes"] = codes
    return result


# --- 5. latency --------------------------------------------------------------------------------------------------


async def _offer(
    wire: Wire, stream: Stream, rate: float, outputs: str, matches: Callable[[bytes], list[str]]
) -> dict[str, Any]:
    """Offer the stream's events at `rate` (acks=all, one send per event, as a store's producer would) while
    reading `outputs` from its end; the latency of an output is from the send of the event it names
    (`matches(value)`: the ids of the events it follows from) to its arrival."""
    bootstrap = wire.broker.bootstrap
    sent_at: dict[str, float] = {}
    received: list[tuple[float, bytes]] = []
    reader = AIOKafkaConsumer(outputs, bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=5)
    await reader.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await producer.start()
    stop_reading = asyncio.Event()

    async def read() -> None:
        while not stop_reading.is_set():
            batch = await reader.getmany(timeout_ms=20)
            now = time.monotonic()
            for msgs in batch.values():
                received.extend((now, m.value) for m in msgs)

    reading = asyncio.create_task(read())
    await asyncio.sleep(0.5)  # the reader has its assignment and position before the first event
    t_start = time.monotonic()
    futures = []
    try:
        for i, (event, (_topic, key, value)) in enumerate(zip(stream.events, stream.records, strict=True)):
            due = t_start + i / rate
            delay = due - time.monotonic()
            if delay > 0.002:
                await asyncio.sleep(delay)
            sent_at[event["event_id"]] = time.monotonic()
            futures.append(await producer.send(wire.topics[_topic], value, key=key))
        await asyncio.gather(*futures)
        offered_s = time.monotonic() - t_start
        await asyncio.sleep(3.0)  # trailing outputs
    finally:
        stop_reading.set()
        await reading
        await producer.stop()
        await reader.stop()
    latencies = []
    for at, raw in received:
        causes = [c for c in matches(raw) if c in sent_at]
        if causes:
            latencies.append((at - max(sent_at[c] for c in causes)) * 1000)
    if not latencies:
        raise RuntimeError(f"nothing that follows from an offered event was read from {outputs}")
    return {
        "offered_rate": rate,
        "achieved_rate": len(stream.events) / offered_s,
        "events": len(stream.events),
        "matched_outputs": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
    }


async def _latency_run(wire: Wire, stream: Stream, rate: float, procs: list[subprocess.Popen[bytes]]) -> dict[str, Any]:
    dead = TopicReader(wire.broker.bootstrap, wire.topics["dead_letter"])
    await dead.start()
    try:
        await _probe(wire, dead, wire.partitions, 90)
    finally:
        await dead.stop()
    occurred = {e["event_id"]: e["occurred_at"] for e in stream.events}

    def triggering(raw: bytes) -> list[str]:
        # Event-triggered actions only: the cause whose time is the decision's (a deadline fired later has none).
        action = orjson.loads(raw)
        decided = datetime.fromisoformat(action["decided_at"])
        return [
            c for c in action.get("caused_by", []) if c in occurred and datetime.fromisoformat(occurred[c]) == decided
        ]

    return await _offer(wire, stream, rate, wire.topics["actions"], triggering)


def latency(
    broker: EmbeddedBroker, stream: Stream, rate: float, tmp: Path, partitions: int, **extra_env: str
) -> dict[str, Any]:
    """The worker as in production: the live clock (wall time, started at the stream's first event time, so the
    simulated events are current), not the events clock the throughput runs use (there, a topic read less than
    `topic_idle_seconds` ago holds its partition's events back, which is right for a replay through Kafka and
    not what a live store sees)."""
    wire = new_wire(broker, f"lat{int(rate)}", partitions)
    live = {"POSTSALE_CLOCK_MODE": "wall", "POSTSALE_CLOCK_ORIGIN": stream.events[0]["occurred_at"], **extra_env}
    return _with_workers(wire, tmp, 1, lambda procs: _latency_run(wire, stream, rate, procs), **live)


async def _echo(
    bootstrap: str,
    inputs: Sequence[str],
    actions: str,
    partitions: int,
    stopping: asyncio.Event,
    fetch_max_wait_ms: int,
    linger_ms: float,
    ready: Path,
) -> None:
    """The least a consumer → producer stage does: read the input topics, send each record's value on to the
    actions topic (acks=all), wait for the broker to have a fetch's worth of sends, read on."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=fetch_max_wait_ms)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms, acks="all")
    await producer.start()
    try:
        tps = [TopicPartition(t, p) for t in inputs for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        ready.touch()
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            sends = [
                await producer.send(actions, m.value, key=m.key, partition=tp.partition)
                for tp, msgs in batch.items()
                for m in msgs
            ]
            if sends:
                await asyncio.gather(*sends)
    finally:
        await producer.stop()
        await consumer.stop()


def broker_floor(broker: EmbeddedBroker, stream: Stream, rate: float, tmp: Path, partitions: int) -> dict[str, Any]:
    """Event → output latency through the same broker with no processing at all: `_echo`, in a process of its
    own (`benchmarks.echo`) with the worker's fetch wait and producer linger, offered and read exactly as the
    worker is. The part of the worker's latency that is the broker's, the clients' and this machine's."""
    from streams.settings import Settings

    wire = new_wire(broker, f"floor{int(rate)}", partitions)
    defaults = Settings()
    ready = tmp / f"{wire.prefix}-echo.ready"
    env = {
        "BENCH_BOOTSTRAP": broker.bootstrap,
        "BENCH_INPUTS": ",".join(wire.inputs),
        "BENCH_ACTIONS": wire.topics["actions"],
        "BENCH_PARTITIONS": str(partitions),
        "BENCH_FETCH_MAX_WAIT_MS": str(defaults.fetch_max_wait_ms),
        "BENCH_LINGER_MS": str(defaults.producer_linger_ms),
        "BENCH_READY": str(ready),
    }
    log = tmp / f"{wire.prefix}-echo.log"
    proc = spawn([sys.executable, "-m", "benchmarks.echo"], env, log)
    try:
        wait_until(lambda: ready.exists() or proc.poll() is not None, 60, "the echo stage to be ready")
        if not ready.exists():
            raise RuntimeError(f"benchmarks.echo exited {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        echoed = wire.topics["actions"]
        out = asyncio.run(_offer(wire, stream, rate, echoed, lambda raw: [orjson.loads(raw)["event_id"]]))
    finally:
        out_code = stop(proc)
    out["exit_code"] = out_code
    return out


def tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="postsale-bench-"))
