"""overdue_expedite: not shipped 2 days after ship-by → contact the supplier, once per order."""

from __future__ import annotations

import pytest

from tests.factories import (
    DAY,
    HOUR,
    T0,
    US,
    cancel_requested,
    default_policy,
    kinds,
    of_type,
    out_of_stock,
    placed,
    run,
    run_full,
    shipped,
    supplier_ordered,
)

SB = T0 + 3 * DAY  # an explicit ship-by
DUE = SB + 2 * DAY


def expedites(actions):
    return of_type(actions, "expedite", "overdue_expedite")


@pytest.mark.parametrize(
    ("events", "until", "expected_at"),
    [
        pytest.param(
            [placed(ship_by=SB), shipped(at=DUE)],
            DUE + 10 * DAY,
            [],
            id="shipped exactly 2 days after ship-by is in time",
        ),
        pytest.param(
            [placed(ship_by=SB), shipped(at=DUE + US)],
            DUE + 10 * DAY,
            [DUE],
            id="shipped a microsecond later gets an expedite first",
        ),
        pytest.param(
            [placed(ship_by=SB), shipped(at=SB + DAY)],
            DUE + 10 * DAY,
            [],
            id="shipped a day late but before +2d: nothing",
        ),
        pytest.param([placed(ship_by=SB)], DUE, [], id="clock exactly at ship-by + 2d: not yet"),
        pytest.param(
            [placed(ship_by=SB)], DUE + US, [DUE], id="clock past ship-by + 2d: expedite, dated at the deadline"
        ),
        pytest.param(
            [placed()],
            T0 + 72 * HOUR + 2 * DAY + US,
            [T0 + 72 * HOUR + 2 * DAY],
            id="no ship-by: placed + 72 h handling",
        ),
        pytest.param([placed()], T0 + 72 * HOUR + 2 * DAY, [], id="no ship-by: not before placed + 72 h + 2 d"),
        pytest.param([placed(ship_by=SB)], DUE + 60 * DAY, [DUE], id="never shipped: expedited once only"),
        pytest.param(
            [placed(ship_by=SB), supplier_ordered(at=T0 + HOUR), out_of_stock(at=T0 + DAY)],
            DUE + 60 * DAY,
            [T0 + DAY + 72 * HOUR + 2 * DAY],
            id="after a reorder the new supplier's ship-by counts",
        ),
        pytest.param(
            [placed(ship_by=SB), cancel_requested(at=SB)], DUE + 10 * DAY, [], id="cancelled before: no expedite"
        ),
    ],
)
def test_when_is_the_supplier_chased(events, until, expected_at):
    assert [a.decided_at for a in expedites(run(events, until=until))] == expected_at


def test_expedite_is_addressed_to_the_supplier_and_opens_the_reply_window():
    result = run_full([placed(marketplace="jd", ship_by=SB)], until=DUE + US)
    (action,) = result.actions
    assert (action.type, action.rule, action.party, action.amount) == ("expedite", "overdue_expedite", "supplier", None)
    assert action.policy_version == default_policy().version
    assert "2 days after ship-by" in action.reason
    state = result.state()
    assert state.expedited and state.awaiting_supplier_since == DUE
    reply = state.deadline("supplier_unresponsive")
    assert reply is not None and reply.due == DUE + 48 * HOUR


def test_expedite_only_once_even_across_supplier_switches():
    actions = run([placed(marketplace="jd", ship_by=SB)], until=SB + 60 * DAY)
    assert len(expedites(actions)) == 1
    # the rest of the story: the unanswered expedite switches at +4d (supplier_unresponsive fires before
    # overdue_switch at the same instant); the second supplier is never expedited and misses its ship-by too,
    # so overdue_switch refunds the customer
    assert kinds(actions) == [
        ("expedite", "overdue_expedite"),
        ("refund", "supplier_unresponsive"),
        ("reorder", "supplier_unresponsive"),
        ("refund", "overdue_switch"),
        ("refund", "overdue_switch"),
        ("notify_customer", "overdue_switch"),
    ]
