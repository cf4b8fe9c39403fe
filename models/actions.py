"""Outbound actions: what postsale tells the executors to do, on `actions`.

Actions are commands, so they are named in the imperative. Each carries the
rule (playbook row) that decided it, the policy version, the event time at
which it was decided, the events that caused it and a deterministic id: the
same decision always gets the same `action_id`, so a consumer can drop a
repeat, and a person can ask "why?" and get the chain back.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from models.common import ActionType, Amount, CurrencyCode, EventTime, OrderId, Party, RuleId, StoreId
from models.unchecked import interned, template, unchecked


def action_id_for(order_id: str, rule: str, action_type: str, key: str) -> str:
    """Deterministic id of a decision: same order, rule, type and decision key → same id."""
    digest = _BLAKE2B_12.copy()  # cheaper than making one with its arguments
    digest.update(f"{order_id}\x1f{rule}\x1f{action_type}\x1f{key}".encode())
    return "act-" + digest.hexdigest()


_BLAKE2B_12 = hashlib.blake2b(digest_size=12)


class Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action_id: str = Field(
        description="Deterministic idempotency key of this decision.", examples=["act-3f2a9c0d1e4b5a6978abcdef"]
    )
    order_id: OrderId
    store_id: StoreId
    type: ActionType
    rule: RuleId = Field(description="The playbook row that decided it.")
    policy_version: str = Field(description="Version of the policy file in force.", examples=["2026.11-default"])
    decided_at: EventTime = Field(
        description="Event time of the decision (an event's time, or the deadline's due time)."
    )
    caused_by: tuple[str, ...] = Field(
        description="Event ids that led to this decision.", examples=[["evt-1", "evt-7"]]
    )
    reason: str = Field(description="Why, in the shop's words, with the threshold that was crossed.")
    party: Party | None = Field(default=None, description="For refunds and coupons: who receives the money.")
    amount: Amount | None = None
    currency: CurrencyCode | None = None
    cause: str | None = Field(
        default=None,
        description="For customer refunds: what is being refunded (`order`, `dispute-1`, …); one refund per cause.",
    )
    notice: str | None = Field(
        default=None,
        description="For notify_customer / escalate: which message to send (a template id).",
        examples=["interception_failed"],
    )
    quantity: int | None = Field(default=None, description="For accept_return: units accepted.")
    due_by: EventTime | None = Field(default=None, description="When the executor must have done it (refund deadline).")
    attempt: int | None = Field(
        default=None, description="For reorder: which supplier attempt (1 = first alternative)."
    )

    @classmethod
    def of(cls, **values: Any) -> Action:
        """`Action(**values)` without validation, for the engine's own decisions: every value is one the rules
        built with the declared type (ids and times from validated events, amounts quantized by the rules),
        so validating each action again only cost time. Input from outside (`parse_action`) is validated."""
        fields = _ACTION_TEMPLATE.copy()
        fields.update(values)
        names = tuple(values)
        fields_set = _FIELDS_SETS.get(names)
        if fields_set is None:
            fields_set = _FIELDS_SETS.setdefault(names, interned(values.keys()))
        return unchecked(cls, fields, fields_set)

    @property
    def pays_customer(self) -> bool:
        """True for every decision that moves money to the buyer: a refund, or an abandoned return (the buyer
        keeps the goods and is refunded). Both pass the same guards: one per cause, never more than was paid,
        the executor's refund breaker, the refund endpoint and the same totals."""
        return self.party == "customer" and self.type in CUSTOMER_MONEY and self.amount is not None


CUSTOMER_MONEY: frozenset[str] = frozenset({"refund", "abandon_return"})
"""Action types that can pay a customer (with party `customer` and an amount)."""

ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
_ACTION_TEMPLATE: dict[str, Any] = template(Action)
_FIELDS_SETS: dict[tuple[str, ...], set[str]] = {}  # by the names given, in the order given: a handful


_FIELD_NAMES: tuple[str, ...] = tuple(Action.model_fields)
_dumps = orjson.dumps
_AS_PYDANTIC = orjson.OPT_PASSTHROUGH_DATETIME


class _NotPlain(Exception):
    """A value `dump_action` leaves to pydantic."""


def _time(value: object) -> str:
    """An aware time as pydantic writes it: ISO 8601, `Z` for UTC, else the offset in hours and minutes."""
    if type(value) is not datetime:
        raise _NotPlain
    offset = value.utcoffset()
    if offset is None or offset.seconds % 60 or offset.microseconds:
        raise _NotPlain  # not an event time (naive, or an offset in seconds): pydantic's own rules
    if not offset:
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def dump_action(action: Action) -> bytes:
    """The action as JSON, None fields left out: the bytes pydantic's `dump_json(exclude_none=True)` gives, written
    with orjson (a fifth of the time). The values are the model's declared types: strings, a tuple of strings,
    ints, a `Decimal` (written as its text, as pydantic does) and aware times; anything else is left to pydantic."""
    values = action.__dict__
    try:
        return _dumps(
            {name: value for name in _FIELD_NAMES if (value := values[name]) is not None},
            default=_plain,
            option=_AS_PYDANTIC,
        )
    except (_NotPlain, TypeError):
        return ACTION_ADAPTER.dump_json(action, exclude_none=True)


def _plain(value: object) -> str:
    if type(value) is Decimal:
        return str(value)
    return _time(value)


def parse_action(raw: bytes | str) -> Action:
    return ACTION_ADAPTER.validate_json(raw)
