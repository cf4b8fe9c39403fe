"""Per-store ledgers the marketplaces judge a store by: penalty points and dispute rate.

Each order contributes entries (placed, dispute opened, penalty case); a
store's ledger is their sum. Sums of entries do not depend on the order in
which different orders' entries arrive, which is what lets the live worker
(one partition at a time) and the replay (one file) agree.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.unchecked import interned, template, unchecked

PenaltyCase = Literal["no_ship_no_cooperation", "no_ship_cooperated", "out_of_stock_refunded"]


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)
    store_id: str
    order_id: str
    kind: Literal["order_placed", "dispute_opened", "penalty"]
    at: AwareDatetime
    points: int = 0
    case: PenaltyCase | None = None
    window_days: int = Field(default=30, description="The store's dispute-rate window when the entry was made.")
    alert_at_points: int = 36
    alert_at_rate: float = 0.05

    @classmethod
    def of(cls, **values: Any) -> LedgerEntry:
        """`LedgerEntry(**values)` without validation, for the entries the rules make (one per order placed):
        their values come from a validated state and policy, with the declared types."""
        fields = _ENTRY_TEMPLATE.copy()
        fields.update(values)
        return unchecked(cls, fields, interned(values.keys()))


_ENTRY_TEMPLATE: dict[str, Any] = template(LedgerEntry)


class StoreLedger(BaseModel):
    model_config = ConfigDict(frozen=True)
    store_id: str
    penalty_points: int = 0
    penalty_cases: dict[str, int] = Field(default_factory=dict)
    # day (ISO date, UTC) -> [orders placed, disputes opened]; only days inside the window are kept
    days: dict[str, tuple[int, int]] = Field(default_factory=dict)
    latest_day: date | None = None
    window_days: int = 30
    alert_at_points: int = 36
    alert_at_rate: float = 0.05

    def orders_in_window(self) -> int:
        return sum(v[0] for v in self.days.values())

    def disputes_in_window(self) -> int:
        return sum(v[1] for v in self.days.values())

    def dispute_rate(self) -> float:
        orders = self.orders_in_window()
        return self.disputes_in_window() / orders if orders else 0.0

    @property
    def penalty_alert(self) -> bool:
        return self.penalty_points >= self.alert_at_points

    @property
    def dispute_rate_alert(self) -> bool:
        return self.dispute_rate() >= self.alert_at_rate
