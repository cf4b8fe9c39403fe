"""What every playbook row is built from: the trigger, the context and the plan.

A row is a function `row(order, trigger, ctx) -> Outcome`:
- `order` is the order's state before the row looks at it;
- `trigger` is an inbound event or a `Due` deadline (time is an argument);
- `ctx` carries the order's resolved thresholds and the policy version.
The row builds its decisions with a `Plan` (a local accumulator, no I/O) and
returns the new state, the actions, the store-ledger entries and notes that
explain a decision not to act.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from models.actions import Action, action_id_for
from models.common import ActionType, RuleId
from models.events import Event
from models.ledger import LedgerEntry
from models.policy import Thresholds
from models.state import Deadline, DeadlineRule, OrderState
from rules.calendar import add_working_days


@dataclass(frozen=True, slots=True)
class OrderContext:
    thresholds: Thresholds
    policy_version: str
    promotion: str | None = None


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline that the clock has passed: the row looks at the order again."""

    deadline: Deadline

    @property
    def at(self) -> datetime:
        return self.deadline.due

    @property
    def key(self) -> str:
        return self.deadline.key

    @property
    def caused_by(self) -> tuple[str, ...]:
        return self.deadline.caused_by


Trigger = Event | Due


class Outcome(NamedTuple):
    """What a row did. A named tuple, not a frozen dataclass: built several times per event, and a frozen
    dataclass's `__init__` (an `object.__setattr__` per field) costs twice as much."""

    state: OrderState
    actions: tuple[Action, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()
    notes: tuple[str, ...] = ()


def trigger_time(trigger: Trigger) -> datetime:
    return trigger.at if isinstance(trigger, Due) else trigger.occurred_at


def trigger_causes(trigger: Trigger) -> tuple[str, ...]:
    return trigger.caused_by if isinstance(trigger, Due) else (trigger.event_id,)


def money(value: Decimal | float) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(slots=True)
class Plan:
    """Decisions of one row about one trigger, accumulated then returned as an `Outcome`."""

    order: OrderState
    ctx: OrderContext
    rule: RuleId
    at: datetime
    caused_by: tuple[str, ...]
    actions: list[Action] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    owns_order: bool = False
    """The plan's first change copies the order it was given (the caller's, never changed); the next ones change
    that copy in place, which only this plan holds until the row returns it."""

    @classmethod
    def of(cls, order: OrderState, trigger: Trigger, ctx: OrderContext, rule: RuleId) -> Plan:
        if isinstance(trigger, Due):
            # A deadline set relative to an order's own ship-by may fall before its placement (a ship-by
            # given earlier than the order): it is decided as of the placement, never before.
            due = trigger.deadline.due
            return cls(order, ctx, rule, due if due >= order.placed_at else order.placed_at, trigger.deadline.caused_by)
        return cls(order, ctx, rule, trigger.occurred_at, (trigger.event_id,))

    @property
    def thresholds(self) -> Thresholds:
        return self.ctx.thresholds

    def act(
        self,
        type: ActionType,
        key: str,
        reason: str,
        *,
        rule: RuleId | None = None,
        caused_by: tuple[str, ...] | None = None,
        **details: Any,
    ) -> None:
        """Decide an action. `key` names this decision within the order, so that repeats get the same id."""
        rule = rule or self.rule
        self.actions.append(
            Action.of(
                action_id=action_id_for(self.order.order_id, rule, type, key),
                order_id=self.order.order_id,
                store_id=self.order.store_id,
                type=type,
                rule=rule,
                policy_version=self.ctx.policy_version,
                decided_at=self.at,
                caused_by=caused_by if caused_by is not None else self.caused_by,
                reason=reason,
                **details,
            )
        )

    def refund_customer(
        self, cause: str, amount: Decimal, reason: str, *, key: str | None = None, **details: Any
    ) -> None:
        self.act(
            "refund",
            key or f"customer-{cause}",
            reason,
            party="customer",
            amount=money(amount),
            currency=self.order.currency,
            cause=cause,
            **details,
        )

    def refund_supplier(self, key: str, reason: str) -> None:
        self.act(
            "refund",
            f"supplier-{key}",
            reason,
            party="supplier",
            amount=self.order.supplier_cost,
            currency=self.order.supplier_currency if self.order.supplier_cost is not None else None,
        )

    def schedule(
        self, key: str, due: datetime, *, rule: DeadlineRule | None = None, caused_by: tuple[str, ...] | None = None
    ) -> None:
        rule = rule or self.rule
        kept = tuple(d for d in self.order.deadlines if not (d.rule == rule and d.key == key))
        deadline = Deadline.of(due, rule, key, caused_by if caused_by is not None else self.caused_by)
        self._change({"deadlines": (*kept, deadline)})

    def settle(self, *rules: DeadlineRule, key: str | None = None) -> None:
        """Drop pending deadlines of these rules (all of them, or the one with `key`)."""
        kept = tuple(d for d in self.order.deadlines if not (d.rule in rules and (key is None or d.key == key)))
        if len(kept) != len(self.order.deadlines):
            self._change({"deadlines": kept})

    def update(self, **changes: Any) -> None:
        self._change(changes)

    def _change(self, changes: dict[str, Any]) -> None:
        if self.owns_order:
            self.order.update_in_place(changes)
        else:
            self.order = self.order.evolve(**changes)
            self.owns_order = True

    def note(self, text: str) -> None:
        self.notes.append(f"{self.rule}: {text}")

    def working_days_after(self, start: datetime, days: int) -> datetime:
        return add_working_days(start, days, self.thresholds.calendar.country, self.thresholds.calendar.timezone)

    def done(self) -> Outcome:
        return Outcome(self.order, tuple(self.actions), tuple(self.ledger), tuple(self.notes))


def days(n: float) -> timedelta:
    return timedelta(days=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def fmt(at: datetime) -> str:
    return at.isoformat(timespec="minutes")
