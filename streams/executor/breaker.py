"""The refund circuit breaker: when an automated customer refund is held for a person instead of sent.

`check_refund` is the arithmetic, pure, with the time as an argument.
`RefundBook` is the memory it reads: the customer refunds this executor (or a
person through `postsale actions release`) sent, per store and currency,
rebuilt from the outcome topic at start-up.

Three tests, each against the refund about to be sent (`amount`) in one currency:
- single: `amount > single` → held, whatever came before;
- hourly: `last_hour + amount > per_hour`, where `last_hour` sums refunds sent
  in (now − 60 min, now];
- rate: `last_hour + amount > multiple × usual`, where `usual` is the mean
  hourly amount over the `baseline_hours` before that hour, floored at
  `min_hourly_baseline`. With neither history nor a floor (usual = 0) the rate
  test is off: a new store is bounded by the other two.
A currency with no limits configured is held: an unknown limit is no limit to trust.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from streams.executor.config import Breaker, CurrencyLimits

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Sent:
    at: datetime
    amount: Decimal


@dataclass(frozen=True)
class Verdict:
    hold: bool
    reason: str
    last_hour: Decimal
    usual_hourly: Decimal


def check_refund(
    history: Iterable[Sent],
    amount: Decimal,
    currency: str,
    now: datetime,
    limits: CurrencyLimits | None,
    multiple: float,
    baseline_hours: int,
) -> Verdict:
    """Hold or send one refund of `amount`, given the refunds already sent by the same store in `currency`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    hour_start = now - HOUR
    baseline_start = now - timedelta(hours=baseline_hours)
    last_hour = Decimal(0)
    before = Decimal(0)
    for s in history:
        if hour_start < s.at <= now:
            last_hour += s.amount
        elif baseline_start < s.at <= hour_start:
            before += s.amount
    usual = before / (baseline_hours - 1)
    if limits is None:
        return Verdict(True, f"no refund limits configured for {currency}", last_hour, usual)
    if amount > limits.single:
        return Verdict(
            True, f"refund {amount} {currency} is above the single-refund limit {limits.single}", last_hour, usual
        )
    after = last_hour + amount
    if after > limits.per_hour:
        return Verdict(
            True,
            f"{after} {currency} refunded within an hour would exceed the limit {limits.per_hour}",
            last_hour,
            usual,
        )
    baseline = max(usual, limits.min_hourly_baseline)
    if baseline > 0 and after > baseline * Decimal(str(multiple)):
        return Verdict(
            True,
            f"{after} {currency} within an hour is more than {multiple:g}x the usual {baseline:.2f} per hour",
            last_hour,
            usual,
        )
    return Verdict(False, "within limits", last_hour, usual)


class RefundBook:
    """Customer refunds sent, per (store, currency), pruned to the breaker's baseline window."""

    def __init__(self, breaker: Breaker) -> None:
        self.breaker = breaker
        self._sent: dict[tuple[str, str], dict[str, Sent]] = defaultdict(dict)

    def record(self, action_id: str, store_id: str, currency: str, amount: Decimal, at: datetime) -> None:
        """Idempotent by action id: replaying the outcome topic twice counts each refund once."""
        self._sent[(store_id, currency)][action_id] = Sent(at, amount)

    def forget(self, action_id: str) -> None:
        for sent in self._sent.values():
            sent.pop(action_id, None)

    def check(self, store_id: str, currency: str, amount: Decimal, now: datetime) -> Verdict:
        limits, multiple = self.breaker.for_store(store_id, currency)
        sent = self._sent[(store_id, currency)]
        horizon = now - timedelta(hours=self.breaker.baseline_hours)
        for action_id in [k for k, s in sent.items() if s.at <= horizon]:
            del sent[action_id]
        return check_refund(sent.values(), amount, currency, now, limits, multiple, self.breaker.baseline_hours)
