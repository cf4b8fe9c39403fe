"""Every action that pays a customer takes the refund's way: the refund endpoint, the breaker, the report back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.actions import CUSTOMER_MONEY, Action, dump_action
from streams.executor.config import parse_config
from streams.executor.dry_run import describe
from streams.executor.outcomes import events_for, record_for
from streams.executor.routing import endpoint_type, is_customer_refund, misrouted_entries
from tests.unit.executor.factories import refund

AT = datetime(2026, 11, 12, tzinfo=UTC)
CONFIG = parse_config(
    "endpoints:\n  default: {kind: dry_run}\n"
    "  refund: {kind: webhook, url: 'https://pay.example/refunds', secret_env: S}\n"
    "  reorder: {kind: webhook, url: 'https://erp.example/reorders', secret_env: S}\n"
    "breaker: {limits: {USD: {single: 1, per_hour: 2}}}\n"
)


def like(**update: object) -> Action:
    return refund().model_copy(update=update)


@pytest.mark.parametrize(
    ("action", "customer_money", "endpoint"),
    [
        (like(), True, "refund"),
        (like(type="abandon_return"), True, "refund"),
        (like(party="supplier"), False, "refund"),
        (like(type="reorder", party=None, amount=None, currency=None, cause=None), False, "reorder"),
        (like(type="escalate", notice="refund_held"), False, "escalate"),  # an escalation names money, pays none
        # Claims to pay the customer without an amount: still the refund's way, where it is failed, never sent.
        (like(type="abandon_return", amount=None), True, "refund"),
    ],
)
def test_what_pays_a_customer_goes_to_the_refund_endpoint(action: Action, customer_money: bool, endpoint: str) -> None:
    assert is_customer_refund(action) is customer_money
    assert endpoint_type(action) == endpoint
    if action.amount is not None:
        assert action.pays_customer is customer_money  # the one notion, from models.actions


def test_every_type_of_customer_money_is_routed_like_a_refund() -> None:
    for action_type in CUSTOMER_MONEY:
        a = like(type=action_type)
        assert CONFIG.target(endpoint_type(a), a.store_id) == ("https://pay.example/refunds", "S")
        line = describe(CONFIG, dump_action(a))
        assert "POST https://pay.example/refunds" in line and "breaker applies" in line
        assert f"{action_type} customer 25.00 USD" in line


@pytest.mark.parametrize("action_type", sorted(CUSTOMER_MONEY))
def test_done_customer_money_reports_order_refunded_for_that_action(action_type: str) -> None:
    a = like(type=action_type)
    (event,) = events_for(a, record_for(a, "done", AT, sent_at=AT))
    assert event.type == "order.refunded"
    assert (event.party, event.amount, event.currency, event.caused_by) == ("customer", a.amount, "USD", a.action_id)
    assert event.event_id == f"out-{a.action_id}"


def test_an_endpoint_entry_that_customer_money_would_bypass_is_named() -> None:
    assert misrouted_entries(CONFIG) == []
    extra = parse_config(
        "endpoints:\n  refund: {kind: webhook, url: 'https://pay.example/refunds', secret_env: S}\n"
        "  abandon_return: {kind: webhook, url: 'https://other.example/x', secret_env: S}\n"
        "breaker: {limits: {USD: {single: 1, per_hour: 2}}}\n"
    )
    (problem,) = misrouted_entries(extra)
    assert problem.startswith("endpoints.abandon_return:") and "endpoints.refund" in problem
