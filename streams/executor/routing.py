"""Where an action goes, and which actions the refund breaker guards.

Every decision that pays a customer (`models.actions.CUSTOMER_MONEY` with party
`customer`: a refund, or an abandoned return, where the buyer keeps the goods
and is refunded) goes to the **refund endpoint**, passes the same breaker and
counts in the same hourly totals. The request body is the action itself, so the
endpoint tells the two apart by `type` (`refund` or `abandon_return`); the money
to pay is `amount` in `currency` either way. Every other action goes to the
endpoint of its type (or `default`).
"""

from __future__ import annotations

from models.actions import CUSTOMER_MONEY, Action
from streams.executor.config import ExecutorConfig

REFUND_ENDPOINT = "refund"


def is_customer_refund(action: Action) -> bool:
    """The action moves money to the buyer (or claims to: one without an amount or currency is failed by the
    executor, never sent unchecked)."""
    return action.party == "customer" and action.type in CUSTOMER_MONEY


def endpoint_type(action: Action) -> str:
    """The `endpoints` entry of executor.yaml that serves this action."""
    return REFUND_ENDPOINT if is_customer_refund(action) else action.type


def misrouted_entries(config: ExecutorConfig) -> list[str]:
    """Endpoint entries that would never be used because their actions go to the refund endpoint."""
    return [
        f"endpoints.{name}: an action of this type that pays a customer goes to endpoints.{REFUND_ENDPOINT} "
        "(the same breaker, the same totals); remove this entry"
        for name in sorted(config.endpoints)
        if name in CUSTOMER_MONEY and name != REFUND_ENDPOINT
    ]
