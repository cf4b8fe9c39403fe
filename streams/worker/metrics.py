"""Prometheus metrics of a worker: a value passed in, built on a registry of the caller's choosing.

Names follow `postsale_<what>_<unit>`. Label values come from bounded sets
only: topic, event type, reason, action type, rule, party, currency, stage,
partition, the build's version and policy version, and store ids capped by
`stores_max` (never an order id; the refund counters count the stores past the
cap under store="other"). Known label sets
are initialised at start-up so that dashboards and alerts see zeros instead of
missing series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from models.common import ACTION_TYPES, RULE_IDS
from models.events import EVENT_TYPES, topic_of
from models.state import STAGES
from streams.build import package_version
from streams.kafka.partitioning import PLACEMENTS
from streams.settings import Settings

PARTITIONER_VERDICTS = ("murmur2", "crc32", "mixed", "neither", "unknown")

INVALID_REASONS = (
    "invalid_json",
    "invalid_event",
    "key_mismatch",
    "future_timestamp",
    "unknown_order",
    "before_placement",
    "wrong_topic",
    "misrouted",
    "rule_error",
)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    events_consumed: Counter
    invalid_records: Counter
    duplicate_events: Counter
    misrouted_events: Counter
    rule_errors: Counter
    fenced_records: Counter
    late_events: Counter
    group_coordinator_lost: Counter
    deciding_paused: Counter
    deciding_resumed: Counter
    deciding_stopped: Gauge
    actions_emitted: Counter
    refunds: Counter
    refund_amount: Counter
    open_orders: Gauge
    orders_with_pending_deadlines: Gauge
    deadlines_fired: Counter
    deadlines_overdue: Gauge
    oldest_overdue_deadline_age: Gauge
    clock_lag: Gauge
    held_events: Gauge
    processing_latency: Histogram
    consumer_lag: Gauge
    store_penalty_points: Gauge
    store_orders_in_window: Gauge
    store_disputes_in_window: Gauge
    build_info: Gauge
    rebalances: Counter
    rebalancing: Gauge
    rebalance_duration: Histogram
    commits: Counter
    commit_duration: Histogram
    committed_lag: Gauge
    send_errors: Counter
    stores_max: int
    partitioner_evidence: Counter
    partitioner_detected: Gauge
    partitioner_refusing: Gauge
    reroute_holds: Gauge
    reroute_grace_expired: Counter
    _committed_lag_series: set[tuple[str, str]] = field(default_factory=set)
    _children: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # (metric, *label values) -> its child

    @classmethod
    def create(cls, registry: CollectorRegistry, settings: Settings, policy_version: str = "unknown") -> Metrics:
        # `_created` series (one per labelled child: hundreds for the action counters alone) carry nothing an
        # alert or a panel uses; prometheus_client's switch is process-wide.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        ns = "postsale"
        m = cls(
            registry=registry,
            events_consumed=Counter(
                "events_consumed",
                "Valid events consumed, by topic and type.",
                ["topic", "type"],
                namespace=ns,
                registry=registry,
            ),
            invalid_records=Counter(
                "invalid_records",
                "Records sent to the dead-letter topic, by reason.",
                ["topic", "reason"],
                namespace=ns,
                registry=registry,
            ),
            duplicate_events=Counter(
                "duplicate_events",
                "Events ignored as repeats of an event_id already processed.",
                ["topic"],
                namespace=ns,
                registry=registry,
            ),
            misrouted_events=Counter(
                "misrouted_events",
                "Events found on a partition their key does not hash to.",
                ["topic"],
                namespace=ns,
                registry=registry,
            ),
            rule_errors=Counter(
                "rule_errors",
                "Deadlines the rules could not decide (an engine bug): the order waits for its next event.",
                namespace=ns,
                registry=registry,
            ),
            fenced_records=Counter(
                "fenced_records",
                "Records left to be read again because a rebalance overtook them (split-brain fencing).",
                namespace=ns,
                registry=registry,
            ),
            late_events=Counter(
                "late_events",
                "Events applied after their partition's clock had passed them (a deadline may have fired first).",
                ["topic"],
                namespace=ns,
                registry=registry,
            ),
            group_coordinator_lost=Counter(
                "group_coordinator_lost",
                "Times this worker lost its group coordinator: a request failed, or no heartbeat was answered for a "
                "third of the session timeout (streams/kafka/fencing.py).",
                namespace=ns,
                registry=registry,
            ),
            deciding_paused=Counter(
                "deciding_paused",
                "Times this worker stopped deciding because it could no longer prove its group membership (its "
                "partitions may be another worker's).",
                namespace=ns,
                registry=registry,
            ),
            deciding_resumed=Counter(
                "deciding_resumed",
                "Times this worker resumed deciding after its group membership was proven again.",
                namespace=ns,
                registry=registry,
            ),
            deciding_stopped=Gauge(
                "deciding_stopped",
                "1 while this worker decides nothing because it cannot prove its group membership, else 0.",
                namespace=ns,
                registry=registry,
            ),
            actions_emitted=Counter(
                "actions_emitted",
                "Actions sent to the actions topic, by type and rule.",
                ["type", "rule"],
                namespace=ns,
                registry=registry,
            ),
            refunds=Counter(
                "refunds",
                'Refund actions, by party, currency and store (stores past stores_max as "other").',
                ["party", "currency", "store"],
                namespace=ns,
                registry=registry,
            ),
            refund_amount=Counter(
                "refund_amount",
                'Refunded amount, by party, currency and store (stores past stores_max as "other").',
                ["party", "currency", "store"],
                namespace=ns,
                registry=registry,
            ),
            open_orders=Gauge(
                "open_orders", "Orders held in state, by lifecycle stage.", ["stage"], namespace=ns, registry=registry
            ),
            orders_with_pending_deadlines=Gauge(
                "orders_with_pending_deadlines",
                "Orders with at least one pending deadline, on this worker's partitions.",
                namespace=ns,
                registry=registry,
            ),
            deadlines_fired=Counter(
                "deadlines_fired", "Deadlines fired, by rule.", ["rule"], namespace=ns, registry=registry
            ),
            deadlines_overdue=Gauge(
                "deadlines_overdue",
                "Deadlines due by the wall clock but not fired yet.",
                namespace=ns,
                registry=registry,
            ),
            oldest_overdue_deadline_age=Gauge(
                "oldest_overdue_deadline_age_seconds",
                "Age of the oldest deadline due by the wall clock and not fired.",
                namespace=ns,
                registry=registry,
            ),
            clock_lag=Gauge(
                "clock_lag_seconds",
                "How far a partition's clock is behind the live clock (clock_mode=events: behind the most advanced "
                "partition), in wall seconds.",
                ["partition"],
                namespace=ns,
                registry=registry,
            ),
            held_events=Gauge(
                "held_events",
                "Events held for event-time alignment, by partition.",
                ["partition"],
                namespace=ns,
                registry=registry,
            ),
            processing_latency=Histogram(
                "processing_latency_seconds",
                "From an event's arrival at the worker to its actions acknowledged by the broker.",
                namespace=ns,
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            ),
            consumer_lag=Gauge(
                "consumer_lag_records",
                "Records not yet read, by input topic and partition.",
                ["topic", "partition"],
                namespace=ns,
                registry=registry,
            ),
            store_penalty_points=Gauge(
                "store_penalty_points",
                "Refusal-to-ship penalty points booked per store.",
                ["store"],
                namespace=ns,
                registry=registry,
            ),
            store_orders_in_window=Gauge(
                "store_orders_in_window",
                "Orders placed in the store's dispute-rate window (sum over workers).",
                ["store"],
                namespace=ns,
                registry=registry,
            ),
            store_disputes_in_window=Gauge(
                "store_disputes_in_window",
                "Disputes opened in the store's dispute-rate window (sum over workers); rate = disputes / orders.",
                ["store"],
                namespace=ns,
                registry=registry,
            ),
            build_info=Gauge(
                "build_info",
                "Always 1: the package version and the version of the policy this worker decides under.",
                ["version", "policy_version"],
                namespace=ns,
                registry=registry,
            ),
            # Faust's own sensors (streams/worker/sensors.py).
            rebalances=Counter(
                "rebalances",
                "Consumer-group rebalances this worker took part in (each stops processing until it ends).",
                namespace=ns,
                registry=registry,
            ),
            rebalancing=Gauge(
                "rebalancing",
                "1 while a rebalance (table recovery included) is under way on this worker, else 0.",
                namespace=ns,
                registry=registry,
            ),
            rebalance_duration=Histogram(
                "rebalance_duration_seconds",
                "From a rebalance's start to its end, table recovery included.",
                namespace=ns,
                registry=registry,
                buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0),
            ),
            commits=Counter(
                "offset_commits",
                "Offset commits of the consumer group (Faust's commit loop, every commit_interval_seconds).",
                namespace=ns,
                registry=registry,
            ),
            commit_duration=Histogram(
                "offset_commit_duration_seconds",
                "Duration of one offset commit (the producer flushed first).",
                namespace=ns,
                registry=registry,
                buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            ),
            committed_lag=Gauge(
                "committed_lag_records",
                "Records after the group's committed offset, by consumed topic and partition: Kafka's consumer-group "
                "lag (what a restart reads again, plus what is not read yet), as of the last commit.",
                ["topic", "partition"],
                namespace=ns,
                registry=registry,
            ),
            send_errors=Counter(
                "send_errors",
                "Records the producer could not send (actions, dead letters, changelog, ticks).",
                namespace=ns,
                registry=registry,
            ),
            stores_max=settings.stores_max,
            partitioner_evidence=Counter(
                "partitioner_evidence",
                "Keyed records by which partitioner could have placed them: murmur2 or crc32 alone, both (they "
                "agree for the key) or neither.",
                ["topic", "placement"],
                namespace=ns,
                registry=registry,
            ),
            partitioner_detected=Gauge(
                "partitioner_detected",
                "1 for what the records of a topic show its producers use (murmur2, crc32, mixed, neither, "
                "unknown), 0 for the others.",
                ["topic", "partitioner"],
                namespace=ns,
                registry=registry,
            ),
            partitioner_refusing=Gauge(
                "partitioner_refusing",
                "1 while the worker refuses to decide because the records contradict POSTSALE_PARTITIONER "
                "(the reason is logged; records stay unacknowledged).",
                namespace=ns,
                registry=registry,
            ),
            reroute_holds=Gauge(
                "reroute_holds",
                "Copies of misplaced events sent on to this worker's partitions and not arrived yet: each holds "
                "its partition's clock at its time, for at most reroute_grace_seconds.",
                namespace=ns,
                registry=registry,
            ),
            reroute_grace_expired=Counter(
                "reroute_grace_expired",
                "Holds for a copy in flight given up after reroute_grace_seconds (the copy may arrive late).",
                namespace=ns,
                registry=registry,
            ),
        )
        m.build_info.labels(version=package_version(), policy_version=policy_version).set(1)
        logical = dict(zip(("orders", "shipments", "disputes"), settings.input_topics, strict=True))
        for event_type in EVENT_TYPES:
            m.events_consumed.labels(topic=logical[topic_of(event_type)], type=event_type)
        for topic in settings.input_topics:
            for reason in INVALID_REASONS:
                m.invalid_records.labels(topic=topic, reason=reason)
            m.duplicate_events.labels(topic=topic)
            m.misrouted_events.labels(topic=topic)
            for where in PLACEMENTS:
                m.partitioner_evidence.labels(topic=topic, placement=where)
            for verdict in PARTITIONER_VERDICTS:
                m.partitioner_detected.labels(topic=topic, partitioner=verdict).set(verdict == "unknown")
        for stage in STAGES:
            m.open_orders.labels(stage=stage)
        for rule in RULE_IDS:
            m.deadlines_fired.labels(rule=rule)
        for action_type in ACTION_TYPES:
            for rule in RULE_IDS:
                m.actions_emitted.labels(type=action_type, rule=rule)
        return m

    def set_open_orders(self, counts: Mapping[str, int]) -> None:
        """Orders held in state per lifecycle stage (every stage is set; a missing one is 0)."""
        for stage in STAGES:
            self.open_orders.labels(stage=stage).set(counts.get(stage, 0))

    def set_deadline_backlog(self, pending: int, dues: Iterable[datetime], now: datetime) -> None:
        """The deadline gauges: `pending` orders with a deadline; of `dues`, those strictly before `now` are
        overdue-but-unfired, and the oldest one's age (seconds, 0 when none) is exported.

        `dues` needs to hold at least every due time before `now` (the deadline
        index can list just those); `now` is the live clock: the wall clock, or
        the furthest partition clock in event-time mode. Due exactly at `now` is
        not overdue: `DeadlineIndex.pop_due` fires strictly before its time.
        """
        overdue = 0
        oldest: datetime | None = None
        for due in dues:
            if due < now:
                overdue += 1
                if oldest is None or due < oldest:
                    oldest = due
        self.orders_with_pending_deadlines.set(pending)
        self.deadlines_overdue.set(overdue)
        self.oldest_overdue_deadline_age.set((now - oldest).total_seconds() if oldest is not None else 0.0)

    def forget_partition(self, partition: int, topics: Iterable[str]) -> None:
        """Remove a revoked partition's series, so that sums over workers do not count it twice."""
        label = str(partition)
        for gauge in (self.clock_lag, self.held_events):
            try:
                gauge.remove(label)
            except KeyError:
                pass
        for topic in topics:
            try:
                self.consumer_lag.remove(topic, label)
            except KeyError:
                pass
        for topic, part in [key for key in self._committed_lag_series if key[1] == label]:
            self.committed_lag.remove(topic, part)
            self._committed_lag_series.discard((topic, part))

    def set_committed_lag(self, topic: str, partition: int, lag: int) -> None:
        """Kafka's consumer-group lag of one partition (removed again when the partition is revoked)."""
        key = (topic, str(partition))
        self.committed_lag.labels(*key).set(max(lag, 0))
        self._committed_lag_series.add(key)

    def child(self, metric: Any, **labels: str) -> Any:
        """`metric.labels(**labels)`, remembered: prometheus_client's lookup costs more than the count itself.
        Only for series that are never removed (`forget_partition` removes per-partition ones)."""
        key = (id(metric), *labels.values())
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(**labels)
        return found

    def store_label(self, store_id: str, known: set[str]) -> str | None:
        """The store's label, or None once `stores_max` stores are exported (keeps the series bounded)."""
        if store_id in known or len(known) < self.stores_max:
            known.add(store_id)
            return store_id
        return None
