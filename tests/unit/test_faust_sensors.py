"""Faust's sensor hooks, called as Faust calls them, move the exported metrics (streams/worker/sensors.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.settings import Settings
from streams.worker.metrics import Metrics
from streams.worker.sensors import FaustSensors


def sensors() -> tuple[FaustSensors, CollectorRegistry]:
    registry = CollectorRegistry()
    settings = Settings()
    metrics = Metrics.create(registry, settings)
    return FaustSensors(metrics, (*settings.input_topics, settings.topic_ticks)), registry


def test_a_rebalance_is_counted_timed_and_shown_while_under_way() -> None:
    s, registry = sensors()
    app: Any = SimpleNamespace(rebalancing_count=1)
    state = s.on_rebalance_start(app)
    assert registry.get_sample_value("postsale_rebalancing") == 1
    assert registry.get_sample_value("postsale_rebalances_total") == 1
    s.on_rebalance_return(app, state)
    s.on_rebalance_end(app, state)
    assert registry.get_sample_value("postsale_rebalancing") == 0
    assert registry.get_sample_value("postsale_rebalance_duration_seconds_count") == 1


def test_commits_are_counted_and_timed() -> None:
    s, registry = sensors()
    consumer: Any = object()
    for _ in range(3):
        s.on_commit_completed(consumer, s.on_commit_initiated(consumer))
    assert registry.get_sample_value("postsale_offset_commits_total") == 3
    assert registry.get_sample_value("postsale_offset_commit_duration_seconds_count") == 3


def test_committed_lag_of_the_consumed_topics_only() -> None:
    s, registry = sensors()
    orders, changelog = TP("orders", 2), TP("postsale-orders-changelog", 2)
    s.track_tp_end_offset(orders, 120)
    s.track_tp_end_offset(changelog, 50)
    s.on_tp_commit({orders: 100, changelog: 10})
    get = registry.get_sample_value
    assert get("postsale_committed_lag_records", {"topic": "orders", "partition": "2"}) == 20
    assert get("postsale_committed_lag_records", {"topic": "postsale-orders-changelog", "partition": "2"}) is None


def test_send_errors_are_counted() -> None:
    s, registry = sensors()
    s.on_send_error(object(), RuntimeError("broker gone"), None)  # type: ignore[arg-type]
    assert registry.get_sample_value("postsale_send_errors_total") == 1


def test_the_built_worker_reports_through_these_sensors() -> None:
    from models.policy_file import load_policy
    from streams.build import package_version
    from streams.worker.app import build

    registry = CollectorRegistry()
    policy = load_policy()
    rt = build(Settings(), policy, registry)
    assert isinstance(rt.app.monitor, FaustSensors)
    labels = {"version": package_version(), "policy_version": policy.version}
    assert registry.get_sample_value("postsale_build_info", labels) == 1
