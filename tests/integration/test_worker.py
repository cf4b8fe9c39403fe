"""The live worker on a real Kafka-protocol broker: the same decisions as `postsale replay`, ids included.

Each test starts `postsale worker` processes (the real command) against the
session's broker, feeds a simulated store's events through the input topics
and reads the `actions` and dead-letter topics back.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.demo.broker import EmbeddedBroker
from streams.simulator import generate
from tests.integration.kafka import (
    Wire,
    action_dicts,
    collect,
    new_wire,
    produce_events,
    produce_raw,
    send_clock,
    start_worker,
)
from tests.integration.reference import replay_actions

pytestmark = pytest.mark.broker

CN = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, 8, 0, tzinfo=CN)


def simulated(seed: int, orders: int) -> tuple[list[dict[str, Any]], datetime]:
    events = list(generate(seed=seed, orders=orders, start=START, orders_per_hour=60))
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in events)
    return events, last + timedelta(days=90)


def wait_for_actions(wire: Wire, expected: dict[str, Any], timeout: float = 120) -> dict[str, dict[str, Any]]:
    records = collect(wire, "actions", lambda rs: len({r.value for r in rs}) >= len(expected), timeout=timeout)
    return action_dicts(records)


def assert_same_decisions(live: dict[str, Any], replayed: dict[str, Any]) -> None:
    missing = sorted(set(replayed) - set(live))
    extra = sorted(set(live) - set(replayed))
    assert not missing and not extra, (
        f"{len(missing)} missing, e.g. {[replayed[m] for m in missing[:3]]}; {len(extra)} extra, e.g. "
        f"{[live[x] for x in extra[:3]]}"
    )
    different = [aid for aid in replayed if live[aid] != replayed[aid]]
    assert not different, f"{len(different)} differ, e.g. {live[different[0]]} vs {replayed[different[0]]}"


def test_live_worker_decides_as_replay_does_and_deadlines_fire_without_events(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    events, until = simulated(seed=7, orders=150)
    expected = replay_actions(events, until)
    assert any(a["rule"] == "overdue_switch" for a in expected.values()), "the stream must contain silent orders"
    wire = new_wire(broker, "same")
    worker = start_worker(wire, tmp_path)
    try:
        produce_events(wire, events)
        # No event follows the last one: only the clock (a tick per partition) moves time past the deadlines.
        send_clock(wire, until)
        live = wait_for_actions(wire, expected)
        standing = _standing(worker)
    finally:
        code = worker.stop()
    assert_same_decisions(live, expected)
    assert code == 0, worker.log_text()[-2000:]
    # SIGUSR2: where each partition stands, on one line, and the worker goes on (it stopped cleanly above).
    assert sorted(standing["partitions"], key=int) == [str(p) for p in range(wire.partitions)]
    for entry in standing["partitions"].values():
        orders = entry[wire.topics["orders"]]
        assert "assigned" in orders["consumer"] and orders["end"] is not None
        assert entry["worker"]["clock"] is not None
    assert until.isoformat() in {e["worker"]["clock"] for e in standing["partitions"].values()}


def _standing(worker: Any) -> dict[str, Any]:
    """The worker's SIGUSR2 line, parsed."""
    worker.proc.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in worker.log_text().splitlines():
            if "partition standing: " in line:
                return dict(orjson.loads(line.split("partition standing: ", 1)[1]))
        time.sleep(0.2)
    raise AssertionError("no 'partition standing' line after SIGUSR2: " + worker.log_text()[-2000:])


@pytest.mark.parametrize("delivery", ["batch", "stream"])
def test_restarted_worker_keeps_state_and_deadlines(broker: EmbeddedBroker, tmp_path: Path, delivery: str) -> None:
    """Also with Faust's own per-record delivery (`delivery: stream`), the fallback to the batch hand-over."""
    events, until = simulated(seed=8, orders=120)
    expected = replay_actions(events, until)
    half = len(events) // 2
    wire = new_wire(broker, f"restart-{delivery}")
    env = {"POSTSALE_STORE": "rocksdb://", "POSTSALE_DELIVERY": delivery}
    first = start_worker(wire, tmp_path, "first", **env)
    try:
        produce_events(wire, events[:half])
        before = replay_actions(events[:half], datetime.fromisoformat(events[half - 1]["occurred_at"]))
        collect(wire, "actions", lambda rs: len({r.value for r in rs}) >= len(before) * 0.9, timeout=90)
    finally:
        first.kill()  # SIGKILL: no goodbye, no final commit
    second = start_worker(wire, tmp_path, "second", data="first", **env)  # same state dir: disk + changelog
    try:
        produce_events(wire, events[half:])
        send_clock(wire, until)
        live = wait_for_actions(wire, expected)
    finally:
        second.stop()
    assert_same_decisions(live, expected)


def test_two_workers_share_partitions_and_one_takes_over(broker: EmbeddedBroker, tmp_path: Path) -> None:
    events, until = simulated(seed=9, orders=150)
    expected = replay_actions(events, until)
    third = len(events) // 3
    wire = new_wire(broker, "pair")
    a = start_worker(wire, tmp_path, "a")
    b = start_worker(wire, tmp_path, "b")
    try:
        produce_events(wire, events[:third])
        mid = replay_actions(events[:third], datetime.fromisoformat(events[third - 1]["occurred_at"]))
        collect(wire, "actions", lambda rs: len({r.value for r in rs}) >= len(mid) * 0.9, timeout=90)
        assert b.stop() == 0, b.log_text()[-2000:]  # SIGTERM: a clean hand-over of b's partitions to a
        produce_events(wire, events[third:])
        send_clock(wire, until)
        live = wait_for_actions(wire, expected)
    finally:
        a.stop()
        b.stop()
    assert_same_decisions(live, expected)


def test_redelivered_events_change_nothing(broker: EmbeddedBroker, tmp_path: Path) -> None:
    events, until = simulated(seed=10, orders=60)
    expected = replay_actions(events, until)
    wire = new_wire(broker, "redeliver")
    worker = start_worker(wire, tmp_path)
    try:
        produce_events(wire, events)
        produce_events(wire, events)  # an at-least-once producer sends everything twice
        send_clock(wire, until)
        records = collect(wire, "actions", lambda rs: len({r.value for r in rs}) >= len(expected), timeout=120)
    finally:
        worker.stop()
    live = action_dicts(records)
    assert_same_decisions(live, expected)
    assert len(records) == len(expected), "a repeated event must not send its actions again"


def test_bad_records_go_to_the_dead_letter_topic_and_the_worker_goes_on(broker: EmbeddedBroker, tmp_path: Path) -> None:
    events, until = simulated(seed=11, orders=60)
    expected = replay_actions(events, until)
    wire = new_wire(broker, "garbage")
    t = wire.topics
    first = events[0]
    far_future = dict(first, event_id="future-1", occurred_at="2099-01-01T00:00:00+00:00")
    garbage = [
        (t["orders"], b"A-1", b"{not json", None, "invalid_json"),
        (t["orders"], b"A-2", b"\xff\xfe\x00garbage", None, "invalid_json"),
        (
            t["orders"],
            b"A-3",
            orjson.dumps({"event_id": "x", "order_id": "A-3", "type": "order.exploded"}),
            None,
            "invalid_event",
        ),
        (
            t["shipments"],
            b"A-4",
            orjson.dumps({"event_id": "y", "order_id": "A-4", "type": "shipment.update"}),
            None,
            "invalid_event",
        ),
        (t["orders"], b"someone-else", orjson.dumps(first), None, "key_mismatch"),
        (t["orders"], first["order_id"].encode(), orjson.dumps(far_future), None, "future_timestamp"),
        (
            t["shipments"],
            b"NEVER-PLACED",
            orjson.dumps(
                {
                    "event_id": "orphan-1",
                    "order_id": "NEVER-PLACED",
                    "type": "shipment.update",
                    "occurred_at": "2026-03-02T09:00:00+08:00",
                    "carrier": "sf",
                    "tracking_number": "SF1",
                    "status": "in_transit",
                }
            ),
            None,
            "unknown_order",
        ),
    ]
    worker = start_worker(wire, tmp_path)
    try:
        produce_raw(wire, [(topic, key, value, p) for topic, key, value, p, _ in garbage])
        produce_events(wire, events)
        send_clock(wire, until)
        live = wait_for_actions(wire, expected)
        dead = collect(wire, "dead_letter", lambda rs: len(rs) >= len(garbage), timeout=60)
    finally:
        worker.stop()
    assert_same_decisions(live, expected)
    reasons = sorted(dict(r.headers)["postsale.reason"].decode() for r in dead)
    assert reasons == sorted(g[4] for g in garbage)
    originals = {r.value for r in dead}
    assert {g[2] for g in garbage} <= originals, "the dead-letter record keeps the original bytes"
    for r in dead:
        h = dict(r.headers)
        assert h["postsale.source.topic"].decode() in t.values()
        assert int(h["postsale.source.offset"]) >= 0


def test_explain_asks_the_live_worker_why(broker: EmbeddedBroker, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.integration.kafka import ROOT, free_port

    events, _ = simulated(seed=12, orders=30)
    # Not far past the last event: finished orders are forgotten retain_closed_days later.
    until = datetime.fromisoformat(events[-1]["occurred_at"]) + timedelta(days=1)
    expected = replay_actions(events, until)
    refunded = next(a for a in expected.values() if a["type"] == "refund")
    port = free_port()
    wire = new_wire(broker, "explain")
    worker = start_worker(
        wire, tmp_path, POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port), POSTSALE_ORDER_VIEW_TOKEN="s3cret"
    )
    try:
        produce_events(wire, events)
        send_clock(wire, until)
        wait_for_actions(wire, expected)
        url = f"http://127.0.0.1:{port}"
        out = subprocess.run(
            [sys.executable, "-m", "streams.cli", "explain", refunded["order_id"], "--url", url, "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**__import__("os").environ, "POSTSALE_ORDER_VIEW_TOKEN": "s3cret"},
        )
        denied = subprocess.run(
            [sys.executable, "-m", "streams.cli", "explain", refunded["order_id"], "--url", url, "--token", "wrong"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        worker.stop()
    assert out.returncode == 0, out.stderr
    view = orjson.loads(out.stdout)
    decided = {d["action_id"]: d for d in view["decisions"]}
    assert refunded["action_id"] in decided
    assert decided[refunded["action_id"]]["rule"] == refunded["rule"]
    assert decided[refunded["action_id"]]["caused_by"] == refunded["caused_by"]
    mine = {aid for aid, a in expected.items() if a["order_id"] == refunded["order_id"]}
    assert set(decided) == mine, "the order view lists every decision of the order, and only those"
    assert denied.returncode == 1 and "401" in denied.stderr


@pytest.mark.parametrize("after", [0.3, 1.0, 2.0, 4.0])
def test_a_worker_stopped_while_it_starts_exits_cleanly(broker: EmbeddedBroker, tmp_path: Path, after: float) -> None:
    """A pod replaced during a rollout gets SIGTERM at any moment of its start: exit code 0, no traceback."""
    wire = new_wire(broker, f"stop-early-{int(after * 10)}")
    worker = start_worker(wire, tmp_path)
    time.sleep(after)  # the moment of the stop is what is varied: importing, probing, starting the app
    code = worker.stop(timeout=60)
    assert code == 0, worker.log_text()[-3000:]
    assert "Traceback" not in worker.log_text(), worker.log_text()[-3000:]
