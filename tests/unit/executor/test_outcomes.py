"""Outcome events: what the engine is told, with deterministic ids, valid on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from models.events import parse_event
from streams.executor.outcomes import events_for, held_event, record_for
from tests.unit.executor.factories import refund

AT = datetime(2026, 11, 12, 9, tzinfo=UTC)


def test_done_refund_reports_order_refunded_with_its_action_id() -> None:
    action = refund(amount="25.00")
    [event] = events_for(action, record_for(action, "done", AT))
    wire = parse_event(event.model_dump_json(exclude_none=True))
    assert wire.type == "order.refunded"
    assert wire.event_id == f"out-{action.action_id}"
    assert (wire.party, wire.amount, wire.currency, wire.caused_by) == (
        "customer",
        Decimal("25.00"),
        "USD",
        action.action_id,
    )


@pytest.mark.parametrize(("action_type", "event_type"), [("reorder", "order.reordered"), ("reissue", "order.reissued")])
def test_done_reorder_and_reissue(action_type: str, event_type: str) -> None:
    action = refund().model_copy(update={"type": action_type, "party": None, "amount": None, "currency": None})
    [event] = events_for(action, record_for(action, "done", AT))
    assert event.type == event_type and event.caused_by == action.action_id  # type: ignore[union-attr]


@pytest.mark.parametrize("status", ["rejected", "failed", "dropped"])
def test_failures_report_action_failed(status: str) -> None:
    action = refund()
    [event] = events_for(action, record_for(action, status, AT, reason="HTTP 409"))  # type: ignore[arg-type]
    assert event.type == "action.failed"
    assert (event.action_id, event.action_type, event.reason) == (action.action_id, "refund", "HTTP 409")  # type: ignore[union-attr]
    assert parse_event(event.model_dump_json(exclude_none=True)).outcome == status  # type: ignore[union-attr]


def test_a_hold_reports_action_held_with_the_amount_and_the_breakers_reason() -> None:
    action = refund(amount="900.00")
    event = held_event(action, "refund 900.00 USD is above the single-refund limit 500", AT)
    wire = parse_event(event.model_dump_json(exclude_none=True))
    assert wire.type == "action.held" and wire.event_id == f"held-{action.action_id}"
    assert (wire.action_id, wire.action_type, wire.party, wire.amount, wire.currency) == (
        action.action_id,
        "refund",
        "customer",
        Decimal("900.00"),
        "USD",
    )
    assert "single-refund limit" in wire.reason
    assert held_event(action, "x", AT) == held_event(action, "x", AT)


@pytest.mark.parametrize("status", ["held", "dry_run"])
def test_held_and_dry_run_report_nothing(status: str) -> None:
    action = refund()
    assert events_for(action, record_for(action, status, AT)) == []  # type: ignore[arg-type]


def test_done_expedite_has_no_event_and_same_outcome_same_event() -> None:
    action = refund()
    expedite = action.model_copy(update={"type": "expedite"})
    assert events_for(expedite, record_for(expedite, "done", AT)) == []
    assert events_for(action, record_for(action, "done", AT)) == events_for(action, record_for(action, "done", AT))
