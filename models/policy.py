"""The policy: every threshold of the playbook, as data a store can change.

A policy file has `version`, `defaults` (a full set of thresholds), and
overrides per marketplace, per destination region and per promotion window.
An order's thresholds are resolved once from its marketplace, destination
country and placement time: defaults ← marketplace ← region ← promotion.
Overrides name only the fields they change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from models.common import KNOWN_MARKETPLACES, CountryCode, EventTime, epoch_micros


class CarrierLimits(BaseModel):
    """Size and weight a parcel may have; the oversize row checks orders against them at placement.

    Upper bounds are those of an event's unit (`models.events.Item`): a limit above them never refuses."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    max_weight_kg: float = Field(
        default=30.0, gt=0, le=10_000, description="Weight of one unit (a parcel holds at least one), kg."
    )
    max_side_cm: float = Field(default=120.0, gt=0, le=10_000, description="Longest side of any unit, cm.")
    max_length_plus_girth_cm: float = Field(
        default=300.0, gt=0, le=50_000, description="Longest side + 2×(other two), cm."
    )


class Calendar(BaseModel):
    """Which working-day calendar counts 'working days': a `holidays` country and the time zone of its dates."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    country: str = Field(default="CN", max_length=8, description="A country code the `holidays` library knows.")
    timezone: str = Field(
        default="Asia/Shanghai", max_length=64, description="IANA zone in which a working day is a date."
    )

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in holidays.list_supported_countries():
            raise ValueError(f"unknown holiday calendar {value!r} (the holidays library has no such country)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


YEAR_DAYS = 365
YEAR_HOURS = 24 * 365
WORKING_YEAR_DAYS = 260
MAX_POINTS = 1000
MAX_COST_SHARE = 10.0


class Thresholds(BaseModel):
    """All numbers the playbook rows read. Days are calendar days unless the name says working days.

    Every number has an upper bound no store needs to exceed: a span of time is at most a year (a working
    year, 260 days, in working days; ten years for keeping a closed order), a share of the order value at
    most 10 (beyond that the branch it guards is never taken), penalty points at most 1,000. Deadlines are
    event time plus a few of these spans, so they stay far inside what a date can hold."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # Before shipment
    handling_time_hours: float = Field(
        default=72, gt=0, le=YEAR_HOURS, description="Ship-by = placed_at + this, when the order has none."
    )
    overdue_expedite_after_days: float = Field(
        default=2, gt=0, le=YEAR_DAYS, description="overdue_expedite: days after ship-by."
    )
    overdue_switch_after_days: float = Field(
        default=4, gt=0, le=YEAR_DAYS, description="overdue_switch: days after ship-by."
    )
    supplier_reply_window_hours: float = Field(
        default=48, gt=0, le=YEAR_HOURS, description="supplier_unresponsive: hours after an expedite."
    )
    max_reorder_attempts: int = Field(
        default=1, ge=0, le=10, description="Alternative suppliers to try before refunding."
    )
    # After shipment
    customs_hold_escalate_after_days: float = Field(
        default=7, gt=0, le=YEAR_DAYS, description="customs_hold: escalate if still held."
    )
    evidence_wait_days: float = Field(
        default=7, gt=0, le=YEAR_DAYS, description="wrong_or_missing/damaged: escalate if no evidence."
    )
    verification_min_working_days: int = Field(
        default=10, ge=0, le=WORKING_YEAR_DAYS, description="What the buyer is told verification takes, at least."
    )
    verification_max_working_days: int = Field(
        default=30, ge=1, le=WORKING_YEAR_DAYS, description="No verification after this → escalate."
    )
    refund_within_working_days: int = Field(
        default=15, ge=1, le=WORKING_YEAR_DAYS, description="A verified refund must be done within this."
    )
    claim_resolution: Literal["reissue", "refund"] = Field(default="reissue", description="What a verified claim gets.")
    # Special situations
    intercept_result_wait_days: float = Field(
        default=3, gt=0, le=YEAR_DAYS, description="No interception result after this → escalate."
    )
    # Dispute reasons
    delivery_estimate_days_domestic: float = Field(default=7, gt=0, le=YEAR_DAYS)
    delivery_estimate_days_international: float = Field(default=30, gt=0, le=YEAR_DAYS)
    # buyer_remorse and returns
    remorse_coupon_above_return_cost_share: float = Field(
        default=0.3,
        ge=0,
        le=MAX_COST_SHARE,
        description="Return cost above this share of the order value → offer a coupon instead (at most 10×).",
    )
    coupon_share_of_order: float = Field(default=0.1, gt=0, le=1, description="Coupon value as a share of the order.")
    return_tracking_days: int = Field(
        default=10, ge=1, le=YEAR_DAYS, description="Buyer must enter return tracking within this."
    )
    return_abandon_window_days: int = Field(
        default=30, ge=1, le=YEAR_DAYS, description="Seller may abandon the return within this."
    )
    abandon_above_return_cost_share: float = Field(
        default=1.0,
        ge=0,
        le=MAX_COST_SHARE,
        description="Return shipping above this share of the order value → abandon the return (at most 10×).",
    )
    non_quality_return_cap_share: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Wholesale: non-quality returns capped at this share of units (0.10 on 1688).",
    )
    # penalty_points (Taobao/Alibaba refusal to ship)
    penalty_points_apply: bool = Field(
        default=False, description="Does this marketplace deduct refusal-to-ship points?"
    )
    penalty_no_ship_no_cooperation: int = Field(default=60, ge=0, le=MAX_POINTS)
    penalty_no_ship_cooperated: int = Field(default=24, ge=0, le=MAX_POINTS)
    penalty_out_of_stock_refunded: int = Field(default=12, ge=0, le=MAX_POINTS)
    penalty_warning_hours_before_ship_by: float = Field(
        default=12, ge=0, le=YEAR_HOURS, description="Expedite this long before ship-by."
    )
    penalty_points_alert_at: int = Field(
        default=36, ge=1, le=MAX_POINTS, description="A store at or above this total is alerted."
    )
    # dispute_rate
    dispute_rate_window_days: int = Field(default=30, ge=1, le=YEAR_DAYS)
    dispute_rate_alert_at: float = Field(default=0.05, gt=0, le=1)
    # promotion
    proactive_notices: bool = Field(
        default=False, description="Tell buyers ship time, tracking and trouble before they ask."
    )
    # housekeeping
    retain_closed_days: float = Field(
        default=60,
        gt=0,
        le=10 * YEAR_DAYS,
        description="Keep a delivered or cancelled order's state this long (at most ten years: records).",
    )

    carrier_limits: CarrierLimits = Field(default_factory=CarrierLimits)
    calendar: Calendar = Field(default_factory=Calendar)

    def inconsistencies(self) -> list[tuple[str, str]]:
        """Pairs of thresholds that contradict each other, as (field, message)."""
        problems: list[tuple[str, str]] = []
        if self.overdue_switch_after_days <= self.overdue_expedite_after_days:
            problems.append(("overdue_switch_after_days", "must be greater than overdue_expedite_after_days"))
        if self.verification_max_working_days < self.verification_min_working_days:
            problems.append(("verification_max_working_days", "must not be less than verification_min_working_days"))
        if self.penalty_points_alert_at <= 0:
            problems.append(("penalty_points_alert_at", "must be positive"))
        return problems

    def merged(self, override: Thresholds) -> Thresholds:
        """This set with the fields the override sets explicitly (nested models merged one level deep)."""
        return self.merged_unchecked(override)

    def merged_unchecked(self, override: Thresholds) -> Thresholds:
        update: dict[str, Any] = {}
        for name in override.model_fields_set:
            value = getattr(override, name)
            if isinstance(value, BaseModel):
                current = getattr(self, name)
                value = current.model_copy(update={k: getattr(value, k) for k in value.model_fields_set})
            update[name] = value
        return Thresholds.model_validate({**self.model_dump(), **{k: _plain(v) for k, v in update.items()}})


def _plain(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


MAX_OVERRIDES = 200
"""Marketplaces, regions and promotions a policy overrides, each at most (a store has a handful)."""


class Intake(BaseModel):
    """How far an event's own time is trusted, checked before the event reaches the engine (rules.intake).

    Store-wide, not per marketplace: the check runs before the order's context is known."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    before_placement_tolerance_hours: float = Field(
        default=6,
        ge=0,
        le=72,
        description="An event may be dated this much before its order's placement (clock skew between the "
        "store's and a carrier's systems) and is applied as of the placement; earlier, it is refused.",
    )
    ahead_of_clock_hours: float = Field(
        default=24,
        gt=0,
        le=168,
        description="An event dated more than this ahead of the clock (wall clock live, the stream's event "
        "time in replay) is refused.",
    )
    unplaced_grace_hours: float = Field(
        default=24,
        ge=0,
        le=168,
        description="How long an event of an order not placed yet waits for its order.placed, counted from the "
        "event's own time, before it is dead-lettered.",
    )


class Promotion(BaseModel):
    """A big-sale window: orders placed inside it get these overrides (shorter ship-by, proactive notices)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=64, examples=["double11"])
    starts_at: EventTime
    ends_at: EventTime
    marketplaces: tuple[Annotated[str, Field(max_length=64)], ...] | None = Field(
        default=None, max_length=MAX_OVERRIDES, description="Only these marketplaces; all if absent."
    )
    overrides: Thresholds = Field(default_factory=Thresholds)

    @field_validator("marketplaces")
    @classmethod
    def _known_marketplaces(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = sorted(set(value or ()) - set(KNOWN_MARKETPLACES))
        if unknown:
            raise ValueError(
                f"unknown marketplace {', '.join(unknown)}: the known ones are {', '.join(KNOWN_MARKETPLACES)}"
            )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Promotion:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = Field(min_length=1, max_length=64, description="Named on every action decided under this policy.")
    defaults: Thresholds = Field(default_factory=Thresholds)
    marketplaces: dict[Annotated[str, Field(max_length=64)], Thresholds] = Field(
        default_factory=dict, max_length=MAX_OVERRIDES, description="Overrides per marketplace id."
    )
    regions: dict[CountryCode, Thresholds] = Field(
        default_factory=dict, max_length=MAX_OVERRIDES, description="Overrides per destination country."
    )
    promotions: tuple[Promotion, ...] = Field(
        default=(), max_length=MAX_OVERRIDES, description="Sales: a few a year, so decades of them."
    )
    intake: Intake = Field(default_factory=Intake, description="Which event times are trusted (rules.intake).")

    @field_validator("marketplaces")
    @classmethod
    def _known_marketplaces(cls, value: dict[str, Thresholds]) -> dict[str, Thresholds]:
        unknown = sorted(set(value) - set(KNOWN_MARKETPLACES))
        if unknown:
            raise ValueError(
                f"unknown marketplace {', '.join(unknown)}: the known ones are {', '.join(KNOWN_MARKETPLACES)}"
            )
        return value

    @field_validator("marketplaces", "regions", "promotions", mode="before")
    @classmethod
    def _not_too_many(cls, value: Any) -> Any:
        # Counted before the entries are validated: 100,000 of them would cost minutes, and as many errors.
        if isinstance(value, dict | list | tuple) and len(value) > MAX_OVERRIDES:
            raise ValueError(f"at most {MAX_OVERRIDES} entries (this has {len(value)})")
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Policy:
        if not (info.context or {}).get("defer_consistency"):
            problems = self.inconsistencies()
            if problems:
                where, message = problems[0]
                raise ValueError(f"{'.'.join(map(str, where))}: {message}")
        return self

    def inconsistencies(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every resolved combination (defaults, each marketplace, region, promotion) checked for contradictions."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        combos: list[tuple[tuple[str | int, ...], Thresholds]] = [(("defaults",), self.defaults)]
        combos += [(("marketplaces", k), self.defaults.merged_unchecked(v)) for k, v in self.marketplaces.items()]
        combos += [(("regions", k), self.defaults.merged_unchecked(v)) for k, v in self.regions.items()]
        combos += [
            (("promotions", i, "overrides"), self.defaults.merged_unchecked(p.overrides))
            for i, p in enumerate(self.promotions)
        ]
        for where, th in combos:
            out += [((*where, field), message) for field, message in th.inconsistencies()]
        return out

    def __hash__(self) -> int:  # policies are cache keys; the version names the content
        return hash((self.version, id(self)))

    def thresholds_for(self, marketplace: str, destination_country: str, placed_at: datetime) -> ResolvedThresholds:
        return _resolve(self, marketplace, destination_country, self.promotion_at(marketplace, placed_at))

    def promotion_at(self, marketplace: str, placed_at: datetime) -> str | None:
        """The promotion window an order placed then on that marketplace falls in (the first that matches)."""
        if not self.promotions:
            return None
        zone = placed_at.tzinfo
        if type(zone) is timezone:  # an event's time (see models.common.EventTime): compare in its own zone
            for starts, ends, marketplaces, name in _windows_in(self, zone):
                if starts <= placed_at < ends and (marketplaces is None or marketplace in marketplaces):
                    return name
            return None
        at = epoch_micros(placed_at)
        for starts_us, ends_us, marketplaces, name in _windows(self):
            if starts_us <= at < ends_us and (marketplaces is None or marketplace in marketplaces):
                return name
        return None

    def resolved(self, marketplace: str, destination_country: str, promotion: str | None) -> ResolvedThresholds:
        """The thresholds of a marketplace, destination and promotion (as `promotion_at` names it)."""
        return _resolve(self, marketplace, destination_country, promotion)


class ResolvedThresholds(BaseModel):
    model_config = ConfigDict(frozen=True)
    thresholds: Thresholds
    promotion: str | None = None


@lru_cache(maxsize=64)
def _windows(policy: Policy) -> tuple[tuple[int, int, tuple[str, ...] | None, str], ...]:
    """The promotion windows as integer microseconds: asked at every event, and comparing aware times of
    different offsets (pydantic's `TzInfo` here) costs a call for each one's offset."""
    return tuple(
        (epoch_micros(p.starts_at), epoch_micros(p.ends_at), p.marketplaces, p.name) for p in policy.promotions
    )


@lru_cache(maxsize=256)
def _windows_in(policy: Policy, zone: timezone) -> tuple[tuple[datetime, datetime, tuple[str, ...] | None, str], ...]:
    """The promotion windows in `zone`: two times with the same tzinfo object compare as plain fields."""
    return tuple(
        (p.starts_at.astimezone(zone), p.ends_at.astimezone(zone), p.marketplaces, p.name) for p in policy.promotions
    )


@lru_cache(maxsize=4096)
def _resolve(policy: Policy, marketplace: str, region: str, promotion: str | None) -> ResolvedThresholds:
    th = policy.defaults
    if marketplace in policy.marketplaces:
        th = th.merged(policy.marketplaces[marketplace])
    if region in policy.regions:
        th = th.merged(policy.regions[region])
    if promotion is not None:
        promo = next(p for p in policy.promotions if p.name == promotion)
        th = th.merged(promo.overrides)
    return ResolvedThresholds(thresholds=th, promotion=promotion)
