"""Folding orders' ledger entries into a store's ledger (penalty_points and dispute_rate rows).

Pure sums over day buckets: the same entries give the same ledger in any
order, so a store's figures do not depend on how its orders were spread over
partitions or interleaved in a file.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from models.ledger import LedgerEntry, StoreLedger


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

