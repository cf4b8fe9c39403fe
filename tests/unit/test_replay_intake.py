"""Replay applies `rules.intake`: untrusted event times are refused and move no clock; events of an order not
placed yet wait for it within the policy's grace, then are refused. Table-driven, no broker."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.offline.replay import Replayer
from tests.factories import DAY, HOUR, T0, default_policy, delivered, dispute, placed, shipped

POLICY = default_policy()
NOW = T0 + 10 * DAY  # when the replay runs


def run(events: list, until=None, finish=True):  # type: ignore[no-untyped-def]
    replayer = Replayer(POLICY, now=NOW)
    actions, refused = [], []
    for event in events:
        _, acts = replayer.feed(event)
        actions += acts
        refused += replayer.take_refused()
    if finish:
        actions += replayer.finish(until)
        refused += replayer.take_refused()
    return replayer, actions, [(e.event_id, why) for e, why in refused]


def test_an_event_far_ahead_of_the_clock_is_refused_and_fires_nothing() -> None:
    future = dispute("damaged", order_id="A1", at=T0 + 5 * 365 * DAY, event_id="far")
    replayer, actions, refused = run([placed("A1", at=T0), future])
    assert refused == [] and replayer.stats.rejected == 1
    assert replayer.watermark is not None and replayer.watermark < T0 + DAY, "the refused event moved no clock"
    assert not [a for a in actions if a.type in ("expedite", "refund", "reorder")], "no deadline fired early"


@pytest.mark.parametrize(
    ("scan_before_placement", "applied"),
    [
        pytest.param(timedelta(minutes=20), True, id="carrier scan 20 min before placement: clock skew, applied"),
        pytest.param(timedelta(hours=5), True, id="5 h before: within the 6 h tolerance"),
        pytest.param(timedelta(days=400), False, id="a year before: refused"),
    ],
)
def test_an_event_before_its_order_is_placed_waits_for_the_placement(
    scan_before_placement: timedelta, applied: bool
) -> None:
    scan = shipped("A1", at=T0 - scan_before_placement, event_id="scan")
    replayer, actions, refused = run([scan, placed("A1", at=T0, ship_by=T0 + DAY)], until=T0 + 10 * DAY)
    state = replayer.orders.get("A1")
    overdue = [a for a in actions if a.rule in ("overdue_expedite", "overdue_switch")]
    if applied:
        assert refused == [] and state is not None and state.stage != "placed"
        assert overdue == [], "a shipped order gets no overdue actions"
        assert all(a.decided_at >= T0 for a in actions), "no decision predates the placement"
    else:
        assert refused == [("scan", "before_placement")]
        assert overdue, "the refused scan did not ship the order"


def test_an_event_whose_order_is_never_placed_is_refused_once_its_grace_has_passed() -> None:
    orphan = delivered("GHOST", at=T0, event_id="orphan")
    later = placed("A1", at=T0 + 2 * HOUR)
    _, _, refused = run([orphan, later], finish=False)
    assert refused == [], "still within the grace"
    _, _, refused2 = run([orphan, placed("A1", at=T0 + POLICY.intake.unplaced_grace_hours * HOUR + HOUR)], finish=False)
    assert refused2 == [("orphan", "unplaced_too_long")]
    _, _, at_end = run([orphan], until=T0 + HOUR)
    assert at_end == [("orphan", "unplaced_too_long")], "the end of the input: the placement will not come"
