"""Shared tools of the reliability tests: a live tail of a topic, the decision audit, /metrics, the report.

The audit is the promise of docs/architecture.md ("Effects"): the set of distinct actions
(by id) equals `postsale replay` of the same events, no order gets two
customer refunds for one cause, and a repeat of an id is byte-for-byte the
same decision. Each test files its figures with `report(...)`; the conftest
prints them at the end of the session (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka.partitioning import partition_for
from streams.simulator import generate
from tests.integration.kafka import Wire

CN = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, 8, 0, tzinfo=CN)

FIGURES: dict[str, dict[str, Any]] = {}
# Tests may run in several processes (pytest-xdist): each files its figures here too, and the session's summary
# (tests/reliability/conftest.py) reads them all.
FIGURES_FILE = Path(__file__).resolve().parents[2] / "build" / "reliability-figures.jsonl"  # = tests/conftest.py's


def report(test: str, **figures: Any) -> None:
    """File a test's figures for the session summary, and print them (visible with -s or on failure)."""
    FIGURES[test] = figures
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES_FILE.open("ab") as out:
        out.write(orjson.dumps({"test": test, "figures": figures}, default=str) + b"\n")
    print(f"[reliability] {test}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def simulated(seed: int, orders: int, per_hour: int = 60) -> tuple[list[dict[str, Any]], datetime]:
    events = list(generate(seed=seed, orders=orders, start=START, orders_per_hour=per_hour))
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in events)
    return events, last + timedelta(days=90)


class Tail:
    """Every record of one topic from the start, read by a consumer in a thread until `close()`."""

    def __init__(self, wire: Wire, name: str) -> None:
        self.bootstrap = wire.broker.bootstrap
        self.topic = wire.topics[name]
        self._records: list[Any] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_new = time.monotonic()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            max_partition_fetch_bytes=2 * 1024 * 1024,
            fetch_max_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                try:
                    batch = await consumer.getmany(timeout_ms=200)
                except Exception:  # noqa: BLE001 - a paused broker: keep trying until closed
                    await asyncio.sleep(0.2)
                    continue
                for msgs in batch.values():
                    if msgs:
                        with self._lock:
                            self._records.extend(msgs)
                            self._last_new = time.monotonic()
        finally:
            await consumer.stop()

    def records(self) -> list[Any]:
        with self._lock:
            return list(self._records)

    def wait(self, done: Callable[[list[Any]], bool], timeout: float, quiet: float = 0.0) -> list[Any]:
        """Poll until `done(records)` holds and nothing new came for `quiet` seconds, or `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.records()
            if done(records) and time.monotonic() - self._last_new >= quiet:
                return records
            time.sleep(0.1)
        return self.records()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def distinct_ids(records: list[Any]) -> int:
    return len({orjson.loads(r.value)["action_id"] for r in records})


@dataclass
class Audit:
    distinct: int
    records: int
    missing: list[str]
    extra: list[str]
    different: list[str]
    repeats: int
    repeats_not_identical: list[str]
    double_refunds: list[tuple[str, str]]
    examples: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.different or self.repeats_not_identical or self.double_refunds)

    @property
    def decided_twice(self) -> bool:
        """Two customer refunds for one cause, or one id sent with two contents: never allowed, whatever the fault."""
        return bool(self.double_refunds or self.repeats_not_identical)

    def figures(self) -> dict[str, int]:
        """The audit's counts as every stream test reports them (docs/reliability.md, "The audit")."""
        return {
            "actions_lost": len(self.missing),
            "extra_actions": len(self.extra),
            "distinct_duplicate_decisions": len(self.double_refunds) + len(self.repeats_not_identical),
            "repeats_resent_same_id": self.repeats,
        }

    def explain(self) -> str:
        return (
            f"missing {len(self.missing)}, extra {len(self.extra)}, different {len(self.different)}, "
            f"repeats not identical {len(self.repeats_not_identical)}, double customer refunds "
            f"{self.double_refunds[:5]}; examples: {orjson.dumps(self.examples).decode()[:3000]}"
        )


def audit(records: list[Any], expected: dict[str, dict[str, Any]]) -> Audit:
    """Compare every action record the workers wrote with the replayed decisions (see module docstring)."""
    raw_by_id: dict[str, set[bytes]] = {}
    live: dict[str, dict[str, Any]] = {}
    for r in records:
        a = orjson.loads(r.value)
        raw_by_id.setdefault(a["action_id"], set()).add(bytes(r.value))
        live[a["action_id"]] = a
    missing = sorted(set(expected) - set(live))
    extra = sorted(set(live) - set(expected))
    different = sorted(aid for aid in set(live) & set(expected) if live[aid] != expected[aid])
    refunds: Counter[tuple[str, str]] = Counter(
        (a["order_id"], str(a.get("cause")))
        for a in live.values()
        if a["type"] == "refund" and a.get("party") == "customer"
    )
    examples: dict[str, Any] = {}
    if missing or extra:
        # Where the differences are (murmur2 partition of the order, on 8 partitions): one partition, or all?
        examples["partitions"] = {
            "missing": {str(k): n for k, n in Counter(_partition(expected[m]["order_id"]) for m in missing).items()},
            "extra": {str(k): n for k, n in Counter(_partition(live[x]["order_id"]) for x in extra).items()},
        }
    if missing:
        examples["missing"] = [expected[m] for m in missing[:3]]
    if extra:
        examples["extra"] = [live[x] for x in extra[:3]]
    if different:
        examples["different"] = [(live[d], expected[d]) for d in different[:2]]
    return Audit(
        distinct=len(live),
        records=len(records),
        missing=missing,
        extra=extra,
        different=different,
        repeats=len(records) - len(live),
        repeats_not_identical=sorted(aid for aid, raws in raw_by_id.items() if len(raws) > 1),
        double_refunds=sorted(k for k, n in refunds.items() if n > 1),
        examples=examples,
    )


def _partition(order_id: str, partitions: int = 8) -> int:
    return partition_for(order_id.encode(), partitions)


def scrape(port: int, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:  # noqa: S310
        return resp.read().decode()


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples (counters: the `_total` samples) whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def wait_scrape(port: int, timeout: float = 60.0) -> str:
    """The first /metrics answer of a worker that is still starting."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return scrape(port)
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"no /metrics on port {port} within {timeout} s: {last}")


def log_standing(*workers: Any) -> None:
    """Have each worker log where its partitions stand (SIGUSR2), for a post-mortem from its log."""
    for w in workers:
        if w.alive():
            w.proc.send_signal(signal.SIGUSR2)
    time.sleep(1.0)  # the effect awaited is a line in each log; nothing asserts on it
