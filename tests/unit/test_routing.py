"""What the worker does with a record, given where it landed and POSTSALE_PARTITIONER: the evidence, the
detected partitioner (log and metric), waiting for confirmation, refusal, and auto."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from streams.kafka.partitioning import crc32_partition_for, partition_for
from streams.settings import Settings
from streams.worker.metrics import Metrics
from streams.worker.routing import Routing, Waiting

N = 8


def keys(want: str, count: int = 100) -> list[bytes]:
    """Keys murmur2 and crc32 place `apart` (or on the same partition: `both`), on N partitions."""
    out = []
    for i in range(100_000):
        k = f"O-{i}".encode()
        if (partition_for(k, N) == crc32_partition_for(k, N)) == (want == "both"):
            out.append(k)
            if len(out) == count:
                return out
    raise AssertionError(want)


APART = keys("apart")
BOTH = keys("both", 5)


def routing(**settings: object) -> tuple[Routing, CollectorRegistry]:
    registry = CollectorRegistry()
    s = Settings(partitions=N, **settings)  # type: ignore[arg-type]
    return Routing(s, Metrics.create(registry, s), logging.getLogger("postsale")), registry


def by(partitioner: str, key: bytes) -> int:
    return partition_for(key, N) if partitioner == "murmur2" else crc32_partition_for(key, N)


def neither(key: bytes) -> int:
    return next(p for p in range(N) if p not in (by("murmur2", key), by("crc32", key)))


def test_murmur2_producers_are_decided_where_they_landed_and_said_so(caplog: pytest.LogCaptureFixture) -> None:
    r, reg = routing()
    for k in BOTH[:2] + APART[:3]:
        assert r.route("orders", k, by("murmur2", k)).action == "here"
    assert r.confirmed and r.deciding
    assert reg.get_sample_value("postsale_partitioner_evidence_total", {"topic": "orders", "placement": "murmur2"}) == 3
    assert reg.get_sample_value("postsale_partitioner_evidence_total", {"topic": "orders", "placement": "both"}) == 2
    assert reg.get_sample_value("postsale_partitioner_detected", {"topic": "orders", "partitioner": "murmur2"}) == 1
    assert reg.get_sample_value("postsale_partitioner_detected", {"topic": "orders", "partitioner": "unknown"}) == 0
    assert "the producers of orders use murmur2" in caplog.text and "as configured" in caplog.text


def test_a_crc32_topic_among_murmur2_ones_is_sent_on_once_the_setting_is_confirmed() -> None:
    r, reg = routing()
    k0, k1, k2 = APART[:3]
    # Before anything confirmed murmur2, a record where crc32 puts its key waits (unacknowledged).
    assert r.route("shipments", k0, by("crc32", k0)).action == "wait"
    r.waiting.append(Waiting(by("crc32", k0), "first", by("murmur2", k0)))
    assert r.take_waiting() == []
    assert r.route("orders", k1, by("murmur2", k1)).action == "here"
    assert [w.record for w in r.take_waiting()] == ["first"], "confirmed: what waited is sent on now"
    route = r.route("shipments", k2, by("crc32", k2))
    assert route.action == "reroute" and route.home == by("murmur2", k2)
    assert reg.get_sample_value("postsale_partitioner_detected", {"topic": "shipments", "partitioner": "crc32"}) == 1
    assert r.deciding and r.refusal is None


def test_a_record_placed_by_neither_is_sent_on_to_the_configured_home() -> None:
    r, _ = routing(partitioner="crc32")
    k = APART[0]
    route = r.route("orders", k, neither(k))
    assert route.action == "reroute" and route.home == by("crc32", k)


@pytest.mark.parametrize("setting", ["murmur2", "crc32"])
def test_a_setting_no_record_agrees_with_is_refused(setting: str, caplog: pytest.LogCaptureFixture) -> None:
    other = "crc32" if setting == "murmur2" else "murmur2"
    r, reg = routing(partitioner=setting, partitioner_evidence_records=10)
    actions = [r.route("orders", k, by(other, k)).action for k in APART[:9]]
    assert actions == ["wait"] * 9
    r.weigh({"shipments", "disputes"})
    assert r.deciding, "9 records are not enough"
    k = APART[9]
    assert r.route("shipments", k, by(other, k)).action == "wait"
    r.weigh(set())
    assert r.deciding, "the disputes may still confirm it: it is being read and has shown nothing"
    r.weigh({"disputes"})
    assert not r.deciding and r.waiting == []
    assert reg.get_sample_value("postsale_partitioner_refusing") == 1
    assert f"refusing to decide: POSTSALE_PARTITIONER={setting}" in caplog.text
    assert f"set POSTSALE_PARTITIONER={other}" in caplog.text
    # Refused for good: even a record that would have confirmed it is left unacknowledged.
    k = APART[20]
    assert r.route("orders", k, by(setting, k)).action == "refuse"


def test_a_backlog_of_one_topic_read_first_does_not_refuse_the_setting() -> None:
    """A restarted worker reads 64 crc32 shipments before the first murmur2 order: it waits, then confirms."""
    r, _ = routing(partitioner_evidence_records=5)
    for k in APART[:30]:
        assert r.route("shipments", k, by("crc32", k)).action == "wait"
        r.weigh({"disputes"})  # orders are still being read
    k = APART[30]
    assert r.route("orders", k, by("murmur2", k)).action == "here"
    assert r.confirmed and r.deciding


def test_records_kept_waiting_are_bounded() -> None:
    r, _ = routing(partitioner_evidence_records=1)
    for k in APART[:50]:
        assert r.route("shipments", k, by("crc32", k)).action == "wait"
        r.waiting.append(Waiting(0, k, 1))
    k = APART[50]
    assert r.route("shipments", k, by("crc32", k)).action == "refuse"
    assert "still silent: orders, disputes" in (r.refusal or "")


def test_dead_lettering_never_waits_nor_refuses() -> None:
    r, reg = routing(misrouted="dead_letter", partitioner_evidence_records=3)
    for k in APART[:10]:
        assert r.route("orders", k, by("crc32", k)).action == "reroute"
    assert r.deciding and reg.get_sample_value("postsale_partitioner_refusing") == 0


def test_auto_settles_on_the_partitioner_all_records_show() -> None:
    r, _ = routing(partitioner="auto", partitioner_evidence_records=5)
    for i, k in enumerate(APART[:5]):
        assert not r.deciding, "nothing is decided before the evidence settles it"
        assert r.route(("orders", "shipments")[i % 2], k, by("crc32", k)).action == "here"
    assert r.deciding and r.chosen == "crc32"
    assert r.home(APART[0]) == by("crc32", APART[0])


@pytest.mark.parametrize("settled", [True, False])
def test_auto_refuses_producers_that_disagree(settled: bool) -> None:
    r, _ = routing(partitioner="auto", partitioner_evidence_records=3 if settled else 50)
    for k in APART[:3]:
        r.route("orders", k, by("crc32", k))
    assert r.deciding == settled
    k = APART[3]
    assert r.route("shipments", k, by("murmur2", k)).action == "refuse"
    assert not r.deciding and "disagree" in (r.refusal or "")


def test_auto_refuses_a_producer_that_places_keys_itself() -> None:
    r, _ = routing(partitioner="auto")
    k = APART[0]
    assert r.route("orders", k, neither(k)).action == "refuse"
    assert "neither" in (r.refusal or "")


def test_none_checks_nothing_but_still_counts() -> None:
    r, reg = routing(partitioner="none")
    for k in APART[:3]:
        assert r.route("orders", k, neither(k)).action == "here"
    assert r.deciding
    assert reg.get_sample_value("postsale_partitioner_evidence_total", {"topic": "orders", "placement": "neither"}) == 3


def test_a_revoked_partition_forgets_its_waiting_records() -> None:
    r, _ = routing()
    r.waiting += [Waiting(1, "a", 2), Waiting(3, "b", 2)]
    r.forget(1)
    assert [w.record for w in r.waiting] == ["b"]


def test_the_remembered_homes_place_every_key_as_the_partitioners_do() -> None:
    """The worker remembers each key's two homes (murmur2 is slow in Python); what it says must be what the
    partitioners say, for keys seen once and again, on every partition, also after the memory was emptied."""
    from streams.kafka.partitioning import placement
    from streams.worker import routing as routing_module

    r, _ = routing(partitioner="murmur2")
    kept = routing_module.HOMES_KEPT
    routing_module.HOMES_KEPT = 64  # emptied many times over below
    try:
        for i in range(2_000):
            key = f"O-{i % 300}-{i % 7}".encode()
            for partition in range(N):
                assert r.placement(key, partition) == placement(key, partition, N)
            assert r.home(key) == partition_for(key, N)
    finally:
        routing_module.HOMES_KEPT = kept
    c, _ = routing(partitioner="crc32")
    for key in APART + BOTH:
        assert c.home(key) == crc32_partition_for(key, N)
