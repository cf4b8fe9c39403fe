"""Faust's own sensors, exported as Prometheus metrics: rebalances, offset commits, Kafka's consumer-group lag.

`FaustSensors` replaces the app's default `Monitor` (Faust keeps calling it for
every record, commit and rebalance anyway), so it costs no extra hook. Only
what an operator acts on is exported, with bounded labels: counts and durations
of rebalances and commits, producer send errors, and per consumed topic and
partition the records after the committed offset. Topics other than the ones
the worker commits (the changelog, read for recovery) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from faust.sensors.monitor import Monitor, TPOffsetMapping
from faust.types import AppT
from faust.types.transports import ConsumerT, ProducerT

from streams.worker.metrics import Metrics


class FaustSensors(Monitor):
    def __init__(self, metrics: Metrics, topics: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics
        self.committed_topics = frozenset(topics)

    def on_rebalance_start(self, app: AppT) -> dict[str, Any]:
        state = super().on_rebalance_start(app)
        self.metrics.rebalances.inc()
        self.metrics.rebalancing.set(1)
        return dict(state)

    def on_rebalance_end(self, app: AppT, state: dict[str, Any]) -> None:
        super().on_rebalance_end(app, state)
        self.metrics.rebalancing.set(0)
        self.metrics.rebalance_duration.observe(state["latency_end"])

    def on_commit_completed(self, consumer: ConsumerT, state: Any) -> None:
        super().on_commit_completed(consumer, state)
        self.metrics.commits.inc()
        self.metrics.commit_duration.observe(self.time() - float(state))

    def on_tp_commit(self, tp_offsets: TPOffsetMapping) -> None:
        super().on_tp_commit(tp_offsets)
        for tp, committed in tp_offsets.items():
            end = self.tp_end_offsets.get(tp)
            if tp.topic in self.committed_topics and end is not None:
                self.metrics.set_committed_lag(tp.topic, tp.partition, end - committed)

    def on_send_error(self, producer: ProducerT, exc: BaseException, state: Any) -> None:
        super().on_send_error(producer, exc, state)
        self.metrics.send_errors.inc()
