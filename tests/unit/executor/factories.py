"""Actions for executor tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from models.actions import Action, action_id_for

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def refund(order_id: str = "A1", amount: str = "25.00", store_id: str = "store-1", **extra: Any) -> Action:
    fields: dict[str, Any] = {
        "action_id": action_id_for(order_id, "wrong_or_missing", "refund", extra.pop("key", "dispute-1")),
        "order_id": order_id,
        "store_id": store_id,
        "type": "refund",
        "rule": "wrong_or_missing",
        "policy_version": "test",
        "decided_at": datetime(2026, 11, 11, 10, tzinfo=UTC),
        "caused_by": ("evt-1",),
        "reason": "claim verified",
        "party": "customer",
        "amount": Decimal(amount),
        "currency": "USD",
        "cause": "dispute-1",
    }
    fields.update(extra)
    return Action(**fields)
