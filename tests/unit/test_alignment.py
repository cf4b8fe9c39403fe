"""Event-time alignment of a partition's three topics, and the partition clock (no broker needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from streams.worker.alignment import CopyHolds, PartitionAligner

CN = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 10, tzinfo=CN)
H = timedelta(hours=1)
TOPICS = ("orders", "shipments", "disputes")


def behind(highwater: dict[str, int]):  # noqa: ANN201 - a small test double for the broker's highwater
    return lambda topic, last: highwater.get(topic, 0) > last + 1


def test_a_backlog_is_released_in_event_time_order_across_topics() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS)
    hw = {"orders": 2, "shipments": 1, "disputes": 1}
    # The orders topic is read first and far ahead: the dispute (t0+3h) must wait for the shipment (t0+1h).
    a.add("orders", 0, T0, "placed")
    a.add("orders", 1, T0 + 5 * H, "cancel")
    ready, clock = a.release(behind(hw))
    assert ready == [] and clock is None  # shipments and disputes have shown nothing yet and are behind
    a.add("disputes", 0, T0 + 3 * H, "dispute")
    assert a.release(behind(hw))[0] == []  # shipments still behind with nothing shown
    a.add("shipments", 0, T0 + H, "shipped")
    ready, clock = a.release(behind(hw))
    assert ready == ["placed", "shipped", "dispute", "cancel"]  # nothing is behind any more


def test_while_a_topic_lags_the_clock_is_its_watermark() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS)
    hw = {"orders": 10, "shipments": 1, "disputes": 0}
    a.add("shipments", 0, T0 + 9 * H, "late-shipment")
    a.add("orders", 0, T0, "placed")
    ready, clock = a.release(behind(hw), wall=T0 + 100 * H)
    assert ready == ["placed"] and clock == T0  # orders lags at t0: nothing later may be applied yet
    a.add("orders", 1, T0 + 8 * H, "paid")
    ready, clock = a.release(behind(hw), wall=T0 + 100 * H)
    assert ready == ["paid"] and clock == T0 + 8 * H  # the wall clock is ignored while catching up


def test_caught_up_the_clock_follows_the_wall_and_never_goes_back() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS)
    a.add("orders", 0, T0, "placed")
    ready, clock = a.release(behind({"orders": 1}), wall=T0 + 2 * H)
    assert ready == ["placed"] and clock == T0 + 2 * H
    _, clock = a.release(behind({"orders": 1}), wall=T0 + H)
    assert clock == T0 + 2 * H


def test_a_requested_time_waits_until_caught_up() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS)
    a.add("orders", 0, T0, "placed")
    a.request(T0 + 30 * 24 * H)
    _, clock = a.release(behind({"orders": 3}))
    assert clock == T0  # still behind: the end-of-input tick does not jump ahead of unread events
    _, clock = a.release(behind({"orders": 1}))
    assert clock == T0 + 30 * 24 * H


def test_allowed_lateness_holds_the_clock_back() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS, lateness=timedelta(minutes=10))
    a.add("orders", 0, T0, "placed")
    _, clock = a.release(behind({"orders": 1}), wall=T0 + H)
    assert clock == T0 + H - timedelta(minutes=10)


def test_a_revoked_partition_forgets_what_it_held() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS)
    a.add("orders", 0, T0, "placed")
    assert a.drop() == ["placed"] and len(a) == 0


def test_on_event_time_a_caught_up_topic_bounds_the_clock_until_it_is_idle() -> None:
    # One producer's batches land topic by topic: shipments reached t0+5h while the orders written just before
    # them are still on their way. "Caught up" on orders is a moment, not a promise that nothing older follows.
    a: PartitionAligner[str] = PartitionAligner(TOPICS, idle_after=1.0)
    caught_up = behind({})
    a.add("orders", 0, T0, "placed", read_at=100.0)
    a.add("shipments", 0, T0 + 5 * H, "shipped", read_at=100.2)
    ready, clock = a.release(caught_up, mono=100.3)
    assert ready == ["placed"] and clock == T0  # orders was read 0.3 s ago: it still holds time at t0
    a.add("orders", 1, T0 + 2 * H, "paid", read_at=100.4)  # the late batch arrives
    ready, clock = a.release(caught_up, mono=100.5)
    assert ready == ["paid"] and clock == T0 + 2 * H
    ready, clock = a.release(caught_up, mono=101.5)  # orders idle for 1.1 s: it no longer holds time back
    assert ready == ["shipped"] and clock == T0 + 5 * H


def test_on_the_wall_clock_caught_up_means_caught_up() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS, idle_after=1.0)
    a.add("orders", 0, T0, "placed", read_at=100.0)
    a.add("shipments", 0, T0 + 5 * H, "shipped", read_at=100.2)
    ready, clock = a.release(behind({}), wall=T0 + 6 * H)
    assert ready == ["placed", "shipped"] and clock == T0 + 6 * H  # no monotonic time given: no idle rule


def test_an_event_the_clock_has_passed_is_applied_at_once() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS, idle_after=1.0)
    a.add("shipments", 0, T0 + 5 * H, "shipped", read_at=100.0)
    assert a.release(behind({}), mono=102.0) == (["shipped"], T0 + 5 * H)
    a.add("orders", 0, T0 + 2 * H, "late-paid", read_at=103.0)  # late, on a topic now busy
    a.add("disputes", 0, T0 + 6 * H, "opened", read_at=103.0)
    ready, clock = a.release(behind({}), mono=103.1)
    assert ready == ["late-paid"] and clock == T0 + 5 * H  # the late event goes now; the newer one waits


def test_a_cap_holds_the_clock_and_later_events_for_a_copy_in_flight() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS)
    a.add("orders", 0, T0, "placed")
    a.add("disputes", 0, T0 + 5 * H, "dispute")
    caught_up = behind({})
    # A copy of a shipment at t0+2h is on its way here: nothing after it is decided, the clock waits there.
    ready, clock = a.release(caught_up, wall=T0 + 100 * H, cap=T0 + 2 * H)
    assert ready == ["placed"] and clock == T0 + 2 * H
    a.add("shipments", 0, T0 + 2 * H, "shipped (the copy)")
    ready, clock = a.release(caught_up, wall=T0 + 100 * H)
    assert ready == ["shipped (the copy)", "dispute"] and clock == T0 + 100 * H


def test_a_cap_bounds_a_lagging_partition_too_and_never_moves_the_clock_back() -> None:
    a: PartitionAligner[str] = PartitionAligner(TOPICS)
    hw = {"orders": 5}
    a.add("orders", 0, T0 + 4 * H, "paid")
    a.add("shipments", 0, T0 + 6 * H, "shipped")
    a.add("disputes", 0, T0 + 6 * H, "dispute")
    ready, clock = a.release(behind(hw), cap=T0 + H)
    assert ready == [] and clock == T0 + H
    ready, clock = a.release(behind(hw))
    assert ready == ["paid"] and clock == T0 + 4 * H
    ready, clock = a.release(behind(hw), cap=T0 + 2 * H)
    assert ready == [] and clock == T0 + 4 * H, "a cap behind the clock does not move it back"
    a.add("orders", 1, T0 + 3 * H, "late")
    assert a.release(behind(hw), cap=T0 + 2 * H)[0] == ["late"], "a late event is applied at once, as always"


def test_copy_holds_end_on_arrival_or_after_the_grace() -> None:
    holds = CopyHolds()
    assert holds.cap() is None
    assert holds.expect("shipments/e1", T0 + 2 * H, expires=10.0, token="notice-1") is None
    holds.expect("shipments/e2", T0 + H, expires=20.0)
    holds.expect("shipments/e2", T0 + H, expires=99.0, token="notice-2")  # the notice after the local hold
    assert holds.cap() == T0 + H and len(holds) == 2
    assert holds.arrived("shipments/e2", "copy-2") == ["notice-2"]
    assert holds.cap() == T0 + 2 * H
    assert holds.expire(9.0) == (0, [])
    assert holds.expire(10.0) == (1, ["notice-1"])
    assert holds.cap() is None and len(holds) == 0
    # A notice read after its copy: nothing is held, the copy is handed back (its notice is acknowledged with it).
    assert holds.expect("shipments/e2", T0 + H, expires=30.0, token="late notice") == "copy-2"
    assert len(holds) == 0
