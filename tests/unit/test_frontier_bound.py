"""How far another worker's partition bounds a clock: what it said it had read, set against the partition's end
offsets fetched afterwards (`streams.worker.runtime.Frontier.bound`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.worker.alignment import NEVER
from streams.worker.runtime import Frontier

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NONE = timedelta(0)


def told(at: datetime | None, read: dict[str, int], times: dict[str, datetime | None]) -> Frontier:
    return Frontier(at, expires=0.0, notice=None, read=read, times=times)


def test_read_to_the_end_on_every_topic_bounds_nothing() -> None:
    f = told(None, {"orders": 10, "shipments": 4}, {"orders": T0, "shipments": T0})
    assert f.bound({"orders": 10, "shipments": 4}, NONE) is None


def test_records_it_has_not_fetched_yet_hold_the_clock_at_its_last_time_there() -> None:
    # It said it was caught up, but the broker now has more on shipments: the copies there are no older than
    # the last shipment it read.
    f = told(None, {"orders": 10, "shipments": 4}, {"orders": T0 + timedelta(days=3), "shipments": T0})
    assert f.bound({"orders": 10, "shipments": 9}, NONE) == T0
    assert f.bound({"orders": 10, "shipments": 9}, timedelta(minutes=5)) == T0 - timedelta(minutes=5)


def test_a_topic_with_records_and_nothing_read_holds_everything() -> None:
    f = told(None, {"orders": 10, "shipments": 0}, {"orders": T0, "shipments": None})
    assert f.bound({"orders": 10, "shipments": 3}, NONE) == NEVER
    assert f.bound({"orders": 10, "shipments": 0}, NONE) is None  # an empty topic holds nothing


def test_its_own_account_is_not_needed_when_it_says_what_it_read() -> None:
    # Its worker had not fetched the partition since taking it, and counted it as behind (NEVER); the broker
    # says there is nothing to fetch.
    f = told(NEVER, {"orders": 10}, {"orders": None})
    assert f.bound({"orders": 10}, NONE) is None


def test_a_topic_it_did_not_mention_holds_everything() -> None:
    f = told(None, {"orders": 10}, {"orders": T0})
    assert f.bound({"orders": 10, "disputes": 1}, NONE) == NEVER


def test_a_notice_without_offsets_is_taken_at_its_word() -> None:
    assert told(NEVER, {}, {}).bound({"orders": 10}, NONE) == NEVER
    assert told(None, {}, {}).bound({"orders": 10}, NONE) is None
