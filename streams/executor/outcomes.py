"""What happened to an action, and the input event that tells the engine.

An `OutcomeRecord` is the executor's memory (compacted topic keyed by action
id: the latest record per action wins); a `HeldRecord` is a refund parked by
the breaker (compacted topic, a tombstone once released or dropped).
`events_for` and `held_event` are pure: the same outcome always yields the same
event, with the deterministic id `out-<action_id>` (`held-<action_id>` for a
hold), so a repeat after a crash is a duplicate that the engine ignores.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from models.actions import CUSTOMER_MONEY, Action
from models.common import Amount, CurrencyCode, Party
from models.events import ActionFailed, ActionHeld, Event, OrderRefunded, OrderReissued, OrderReordered

Status = Literal["done", "rejected", "failed", "held", "dropped", "dry_run"]
FINAL: frozenset[str] = frozenset({"done", "rejected", "failed", "dropped"})
"""Statuses after which the action is never called again (`held` waits for a person; `dry_run` called no one)."""
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]


class OutcomeRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action_id: str
    order_id: str
    store_id: str
    action_type: str
    status: Status
    at: AwareDatetime = Field(description="When the outcome became definite (wall clock).")
    reason: str = ""
    attempts: int = 0
    http_status: int | None = None
    party: Party | None = None
    amount: Amount | None = None
    currency: CurrencyCode | None = None
    sent_at: AwareDatetime | None = Field(
        default=None,
        description="When a customer refund was first sent (for the breaker): set when the money may have moved.",
    )


class HeldRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    held_at: AwareDatetime
    reason: str


OUTCOME_ADAPTER: TypeAdapter[OutcomeRecord] = TypeAdapter(OutcomeRecord)
HELD_ADAPTER: TypeAdapter[HeldRecord] = TypeAdapter(HeldRecord)


def record_for(
    action: Action,
    status: Status,
    at: AwareDatetime,
    reason: str = "",
    attempts: int = 0,
    http_status: int | None = None,
    sent_at: AwareDatetime | None = None,
) -> OutcomeRecord:
    return OutcomeRecord(
        action_id=action.action_id,
        order_id=action.order_id,
        store_id=action.store_id,
        action_type=action.type,
        status=status,
        at=at,
        reason=reason[:500],
        attempts=attempts,
        http_status=http_status,
        party=action.party,
        amount=action.amount,
        currency=action.currency,
        sent_at=sent_at,
    )


def events_for(action: Action, outcome: OutcomeRecord) -> list[Event]:
    """The input events that report `outcome` (none for held and dry-run outcomes, or a done type with no event)."""
    event_id = f"out-{action.action_id}"
    common = {"event_id": event_id, "order_id": action.order_id, "occurred_at": outcome.at}
    if outcome.status in ("rejected", "failed", "dropped"):
        return [
            ActionFailed(
                **common,
                action_id=action.action_id,
                action_type=action.type,
                reason=outcome.reason,
                outcome=outcome.status,
            )
        ]
    if outcome.status != "done":
        return []
    if action.type in CUSTOMER_MONEY and action.party is not None and action.amount is not None and action.currency:
        # A refund, or an abandoned return (the buyer keeps the goods and is refunded): money moved.
        return [
            OrderRefunded(
                **common, party=action.party, amount=action.amount, currency=action.currency, caused_by=action.action_id
            )
        ]
    if action.type == "reorder":
        return [OrderReordered(**common, caused_by=action.action_id)]
    if action.type == "reissue":
        return [OrderReissued(**common, caused_by=action.action_id)]
    return []


def held_event(action: Action, reason: str, at: AwareDatetime) -> ActionHeld:
    """The input event that tells the engine a person must decide (id `held-<action_id>`: a repeat after a crash
    is a duplicate the engine ignores)."""
    return ActionHeld(
        event_id=f"held-{action.action_id}",
        order_id=action.order_id,
        occurred_at=at,
        action_id=action.action_id,
        action_type=action.type,
        party=action.party,
        amount=action.amount,
        currency=action.currency,
        reason=reason[:500],
    )
