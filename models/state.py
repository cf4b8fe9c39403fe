"""An order's state as the engine keeps it between events.

Frozen outside the engine: the state a caller hands to `rules.engine` and the
state it gets back are never changed, so a failed send can never leave a
half-updated order behind. Inside one engine call the engine and a row's plan
copy the order once (`evolve`) and change that copy in place after it
(`update_in_place`). The state holds what the rules need and the order's
decision history (for "why?"), never customer data.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from models.common import ActionType, DisputeReason, RuleId
from models.unchecked import interned, interned_with, set_fields_set, unchecked

Stage = Literal["placed", "supplier_ordered", "shipped", "delivered", "cancelled", "returned"]
STAGES: tuple[str, ...] = Stage.__args__  # type: ignore[attr-defined]


# `retire` is housekeeping, not a playbook row: it forgets a finished order's state.
DeadlineRule = RuleId | Literal["retire"]

_unchecked = unchecked
_interned = interned
_interned_with = interned_with
_new_object = object.__new__
_set_attr = object.__setattr__
_set_fields_set = set_fields_set
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class Deadline(BaseModel):
    """A point in event time at which a rule looks at the order again."""

    model_config = ConfigDict(frozen=True)
    due: AwareDatetime
    rule: DeadlineRule
    key: str = Field(description="Distinguishes several deadlines of one rule (e.g. `attempt-1`).")
    caused_by: tuple[str, ...] = ()

    @classmethod
    def of(cls, due: datetime, rule: DeadlineRule, key: str, caused_by: tuple[str, ...]) -> Deadline:
        """`Deadline(due=..., rule=..., key=..., caused_by=...)` without validation (an aware `due`)."""
        return _unchecked(cls, {"due": due, "rule": rule, "key": key, "caused_by": caused_by}, _DEADLINE_FIELDS)


_DEADLINE_FIELDS = {"due", "rule", "key", "caused_by"}


class Decided(BaseModel):
    """One line of the order's decision history."""

    model_config = ConfigDict(frozen=True)
    action_id: str
    type: ActionType
    rule: RuleId
    decided_at: AwareDatetime
    policy_version: str
    caused_by: tuple[str, ...]
    reason: str

    @classmethod
    def of(
        cls,
        action_id: str,
        type: ActionType,
        rule: RuleId,
        decided_at: datetime,
        policy_version: str,
        caused_by: tuple[str, ...],
        reason: str,
    ) -> Decided:
        """`Decided(...)` without validation: the values come from a validated `Action`."""
        values = {
            "action_id": action_id,
            "type": type,
            "rule": rule,
            "decided_at": decided_at,
            "policy_version": policy_version,
            "caused_by": caused_by,
            "reason": reason,
        }
        return _unchecked(cls, values, _DECIDED_FIELDS)


_DECIDED_FIELDS = {"action_id", "type", "rule", "decided_at", "policy_version", "caused_by", "reason"}


class CustomerRefund(BaseModel):
    """A customer refund the order has had: decided here (`action_id`), or reported by an outside party."""

    model_config = ConfigDict(frozen=True)
    cause: str
    amount: Decimal
    action_id: str
    confirmed: bool = Field(default=False, description="An order.refunded event reported it done.")


class DisputeCase(BaseModel):
    model_config = ConfigDict(frozen=True)
    seq: int
    reason: DisputeReason
    rule: RuleId = Field(description="The playbook row that owns this dispute's path.")
    opened_at: AwareDatetime
    opened_by: str
    status: Literal[
        "open",
        "evidence_requested",
        "claim_open",
        "verified",
        "rejected",
        "return_accepted",
        "return_shipped",
        "return_received",
        "resolved",
        "escalated",
        "closed",
    ] = "open"
    amount_claimed: Decimal | None = None
    return_cost: Decimal | None = None
    quantity: int | None = None
    verified_at: AwareDatetime | None = None

    @property
    def cause(self) -> str:
        return f"dispute-{self.seq}"


class OrderState(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    store_id: str
    marketplace: str
    origin_country: str
    destination_country: str
    amount: Decimal
    currency: str
    placed_at: AwareDatetime
    placed_by: str = Field(description="event_id of order.placed")
    ship_by: AwareDatetime
    wholesale: bool = False
    units: int = 1
    promotion: str | None = None

    supplier_ordered: bool = False
    supplier_cost: Decimal | None = None
    supplier_currency: str | None = None
    supplier_attempt: int = Field(default=0, description="0 = the original supplier; n = the n-th alternative.")
    supplier_id: str | None = Field(
        default=None,
        description="The alternative supplier the order was moved to, as its reorder named it; None before any "
        "reorder (every supplier message is then about the original supplier).",
    )
    expedited: bool = False
    awaiting_supplier_since: AwareDatetime | None = None
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    last_status: str | None = None
    customs_hold_since: AwareDatetime | None = None
    customs_hold_event: str | None = None
    interception: Literal["pending", "succeeded", "failed"] | None = None
    interception_cause: Literal["customer_cancel", "wrong_address"] | None = None
    dispute: DisputeCase | None = None
    evidence_before_dispute: AwareDatetime | None = Field(
        default=None,
        description="When the buyer's evidence arrived while no dispute had been opened: the claim path of the "
        "dispute that follows opens its claim on it instead of asking again.",
    )
    disputes_opened: int = 0
    dispute_days: tuple[date, ...] = Field(default=(), description="UTC dates disputes were opened (dispute_rate).")
    penalty_points: int = Field(default=0, description="Refusal-to-ship points this order has cost its store.")
    non_quality_units_accepted: int = Field(
        default=0, description="Units accepted back for non-quality reasons (the wholesale cap counts them all)."
    )

    customer_refunds: tuple[CustomerRefund, ...] = ()
    refunds_done: Decimal = Decimal("0")
    deadlines: tuple[Deadline, ...] = ()
    decided: tuple[Decided, ...] = ()
    seen: tuple[int, ...] = Field(default=(), description="64-bit digests of processed event ids.")

    @classmethod
    def of(cls, **values: Any) -> OrderState:
        """`OrderState(**values)` without validation, for values the engine took from a validated event;
        the fields not given take their (immutable) defaults. Every required field must be given."""
        fields = _ORDER_TEMPLATE.copy()  # in declaration order, as validation builds it
        fields.update(values)
        names = tuple(values)
        fields_set = _OF_FIELDS_SETS.get(names)
        if fields_set is None:
            fields_set = _OF_FIELDS_SETS.setdefault(names, _interned(set(values)))
        return _unchecked(cls, fields, fields_set)

    def evolve(self, **changes: Any) -> OrderState:
        """A copy with `changes` (not validated: the rules set values of the declared types).

        Hot path: the first change of every engine call and of every row that changes the order makes one,
        and pydantic's model_copy was the largest single cost of a replay. The slots are
        set through their descriptors, and the fields-set is shared: the same
        object when the changes add no new name to it, else one interned set
        per combination of names (a set per order was a fifth of a replay's
        memory). pydantic never mutates it on a frozen model."""
        new = _new_object(OrderState)
        _set_attr(new, "__dict__", {**self.__dict__, **changes})  # keeps the declaration order
        fields_set = self.__pydantic_fields_set__
        if not fields_set.issuperset(changes):
            fields_set = _interned_with(fields_set, changes)
        _set_fields_set(new, fields_set)
        _set_extra(new, None)
        _set_private(new, None)
        return new

    def update_in_place(self, changes: dict[str, Any]) -> None:
        """Change this state itself (not validated). Only for the engine, on a state that it made during the
        current call and that nobody else holds (`rules.engine`): everywhere else states are frozen, and a
        state that left the engine is never changed."""
        self.__dict__.update(changes)
        fields_set = self.__pydantic_fields_set__
        if not fields_set.issuperset(changes):
            _set_fields_set(self, _interned_with(fields_set, changes))

    @property
    def shipped(self) -> bool:
        return self.shipped_at is not None

    @property
    def domestic(self) -> bool:
        return self.origin_country == self.destination_country

    @property
    def stage(self) -> Stage:
        if self.cancelled_at is not None:
            return "cancelled"
        if self.last_status == "returned_to_sender":
            return "returned"
        if self.delivered_at is not None:
            return "delivered"
        if self.shipped_at is not None:
            return "shipped"
        if self.supplier_ordered:
            return "supplier_ordered"
        return "placed"

    @property
    def customer_refunded(self) -> Decimal:
        return sum((r.amount for r in self.customer_refunds), Decimal("0"))

    def decided_ids(self) -> frozenset[str]:
        return frozenset(d.action_id for d in self.decided)

    def deadline(self, rule: str, key: str | None = None) -> Deadline | None:
        return next((d for d in self.deadlines if d.rule == rule and (key is None or d.key == key)), None)


ORDER_STATE_ADAPTER: TypeAdapter[OrderState] = TypeAdapter(OrderState)
_OF_FIELDS_SETS: dict[tuple[str, ...], set[str]] = {}  # by the names given, in the order given: a handful
_ORDER_TEMPLATE: dict[str, Any] = {
    name: None if field.is_required() else field.default for name, field in OrderState.model_fields.items()
}


def utc_iso(value: datetime) -> str:
    return value.isoformat()
