"""Held-refund gauges with bounded store labels; the dry run's log line."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry

from models.actions import dump_action
from streams.executor.config import all_dry_run, parse_config
from streams.executor.dry_run import describe
from streams.executor.metrics import ExecutorMetrics
from tests.unit.executor.factories import refund


def test_held_gauges_follow_the_held_set_and_cap_store_labels() -> None:
    registry = CollectorRegistry()
    m = ExecutorMetrics.create(registry, stores_max=1)
    m.set_held([("a", "USD", Decimal("10")), ("a", "USD", Decimal("5")), ("b", "USD", Decimal("7"))])
    assert registry.get_sample_value("postsale_executor_held_refunds", {"store": "a"}) == 2
    assert registry.get_sample_value("postsale_executor_held_refunds", {"store": "other"}) == 1
    assert registry.get_sample_value("postsale_executor_held_refund_amount", {"store": "a", "currency": "USD"}) == 15
    m.set_held([])
    assert registry.get_sample_value("postsale_executor_held_refunds", {"store": "a"}) == 0
    assert registry.get_sample_value("postsale_executor_held_refund_amount", {"store": "other", "currency": "USD"}) == 0
    labels = {"action_type": "refund", "outcome": "held"}
    assert registry.get_sample_value("postsale_executor_deliveries_total", labels) == 0  # initialised


def test_dry_run_says_where_each_action_would_go() -> None:
    cfg = parse_config(
        "endpoints:\n  refund: {kind: webhook, url: 'https://pay.example/x', secret_env: S}\n"
        "breaker: {limits: {USD: {single: 1, per_hour: 2}}}\n"
    )
    line = describe(cfg, dump_action(refund()))
    assert "POST https://pay.example/x" in line and "customer 25.00 USD" in line and "breaker applies" in line
    assert "log only" in describe(all_dry_run(), dump_action(refund()))
    assert "invalid action" in describe(cfg, b'{"type": "refund"}')
