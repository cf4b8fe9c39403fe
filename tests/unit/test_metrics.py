"""The worker's metrics against a fresh registry: names, initial zeros, bounded labels, the derived gauges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, disable_created_metrics, enable_created_metrics, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from models.common import ACTION_TYPES, RULE_IDS
from models.events import EVENT_TYPES, topic_of
from models.state import STAGES
from streams.build import package_version
from streams.kafka.partitioning import PLACEMENTS
from streams.settings import Settings
from streams.worker.metrics import INVALID_REASONS, PARTITIONER_VERDICTS, Metrics

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

# Every family's label names. A new label must be added here on purpose: it has to come from a bounded
# set (never an order id, a customer or a free text), which this list is the review point for.
LABELS: dict[str, set[str]] = {
    "postsale_events_consumed": {"topic", "type"},
    "postsale_invalid_records": {"topic", "reason"},
    "postsale_duplicate_events": {"topic"},
    "postsale_misrouted_events": {"topic"},
    "postsale_rule_errors": set(),
    "postsale_fenced_records": set(),
    "postsale_late_events": {"topic"},
    "postsale_group_coordinator_lost": set(),
    "postsale_deciding_paused": set(),
    "postsale_deciding_resumed": set(),
    "postsale_deciding_stopped": set(),
    "postsale_actions_emitted": {"type", "rule"},
    "postsale_refunds": {"party", "currency", "store"},
    "postsale_refund_amount": {"party", "currency", "store"},
    "postsale_open_orders": {"stage"},
    "postsale_orders_with_pending_deadlines": set(),
    "postsale_deadlines_fired": {"rule"},
    "postsale_deadlines_overdue": set(),
    "postsale_oldest_overdue_deadline_age_seconds": set(),
    "postsale_clock_lag_seconds": {"partition"},
    "postsale_held_events": {"partition"},
    "postsale_processing_latency_seconds": set(),
    "postsale_consumer_lag_records": {"topic", "partition"},
    "postsale_store_penalty_points": {"store"},
    "postsale_store_orders_in_window": {"store"},
    "postsale_store_disputes_in_window": {"store"},
    "postsale_build_info": {"version", "policy_version"},
    "postsale_rebalances": set(),
    "postsale_rebalancing": set(),
    "postsale_rebalance_duration_seconds": set(),
    "postsale_offset_commits": set(),
    "postsale_offset_commit_duration_seconds": set(),
    "postsale_committed_lag_records": {"topic", "partition"},
    "postsale_send_errors": set(),
    "postsale_partitioner_evidence": {"topic", "placement"},
    "postsale_partitioner_detected": {"topic", "partitioner"},
    "postsale_partitioner_refusing": set(),
    "postsale_reroute_holds": set(),
    "postsale_reroute_grace_expired": set(),
}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics.create(registry, Settings())


def test_every_family_has_exactly_its_allowed_label_names(metrics: Metrics, registry: CollectorRegistry) -> None:
    assert {f.name for f in registry.collect()} == set(LABELS), "a metric was added or removed: update LABELS"
    # Label names from the metric objects: a labelled family shows them in samples only once a child exists.
    declared = {
        m._name: set(m._labelnames)
        for m in (getattr(metrics, f) for f in Metrics.__dataclass_fields__)
        if isinstance(m, MetricWrapperBase)
    }
    assert declared == LABELS


def test_known_label_sets_start_at_zero(registry: CollectorRegistry) -> None:
    settings = Settings(topic_orders="shop-orders", topic_shipments="shop-shipments", topic_disputes="shop-disputes")
    Metrics.create(registry, settings)
    topic = {"orders": "shop-orders", "shipments": "shop-shipments", "disputes": "shop-disputes"}
    get = registry.get_sample_value
    for event_type in EVENT_TYPES:
        labels = {"topic": topic[topic_of(event_type)], "type": event_type}
        assert get("postsale_events_consumed_total", labels) == 0.0, labels
    for t in settings.input_topics:
        for reason in INVALID_REASONS:
            assert get("postsale_invalid_records_total", {"topic": t, "reason": reason}) == 0.0
        assert get("postsale_duplicate_events_total", {"topic": t}) == 0.0
        assert get("postsale_misrouted_events_total", {"topic": t}) == 0.0
    for stage in STAGES:
        assert get("postsale_open_orders", {"stage": stage}) == 0.0
    for rule in RULE_IDS:
        assert get("postsale_deadlines_fired_total", {"rule": rule}) == 0.0
        for action_type in ACTION_TYPES:
            assert get("postsale_actions_emitted_total", {"type": action_type, "rule": rule}) == 0.0
    for name in ("orders_with_pending_deadlines", "deadlines_overdue", "oldest_overdue_deadline_age_seconds"):
        assert get(f"postsale_{name}") == 0.0
    assert get("postsale_processing_latency_seconds_count") == 0.0
    # an event type on a topic it does not belong to is not pre-created
    assert get("postsale_events_consumed_total", {"topic": "shop-orders", "type": "dispute.opened"}) is None


def test_initial_label_values_come_from_the_bounded_sets(metrics: Metrics, registry: CollectorRegistry) -> None:
    bounded = {
        "topic": set(Settings().input_topics),
        "type": set(EVENT_TYPES) | set(ACTION_TYPES),
        "reason": set(INVALID_REASONS),
        "rule": set(RULE_IDS),
        "stage": set(STAGES),
        "placement": set(PLACEMENTS),
        "partitioner": set(PARTITIONER_VERDICTS),
        "le": None,  # histogram buckets
        "version": {package_version()},
        "policy_version": {"unknown"},
    }
    for family in registry.collect():
        for sample in family.samples:
            for label, value in sample.labels.items():
                allowed = bounded[label]
                assert allowed is None or value in allowed, (sample.name, label, value)


def test_store_labels_are_bounded_by_stores_max(registry: CollectorRegistry) -> None:
    m = Metrics.create(registry, Settings(stores_max=2))
    known: set[str] = set()
    assert m.store_label("s1", known) == "s1"
    assert m.store_label("s2", known) == "s2"
    assert m.store_label("s3", known) is None, "a third store is not exported"
    assert m.store_label("s1", known) == "s1", "a store already exported keeps its label"
    assert known == {"s1", "s2"}


@pytest.mark.parametrize(
    ("dues", "pending", "overdue", "oldest_age"),
    [
        ([], 0, 0, 0.0),
        ([NOW + timedelta(hours=1), NOW + timedelta(days=2)], 2, 0, 0.0),
        ([NOW], 1, 0, 0.0),  # due exactly now fires on the next tick (pop_due fires strictly before): not late
        ([NOW - timedelta(seconds=1)], 1, 1, 1.0),
        ([NOW - timedelta(minutes=5), NOW - timedelta(hours=2), NOW + timedelta(hours=3)], 3, 2, 7200.0),
    ],
)
def test_deadline_backlog(metrics: Metrics, registry: CollectorRegistry, dues, pending, overdue, oldest_age) -> None:
    metrics.set_deadline_backlog(len(dues), iter(dues), NOW)
    assert registry.get_sample_value("postsale_orders_with_pending_deadlines") == pending
    assert registry.get_sample_value("postsale_deadlines_overdue") == overdue
    assert registry.get_sample_value("postsale_oldest_overdue_deadline_age_seconds") == oldest_age


def test_deadline_backlog_goes_back_to_zero_once_fired(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.set_deadline_backlog(1, [NOW - timedelta(hours=1)], NOW)
    metrics.set_deadline_backlog(0, [], NOW)
    assert registry.get_sample_value("postsale_deadlines_overdue") == 0
    assert registry.get_sample_value("postsale_oldest_overdue_deadline_age_seconds") == 0


def test_open_orders_sets_every_stage(metrics: Metrics, registry: CollectorRegistry) -> None:
    first, second, *_ = STAGES
    metrics.set_open_orders({first: 3, second: 1})
    metrics.set_open_orders({second: 2})  # every order of the first stage moved on
    assert registry.get_sample_value("postsale_open_orders", {"stage": first}) == 0
    assert registry.get_sample_value("postsale_open_orders", {"stage": second}) == 2


def test_a_revoked_partition_leaves_no_series(metrics: Metrics, registry: CollectorRegistry) -> None:
    topics = Settings().input_topics
    for partition in ("0", "1"):
        metrics.clock_lag.labels(partition=partition).set(5)
        metrics.held_events.labels(partition=partition).set(2)
        metrics.consumer_lag.labels(topic=topics[0], partition=partition).set(7)
    metrics.forget_partition(0, topics)
    metrics.forget_partition(0, topics)  # again, and for topics without a series: no error
    get = registry.get_sample_value
    assert get("postsale_clock_lag_seconds", {"partition": "0"}) is None
    assert get("postsale_held_events", {"partition": "0"}) is None
    assert get("postsale_consumer_lag_records", {"topic": topics[0], "partition": "0"}) is None
    assert get("postsale_consumer_lag_records", {"topic": topics[0], "partition": "1"}) == 7


def test_counters_count(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.refunds.labels(party="customer", currency="USD", store="s1").inc()
    metrics.refund_amount.labels(party="customer", currency="USD", store="s1").inc(12.5)
    metrics.processing_latency.observe(0.003)
    get = registry.get_sample_value
    assert get("postsale_refunds_total", {"party": "customer", "currency": "USD", "store": "s1"}) == 1
    assert get("postsale_refund_amount_total", {"party": "customer", "currency": "USD", "store": "s1"}) == 12.5
    assert get("postsale_processing_latency_seconds_bucket", {"le": "0.0025"}) == 0
    assert get("postsale_processing_latency_seconds_bucket", {"le": "0.005"}) == 1


def test_refunds_past_stores_max_are_counted_as_other(registry: CollectorRegistry) -> None:
    m = Metrics.create(registry, Settings(stores_max=1))
    known: set[str] = set()
    for store, amount in (("s1", 10.0), ("s2", 20.0), ("s3", 5.0), ("s1", 1.0)):
        label = m.store_label(store, known) or "other"
        m.refunds.labels(party="customer", currency="USD", store=label).inc()
        m.refund_amount.labels(party="customer", currency="USD", store=label).inc(amount)
    get = registry.get_sample_value
    assert get("postsale_refunds_total", {"party": "customer", "currency": "USD", "store": "s1"}) == 2
    assert get("postsale_refunds_total", {"party": "customer", "currency": "USD", "store": "other"}) == 2
    assert get("postsale_refund_amount_total", {"party": "customer", "currency": "USD", "store": "other"}) == 25.0
    stores = {s.labels["store"] for f in registry.collect() if f.name == "postsale_refunds" for s in f.samples}
    assert stores == {"s1", "other"}, "no refund is uncounted, and the store series stay bounded"


def test_build_info_names_the_version_and_the_policy(registry: CollectorRegistry) -> None:
    Metrics.create(registry, Settings(), policy_version="2026.12-store-a")
    labels = {"version": package_version(), "policy_version": "2026.12-store-a"}
    assert registry.get_sample_value("postsale_build_info", labels) == 1
    assert package_version() != "unknown", "the package is installed (pip install -e .): its version is known"


def test_a_scrape_has_no_created_series(registry: CollectorRegistry) -> None:
    enable_created_metrics()  # prometheus_client's default; Metrics.create must switch it off
    try:
        m = Metrics.create(registry, Settings())
        m.refunds.labels(party="customer", currency="USD", store="s1").inc()
        m.processing_latency.observe(0.01)
        text = generate_latest(registry).decode()
    finally:
        disable_created_metrics()
    assert "postsale_refunds_total{" in text
    assert "_created" not in text


def test_committed_lag_is_per_partition_and_forgotten_on_revoke(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.set_committed_lag("orders", 0, 12)
    metrics.set_committed_lag("postsale-ticks", 0, 3)
    metrics.set_committed_lag("orders", 1, -1)  # a commit past the last end offset seen: no lag
    get = registry.get_sample_value
    assert get("postsale_committed_lag_records", {"topic": "orders", "partition": "0"}) == 12
    assert get("postsale_committed_lag_records", {"topic": "orders", "partition": "1"}) == 0
    metrics.forget_partition(0, Settings().input_topics)
    assert get("postsale_committed_lag_records", {"topic": "orders", "partition": "0"}) is None
    assert get("postsale_committed_lag_records", {"topic": "postsale-ticks", "partition": "0"}) is None
    assert get("postsale_committed_lag_records", {"topic": "orders", "partition": "1"}) == 0
