"""Which event times are trusted before an event reaches the engine, and decisions never dated before placement."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from models.policy import Intake, Policy
from rules.intake import refusal, unplaced_deadline
from tests.factories import (
    DAY,
    HOUR,
    T0,
    US,
    default_policy,
    delivered,
    dispute,
    placed,
    run,
    run_full,
    shipped,
    status,
)

INTAKE = default_policy().intake
MIN = HOUR / 60
DEC_2025 = datetime(2025, 12, 1, 10, 0, tzinfo=T0.tzinfo)


@pytest.mark.parametrize(
    ("occurred_at", "placed_at", "now", "expected"),
    [
        pytest.param(T0 - 10 * MIN, T0, T0, None, id="a carrier scan stamped 10 min before placement: applied"),
        pytest.param(T0 - 6 * HOUR, T0, T0, None, id="exactly the 6 h tolerance before placement: applied"),
        pytest.param(T0 - 6 * HOUR - US, T0, T0, "before_placement", id="just beyond the tolerance: refused"),
        pytest.param(DEC_2025, T0 + 300 * DAY, T0 + 301 * DAY, "before_placement", id="a dispute dated a year early"),
        pytest.param(T0 + 24 * HOUR, None, T0, None, id="a day ahead of the clock: applied"),
        pytest.param(T0 + 24 * HOUR + US, None, T0, "ahead_of_clock", id="more than a day ahead: refused"),
        pytest.param(T0 + 365 * DAY, T0, T0, "ahead_of_clock", id="a mistyped year on a placed order: refused"),
        pytest.param(T0 + 365 * DAY, None, None, None, id="no clock yet (replay's first event): nothing to compare"),
        pytest.param(T0 - 30 * DAY, None, T0, None, id="an order not placed yet: its grace decides, not this"),
    ],
)
def test_which_event_times_are_trusted(occurred_at, placed_at, now, expected):
    assert refusal(occurred_at, placed_at, now, INTAKE) == expected


@pytest.mark.parametrize(
    ("intake", "occurred_at", "expected"),
    [
        pytest.param(Intake(before_placement_tolerance_hours=0), T0 - US, "before_placement", id="no tolerance"),
        pytest.param(Intake(before_placement_tolerance_hours=48), T0 - 47 * HOUR, None, id="a wider tolerance"),
        pytest.param(Intake(ahead_of_clock_hours=1), T0 + HOUR + US, "ahead_of_clock", id="a tighter future"),
    ],
)
def test_the_tolerances_are_the_policy_s(intake, occurred_at, expected):
    assert refusal(occurred_at, T0, T0, intake) == expected


def test_an_event_of_an_unplaced_order_waits_the_policy_grace():
    assert unplaced_deadline(T0, INTAKE) == T0 + 24 * HOUR
    assert unplaced_deadline(T0, Intake(unplaced_grace_hours=2)) == T0 + 2 * HOUR


@pytest.mark.parametrize(
    "field",
    ["before_placement_tolerance_hours", "ahead_of_clock_hours", "unplaced_grace_hours"],
)
def test_every_intake_number_has_a_bound(field):
    with pytest.raises(ValidationError, match=field):
        Policy.model_validate({"version": "v", "intake": {field: 1e9}})
    with pytest.raises(ValidationError, match=field):
        Policy.model_validate({"version": "v", "intake": {field: -1}})


# ---------------------------------------------------------------- the engine's side: decided as of the placement


def test_a_first_scan_stamped_before_placement_ships_the_order_as_of_the_placement():
    scan = shipped(order_id="K1", at=T0 - 10 * MIN)
    result = run_full([placed(order_id="K1"), scan, delivered(order_id="K1", at=T0 + 2 * DAY)], until=T0 + 30 * DAY)
    assert result.state("K1").shipped_at == T0
    assert [a for a in result.actions if a.rule in ("overdue_expedite", "overdue_switch")] == []
    assert any("before the order was placed: applied as of the placement" in n for n in result.decisions[1].notes)


def test_no_decision_is_dated_before_placement_and_ids_do_not_move():
    early = dispute("customs_held", order_id="K2", at=T0 - 2 * HOUR, event_id="d-early")
    on_time = dispute("customs_held", order_id="K2", at=T0, event_id="d-early")
    (skewed,) = [a for a in run([placed(order_id="K2"), early]) if a.type == "notify_customs"]
    (clean,) = [a for a in run([placed(order_id="K2"), on_time]) if a.type == "notify_customs"]
    assert skewed.decided_at == T0
    assert skewed.action_id == clean.action_id
    assert skewed.caused_by == ("d-early",)


def test_a_deadline_before_placement_is_decided_as_of_the_placement():
    # A ship-by given three days before the order itself: "2 days after ship-by" falls before placement.
    order = placed(order_id="K3", ship_by=T0 - 3 * DAY)
    actions = run([order, status("info_received", order_id="K3", at=T0 + HOUR)])
    assert [(a.type, a.rule, a.decided_at) for a in actions] == [("expedite", "overdue_expedite", T0)]
