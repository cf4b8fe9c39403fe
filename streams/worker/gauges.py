"""Gauges that are sums over this worker's partitions (Prometheus sums them over workers), set on every tick."""

from __future__ import annotations

from collections import Counter
from datetime import UTC

from streams.worker.runtime import Runtime


def export_gauges(rt: Runtime) -> None:
    m = rt.metrics
    parts = rt.partitions.values()
    m.set_open_orders(sum((p.books.stages for p in parts), Counter()))
    clocks = [p.aligner.clock for p in parts if p.aligner.clock is not None]
    # Overdue against the live clock; on the events clock, against the furthest partition's clock.
    now = rt.clock.now() if rt.clock is not None else max(clocks, default=None)
    pending = sum(len(p.books.index) for p in parts)
    if now is None:
        m.orders_with_pending_deadlines.set(pending)
    else:
        m.set_deadline_backlog(pending, (d for p in parts for d in p.books.index.overdue(now)), now)
    if not clocks:
        return
    # Clock lag in wall seconds: behind the live clock, or on the events clock behind the most advanced partition.
    speed = rt.clock.speed if rt.clock is not None else 1.0
    for partition, state in rt.partitions.items():
        clock = state.aligner.clock
        if clock is not None and now is not None:
            lag = (now - clock).total_seconds() / speed
            m.clock_lag.labels(partition=str(partition)).set(max(lag, 0.0))
    today = max(clocks).astimezone(UTC).date()
    thresholds = rt.policy.defaults
    stores: set[str] = set()
    for p in parts:
        stores.update(p.books.totals.stores())
    for store in sorted(stores):
        label = m.store_label(store, rt.known_stores)
        if label is None:
            continue
        points = orders = disputes = 0
        for p in parts:
            ledger = p.books.totals.ledger(
                store, today, thresholds.dispute_rate_window_days, thresholds.penalty_points_alert_at, 0.05
            )
            points += ledger.penalty_points
            orders += ledger.orders_in_window()
            disputes += ledger.disputes_in_window()
        m.store_penalty_points.labels(store=label).set(points)
        m.store_orders_in_window.labels(store=label).set(orders)
        m.store_disputes_in_window.labels(store=label).set(disputes)
