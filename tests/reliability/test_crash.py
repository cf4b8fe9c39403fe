"""SIGKILL at random moments, and a worker joining then leaving: nothing lost, nothing decided twice.

The stream is the simulator's (fixed seed), produced up front as a backlog;
the reference is `postsale replay` of the same events. Action records are
read back, repeats included, and audited (tests/reliability/support.py).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from streams.demo.broker import EmbeddedBroker
from tests.integration.kafka import WorkerProcess, free_port, new_wire, produce_events, send_clock, start_worker
from tests.integration.reference import replay_actions
from tests.reliability.support import Tail, audit, distinct_ids, report, simulated

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ROCKSDB = {"POSTSALE_STORE": "rocksdb://"}


def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(broker: EmbeddedBroker, tmp_path: Path) -> None:
    started = time.monotonic()
    events, until = simulated(seed=2026, orders=2500)
    expected = replay_actions(events, until)
    rng = random.Random(9)  # the kill moments: reproducible, not chosen by hand
    kills = 4
    # Kill when this share of the decisions is out, plus a random delay: some kills land during recovery.
    shares = sorted(rng.uniform(0.1, 0.85) for _ in range(kills))
    delays = [rng.uniform(0.0, 2.0) for _ in range(kills)]
    wire = new_wire(broker, "crash")
    produce_events(wire, events)
    send_clock(wire, until)
    tail = Tail(wire, "actions")
    worker = start_worker(wire, tmp_path, "w0", data="state", **ROCKSDB)
    killed_at: list[int] = []
    try:
        for i, (share, delay) in enumerate(zip(shares, delays, strict=True)):
            target = int(share * len(expected))
            tail.wait(lambda rs, t=target: distinct_ids(rs) >= t, timeout=150)
            time.sleep(delay)
            assert worker.alive(), worker.log_text()[-3000:]
            worker.kill()
            killed_at.append(distinct_ids(tail.records()))
            worker = start_worker(wire, tmp_path, f"w{i + 1}", data="state", **ROCKSDB)
        records = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=240, quiet=3.0)
    finally:
        code = worker.stop()
        tail.close()
    result = audit(records, expected)
    report(
        "crash",
        crashes_survived=len(killed_at),
        killed_after_decisions=killed_at,
        events_processed=len(events),
        decisions=len(expected),
        **result.figures(),
        seconds=round(time.monotonic() - started, 1),
    )
    assert result.ok, result.explain()
    assert code == 0, worker.log_text()[-3000:]


def wait_ready(port: int, worker: WorkerProcess, timeout: float) -> bool:
    """True once the worker answers /health/ready with 200 (it owns partitions and has recovered them)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.alive():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def test_a_worker_joins_mid_stream_and_leaves(broker: EmbeddedBroker, tmp_path: Path) -> None:
    started = time.monotonic()
    events, until = simulated(seed=2027, orders=600)
    expected = replay_actions(events, until)
    third = len(events) // 3
    wire = new_wire(broker, "rebalance")
    tail = Tail(wire, "actions")
    a = start_worker(wire, tmp_path, "a")
    b = None
    try:
        produce_events(wire, events[:third])
        tail.wait(lambda rs: distinct_ids(rs) >= len(expected) // 6, timeout=90)
        port = free_port()  # b's readiness says when it has joined: assigned, recovered, not rebalancing
        b = start_worker(wire, tmp_path, "b", POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port))
        produce_events(wire, events[third : 2 * third])  # while b joins and a works through the first third
        assert wait_ready(port, b, timeout=120), b.log_text()[-2000:]
        # b works alongside a before it leaves.
        time.sleep(10)
        # Most decisions are deadlines that need later event time: wait for half of what two thirds can decide.
        reachable = len(replay_actions(events[: 2 * third], None))
        tail.wait(lambda rs: distinct_ids(rs) >= reachable // 2, timeout=120)
        assert a.alive() and b.alive(), (a.log_text()[-2000:], b.log_text()[-2000:])
        assert b.stop() == 0, b.log_text()[-2000:]  # SIGTERM mid-stream: a takes b's partitions back
        produce_events(wire, events[2 * third :])
        send_clock(wire, until)
        records = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=150, quiet=3.0)
    finally:
        code = a.stop()
        if b is not None:
            b.stop()
        tail.close()
    result = audit(records, expected)
    report(
        "rebalance",
        events_processed=len(events),
        decisions=len(expected),
        **result.figures(),
        seconds=round(time.monotonic() - started, 1),
    )
    assert result.ok, result.explain()
    assert code == 0, a.log_text()[-3000:]
