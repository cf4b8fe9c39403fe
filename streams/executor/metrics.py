"""Prometheus metrics of the executor, on a registry of the caller's choosing.

Names `postsale_executor_<what>_<unit>`; labels from bounded sets only:
action type, outcome, and store ids capped at `stores_max` (then `other`).
Known label sets start at zero so that alerts see a series from the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from models.common import ACTION_TYPES
from streams.build import package_version
from streams.executor.outcomes import STATUSES

OTHER = "other"


@dataclass
class ExecutorMetrics:
    registry: CollectorRegistry
    deliveries: Counter
    retries: Counter
    latency: Histogram
    skipped: Counter
    held_refunds: Gauge
    held_amount: Gauge
    held_total: Counter
    build_info: Gauge
    stores_max: int
    _stores: set[str] = field(default_factory=set)
    _held_stores: set[str] = field(default_factory=set)
    _held_pairs: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def create(cls, registry: CollectorRegistry, stores_max: int = 100) -> ExecutorMetrics:
        # as the worker's: `_created` series add nothing an alert or a panel uses
        disable_created_metrics()  # type: ignore[no-untyped-call]
        ns = "postsale_executor"
        m = cls(
            registry=registry,
            deliveries=Counter(
                "deliveries",
                "Actions finished, by action type and outcome.",
                ["action_type", "outcome"],
                namespace=ns,
                registry=registry,
            ),
            retries=Counter(
                "retries",
                "Attempts repeated after a timeout, connection error, 429 or 5xx.",
                ["action_type"],
                namespace=ns,
                registry=registry,
            ),
            latency=Histogram(
                "delivery_seconds",
                "Duration of one HTTP attempt, seconds.",
                ["action_type"],
                namespace=ns,
                registry=registry,
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            ),
            skipped=Counter(
                "skipped",
                "Actions not called again: an outcome was already recorded.",
                ["action_type"],
                namespace=ns,
                registry=registry,
            ),
            held_refunds=Gauge(
                "held_refunds",
                "Customer refunds held by the breaker, waiting for a person.",
                ["store"],
                namespace=ns,
                registry=registry,
            ),
            held_amount=Gauge(
                "held_refund_amount",
                "Amount of the held customer refunds.",
                ["store", "currency"],
                namespace=ns,
                registry=registry,
            ),
            held_total=Counter(
                "refunds_held",
                "Customer refunds the breaker held, since start.",
                ["store"],
                namespace=ns,
                registry=registry,
            ),
            build_info=Gauge(
                "build_info",
                "Always 1: the package version of this executor.",
                ["version"],
                namespace=ns,
                registry=registry,
            ),
            stores_max=stores_max,
        )
        m.build_info.labels(package_version()).set(1)
        for t in ACTION_TYPES:
            m.retries.labels(t)
            m.skipped.labels(t)
            for o in STATUSES:
                m.deliveries.labels(t, o)
        return m

    def store(self, store_id: str) -> str:
        """The label of a store: its id for the first `stores_max` stores seen, `other` after that."""
        if store_id in self._stores:
            return store_id
        if len(self._stores) < self.stores_max:
            self._stores.add(store_id)
            return store_id
        return OTHER

    def set_held(self, held: Iterable[tuple[str, str | None, Decimal | None]]) -> None:
        """Recompute the held gauges from (store, currency, amount) of every held refund."""
        counts: dict[str, int] = {}
        amounts: dict[tuple[str, str], Decimal] = {}
        for store_id, currency, amount in held:
            label = self.store(store_id)
            counts[label] = counts.get(label, 0) + 1
            if currency is not None and amount is not None:
                amounts[(label, currency)] = amounts.get((label, currency), Decimal(0)) + amount
        for label in self._held_stores - set(counts):
            self.held_refunds.labels(label).set(0)
        for label, n in counts.items():
            self.held_refunds.labels(label).set(n)
        for pair in self._held_pairs - set(amounts):
            self.held_amount.labels(*pair).set(0)
        for pair, amount in amounts.items():
            self.held_amount.labels(*pair).set(float(amount))
        self._held_stores |= set(counts)
        self._held_pairs |= set(amounts)
