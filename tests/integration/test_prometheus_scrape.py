"""End to end: a real Prometheus server scrapes a worker that is processing a simulated store, and the numbers
read back through Prometheus's HTTP API are those of the stream (events in, duplicates, actions out by rule)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from models.events import parse_event
from models.policy_file import load_policy
from streams.demo.broker import EmbeddedBroker
from streams.demo.prometheus import LocalPrometheus
from streams.offline.replay import Replayer
from streams.simulator import generate
from tests.integration.kafka import action_dicts, collect, free_port, new_wire, produce_events, send_clock, start_worker
from tests.integration.reference import replay_actions

pytestmark = pytest.mark.broker

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[str], LocalPrometheus]]:
    started: list[LocalPrometheus] = []

    def start(target: str) -> LocalPrometheus:
        p = LocalPrometheus(tmp_path / "prometheus", [target], rules=False)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def poll(what: str, read: Callable[[], Any], expected: Any, timeout: float) -> None:
    """Wait until `read()` equals `expected`; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = read()
        if seen == expected:
            return
        time.sleep(0.5)
    pytest.fail(f"{what}: Prometheus says {seen!r}, expected {expected!r}")


def test_prometheus_scrapes_a_worker_processing_a_store(
    broker: EmbeddedBroker, tmp_path: Path, prometheus_factory: Callable[[str], LocalPrometheus]
) -> None:
    events = list(generate(seed=21, orders=50, start=START, orders_per_hour=60))
    until = max(datetime.fromisoformat(e["occurred_at"]) for e in events) + timedelta(days=90)
    # An at-least-once producer repeats some events: those of orders still open at the end, so that every
    # repeat is recognised as one (a repeat for an order already forgotten is not a duplicate but unknown).
    replayer = Replayer(load_policy())
    for e in events:
        replayer.feed(parse_event(json.dumps(e).encode()))
    repeats = [e for e in events if e["order_id"] in replayer.orders][-10:]
    assert len(repeats) == 10
    for e in repeats:
        replayer.feed(parse_event(json.dumps(e).encode()))
    duplicates = replayer.stats.duplicates  # the repeats, and what the simulated store itself reports twice
    assert duplicates >= len(repeats)
    expected_actions = replay_actions(events + repeats, until)
    assert expected_actions == replay_actions(events, until), "repeats decide nothing new"

    wire = new_wire(broker, "scrape")
    port = free_port()
    worker = start_worker(wire, tmp_path, POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port))
    prometheus = prometheus_factory(f"127.0.0.1:{port}")
    try:
        produce_events(wire, events)
        produce_events(wire, repeats)
        send_clock(wire, until)
        records = collect(wire, "actions", lambda rs: len({r.value for r in rs}) >= len(expected_actions), 120)
        live = action_dicts(records)
        assert set(live) == set(expected_actions), worker.log_text()[-2000:]
        by_rule = dict(Counter(a["rule"] for a in live.values()))

        poll("the worker is up", lambda: prometheus.by('up{job="postsale"}', "job"), {"postsale": 1.0}, 60)
        poll(
            "events consumed (valid records read, repeats included)",
            lambda: prometheus.by("sum(postsale_events_consumed_total)", ""),
            {"": float(len(events) + len(repeats))},
            60,
        )
        poll(
            "repeated events (decided once)",
            lambda: prometheus.by("sum(postsale_duplicate_events_total)", ""),
            {"": float(duplicates)},
            30,
        )
        poll(
            "actions emitted",
            lambda: prometheus.by("sum(postsale_actions_emitted_total)", ""),
            {"": float(len(live))},
            30,
        )
        poll(
            "actions emitted by rule",
            lambda: {
                r: v for r, v in prometheus.by("sum by (rule) (postsale_actions_emitted_total)", "rule").items() if v
            },
            {rule: float(n) for rule, n in by_rule.items()},
            30,
        )
        assert len(records) == len(live), "no action was sent twice"
        assert prometheus.by("sum(postsale_invalid_records_total)", "") == {"": 0.0}
        latency = prometheus.by("sum(postsale_processing_latency_seconds_count)", "")
        assert latency.get("", 0) > 0, latency
    finally:
        code = worker.stop()
    assert code == 0, worker.log_text()[-2000:]
