"""Folding orders' ledger entries into a store's ledger (penalty_points and dispute_rate rows).

Pure sums over day buckets: the same entries give the same ledger in any
order, so a store's figures do not depend on how its orders were spread over
partitions or interleaved in a file.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from models.ledger import LedgerEntry, StoreLedger
from models.state import OrderState


def apply_entry(ledger: StoreLedger | None, entry: LedgerEntry) -> StoreLedger:
    if ledger is None:
        ledger = StoreLedger(store_id=entry.store_id)
    day = entry.at.date() if entry.at.utcoffset() is None else entry.at.astimezone(UTC).date()
    latest = day if ledger.latest_day is None or day > ledger.latest_day else ledger.latest_day
    window = entry.window_days
    points = ledger.penalty_points
    cases = ledger.penalty_cases
    days = dict(ledger.days)
    if entry.kind == "penalty" and entry.case is not None:
        points += entry.points
        cases = {**cases, entry.case: cases.get(entry.case, 0) + 1}
    elif day > latest - timedelta(days=window):  # older than the window: already out of the rate
        orders, disputes = days.get(day.isoformat(), (0, 0))
        if entry.kind == "order_placed":
            orders += 1
        else:
            disputes += 1
        days[day.isoformat()] = (orders, disputes)
    days = _prune(days, latest, window)
    return ledger.model_copy(
        update={
            "penalty_points": points,
            "penalty_cases": cases,
            "days": days,
            "latest_day": latest,
            "window_days": window,
            "alert_at_points": entry.alert_at_points,
            "alert_at_rate": entry.alert_at_rate,
        }
    )


def _prune(days: dict[str, tuple[int, int]], latest: date, window: int) -> dict[str, tuple[int, int]]:
    oldest = (latest - timedelta(days=window - 1)).isoformat()
    return {d: v for d, v in days.items() if d >= oldest}


class StoreTotals:
    """A store's figures derived from the states of its orders (penalty_points and dispute_rate rows).

    Derived, not accumulated: every change of an order's state moves the
    totals by the difference between its new and old contribution. A worker
    rebuilds them from its tables after a restart, and a repeated event (which
    changes no state) cannot count twice. Orders leave the totals when they
    retire (`retain_closed_days` after they finish), which is longer than the
    dispute-rate window, so the rate is exact; penalty points are those of the
    orders still held.
    """

    def __init__(self) -> None:
        self.penalty: dict[str, int] = {}
        self.orders_by_day: dict[str, dict[date, int]] = {}
        self.disputes_by_day: dict[str, dict[date, int]] = {}

    def _add(self, order: OrderState, sign: int) -> None:
        store = order.store_id
        if order.penalty_points:
            self.penalty[store] = self.penalty.get(store, 0) + sign * order.penalty_points
        days = self.orders_by_day.setdefault(store, {})
        placed = order.placed_at.astimezone(UTC).date()
        days[placed] = days.get(placed, 0) + sign
        if order.dispute_days:
            ddays = self.disputes_by_day.setdefault(store, {})
            for d in order.dispute_days:
                ddays[d] = ddays.get(d, 0) + sign

    def apply(self, before: OrderState | None, after: OrderState | None) -> None:
        if before is after:
            return
        if (
            before is not None
            and after is not None
            and before.placed_at is after.placed_at
            and before.dispute_days is after.dispute_days
            and before.penalty_points == after.penalty_points
            and before.store_id is after.store_id
        ):
            return  # the same contribution taken out and put back: most events change none of these fields
        if before is not None:
            self._add(before, -1)
        if after is not None:
            self._add(after, +1)

    def ledger(
        self, store: str, today: date, window_days: int, alert_at_points: int, alert_at_rate: float
    ) -> StoreLedger:
        """The store's ledger as of `today`: orders and disputes of the last `window_days` days."""
        oldest = today - timedelta(days=window_days - 1)
        orders = {d: n for d, n in self.orders_by_day.get(store, {}).items() if oldest <= d <= today and n}
        disputes = {d: n for d, n in self.disputes_by_day.get(store, {}).items() if oldest <= d <= today and n}
        days = {d.isoformat(): (orders.get(d, 0), disputes.get(d, 0)) for d in orders.keys() | disputes.keys()}
        return StoreLedger(
            store_id=store,
            penalty_points=self.penalty.get(store, 0),
            days=days,
            latest_day=today,
            window_days=window_days,
            alert_at_points=alert_at_points,
            alert_at_rate=alert_at_rate,
        )

    def stores(self) -> list[str]:
        return sorted(self.orders_by_day.keys() | self.penalty.keys())

    def prune(self, before: date) -> None:
        """Forget day buckets older than `before` (they are outside every window)."""
        for table in (self.orders_by_day, self.disputes_by_day):
            for store, days in table.items():
                table[store] = {d: n for d, n in days.items() if d >= before}
