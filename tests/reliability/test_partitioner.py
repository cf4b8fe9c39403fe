"""Producers with librdkafka's default partitioner (CRC32): decided as replay decides, or refused, never guessed.

A default confluent-kafka producer (no `partitioner` setting) writes a backlog to all three topics; the
worker runs in event-time mode over it.

- `POSTSALE_PARTITIONER=crc32` (and `auto`): every record is at home, nothing is sent on, and the decisions
  equal `postsale replay`'s, ids included.
- the default `murmur2`: the records contradict the setting; the worker refuses (no decision, no
  acknowledgement, said in the log and `postsale_partitioner_refusing`), and a worker restarted with
  `crc32` on the same consumer group decides everything replay decides: nothing was lost.
- producers that genuinely disagree (orders and disputes by aiokafka's murmur2, shipments by librdkafka's
  CRC32), produced as one backlog with nobody waiting: the copies sent on hold their destination's clock,
  and the decisions equal replay's.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from models.events import topic_of
from streams.demo.broker import EmbeddedBroker
from streams.kafka.partitioning import crc32_partition_for, partition_for
from tests.integration.kafka import Wire, free_port, new_wire, produce_events, send_clock, start_worker
from tests.integration.reference import replay_actions
from tests.reliability.support import Tail, audit, distinct_ids, metric_sum, report, scrape, simulated, wait_scrape

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ORDERS = 160  # about 1,300 events


class DefaultConfluent:
    """confluent-kafka exactly as a store would start it: no partitioner setting. Remembers where each
    record landed."""

    def __init__(self, wire: Wire) -> None:
        self.producer = Producer({"bootstrap.servers": wire.broker.bootstrap})
        self.landed: list[tuple[bytes, int]] = []
        self.errors: list[str] = []

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.landed.append((msg.key(), msg.partition()))

    def send(self, wire: Wire, events: list[dict[str, Any]], only: str | None = None) -> int:
        n = 0
        for e in events:
            topic = topic_of(e["type"])
            if only is not None and topic != only:
                continue
            key = e["order_id"].encode()
            self.producer.produce(wire.topics[topic], key=key, value=orjson.dumps(e), on_delivery=self._delivered)
            self.producer.poll(0)
            n += 1
        assert self.producer.flush(60) == 0, "confluent-kafka could not deliver"
        assert not self.errors, self.errors
        return n


def _run(
    wire: Wire, tmp: Path, name: str, expected: dict[str, Any], until: Any, **env: str
) -> tuple[list[Any], str, int, str]:
    """A worker over the wire until it has decided every expected id (or gone quiet): actions, metrics, exit."""
    port = free_port()
    tail = Tail(wire, "actions")
    worker = start_worker(wire, tmp, name, POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port), **env)
    try:
        wait_scrape(port)
        send_clock(wire, until)
        records = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=120, quiet=2.0)
        metrics = scrape(port)
        assert worker.alive(), worker.log_text()[-3000:]
    finally:
        code = worker.stop()
        tail.close()
    return records, metrics, code, worker.log_text()


@pytest.mark.parametrize("setting", ["crc32", "auto"])
def test_a_default_confluent_backlog_is_decided_as_replay_does(
    broker: EmbeddedBroker, tmp_path: Path, setting: str
) -> None:
    started = time.monotonic()
    events, until = simulated(seed=41, orders=ORDERS)
    expected = replay_actions(events, until)
    wire = new_wire(broker, f"crc32-{setting}")
    confluent = DefaultConfluent(wire)
    confluent.send(wire, events)
    n = wire.partitions
    assert all(p == crc32_partition_for(k, n) for k, p in confluent.landed), "librdkafka places keys by CRC32"
    apart = sum(1 for k, p in confluent.landed if p != partition_for(k, n))
    assert apart > len(events) * 3 // 4, "CRC32 and murmur2 should disagree for most keys"

    records, metrics, code, log = _run(wire, tmp_path, "w", expected, until, POSTSALE_PARTITIONER=setting)

    t = wire.topics
    for name in ("orders", "shipments", "disputes"):
        assert metric_sum(metrics, "postsale_partitioner_detected", topic=t[name], partitioner="crc32") == 1
        assert metric_sum(metrics, "postsale_partitioner_evidence_total", topic=t[name], placement="murmur2") == 0
        assert metric_sum(metrics, "postsale_misrouted_events_total", topic=t[name]) == 0
    assert metric_sum(metrics, "postsale_partitioner_evidence_total", placement="crc32") == apart
    assert metric_sum(metrics, "postsale_partitioner_refusing") == 0
    assert metric_sum(metrics, "postsale_late_events_total") == 0
    assert "the producers of " + t["orders"] + " use crc32" in log
    result = audit(records, expected)
    report(
        f"partitioner {setting}",
        events_by_default_confluent=len(events),
        placed_apart_from_murmur2=apart,
        decisions=len(expected),
        actions_lost=len(result.missing),
        extra_actions=len(result.extra),
        distinct_duplicate_decisions=len(result.double_refunds) + len(result.repeats_not_identical),
        seconds=round(time.monotonic() - started, 1),
    )
    assert result.ok, result.explain()
    assert code == 0, log[-3000:]


def test_a_contradicted_setting_is_refused_and_nothing_is_lost(broker: EmbeddedBroker, tmp_path: Path) -> None:
    started = time.monotonic()
    events, until = simulated(seed=42, orders=ORDERS)
    expected = replay_actions(events, until)
    wire = new_wire(broker, "crc32-refused")
    DefaultConfluent(wire).send(wire, events)

    port = free_port()
    tail = Tail(wire, "actions")
    worker = start_worker(wire, tmp_path, "murmur2", POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port))
    try:
        wait_scrape(port)
        send_clock(wire, until)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and metric_sum(scrape(port), "postsale_partitioner_refusing") != 1:
            time.sleep(0.2)
        time.sleep(3)  # what it would decide after refusing, it would have decided by now
        metrics = scrape(port)
        before = tail.records()
        assert worker.alive(), worker.log_text()[-3000:]
    finally:
        code = worker.stop()
    log = worker.log_text()
    assert metric_sum(metrics, "postsale_partitioner_refusing") == 1, log[-3000:]
    assert "refusing to decide: POSTSALE_PARTITIONER=murmur2" in log and "set POSTSALE_PARTITIONER=crc32" in log
    assert metric_sum(metrics, "postsale_misrouted_events_total") == 0, "nothing is sent on on a guess"
    # What was decided before the refusal is right (records at home under both partitioners), and little.
    early = audit(before, expected)
    assert not early.extra and not early.different, early.explain()
    assert len({orjson.loads(r.value)["action_id"] for r in before}) < len(expected) // 4

    try:
        records, metrics, code2, log2 = _run(wire, tmp_path, "crc32", expected, until, POSTSALE_PARTITIONER="crc32")
    finally:
        tail.close()
    result = audit(before + records, expected)
    report(
        "partitioner refused, then crc32",
        events_by_default_confluent=len(events),
        decided_before_refusal=len({orjson.loads(r.value)["action_id"] for r in before}),
        decisions=len(expected),
        actions_lost=len(result.missing),
        extra_actions=len(result.extra),
        distinct_duplicate_decisions=len(result.double_refunds) + len(result.repeats_not_identical),
        seconds=round(time.monotonic() - started, 1),
    )
    assert result.ok, result.explain()
    assert code == 0 and code2 == 0, log2[-3000:]


@pytest.mark.parametrize("workers", [1, 2])
def test_disagreeing_producers_in_one_backlog_are_decided_as_replay_does(
    broker: EmbeddedBroker, tmp_path: Path, workers: int
) -> None:
    started = time.monotonic()
    events, until = simulated(seed=43, orders=ORDERS)
    expected = replay_actions(events, until)
    wire = new_wire(broker, f"disagree-{workers}")
    shipments = [e for e in events if topic_of(e["type"]) == "shipments"]
    ports = [free_port() for _ in range(workers)]
    tail = Tail(wire, "actions")
    running = [
        start_worker(wire, tmp_path, f"w{i}", POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port))
        for i, port in enumerate(ports)
    ]
    confluent = DefaultConfluent(wire)
    try:
        for port in ports:
            wait_scrape(port)
        if workers > 1:
            wait_owned(ports)
        produce_events(wire, [e for e in events if topic_of(e["type"]) != "shipments"])  # aiokafka: murmur2
        confluent.send(wire, events, only="shipments")  # librdkafka: CRC32
        send_clock(wire, until)
        records = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=120, quiet=3.0)
        texts = [scrape(port) for port in ports]
        for w in running:
            assert w.alive(), w.log_text()[-3000:]
    finally:
        codes = [w.stop() for w in running]
        tail.close()
    misplaced = sum(1 for k, p in confluent.landed if p != partition_for(k, wire.partitions))
    assert misplaced > len(shipments) // 2

    def total(name: str, **labels: str) -> float:
        return sum(metric_sum(text, name, **labels) for text in texts)

    t = wire.topics
    assert total("postsale_misrouted_events_total", topic=t["shipments"]) == misplaced
    assert total("postsale_misrouted_events_total", topic=t["orders"]) == 0
    for text in texts:
        assert metric_sum(text, "postsale_partitioner_detected", topic=t["shipments"], partitioner="crc32") == 1
        assert metric_sum(text, "postsale_partitioner_detected", topic=t["orders"], partitioner="murmur2") == 1
        assert metric_sum(text, "postsale_partitioner_refusing") == 0
    late = total("postsale_late_events_total")
    expired = total("postsale_reroute_grace_expired_total")
    result = audit(records, expected)
    report(
        f"partitioners disagree, {workers} worker(s)",
        events=len(events),
        shipments_by_default_confluent=len(shipments),
        misplaced_and_rerouted=misplaced,
        late_events=int(late),
        holds_expired=int(expired),
        decisions=len(expected),
        actions_lost=len(result.missing),
        extra_actions=len(result.extra),
        distinct_duplicate_decisions=len(result.double_refunds) + len(result.repeats_not_identical),
        seconds=round(time.monotonic() - started, 1),
    )
    assert result.ok, result.explain()
    assert late == 0 and expired == 0
    assert codes == [0] * workers, running[0].log_text()[-3000:]


def wait_owned(ports: list[int], timeout: float = 60) -> None:
    """Until every worker is ready at once (assigned some partitions, not rebalancing): the group has settled
    with all of them."""
    deadline = time.monotonic() + timeout
    answers: list[Any] = []
    while time.monotonic() < deadline:
        answers = [_ready(port) for port in ports]
        if all(a.get("ready") for a in answers):
            return
        time.sleep(0.5)
    raise AssertionError(f"the workers did not all become ready in {timeout} s: {answers}")


def _ready(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as resp:  # noqa: S310
            return dict(orjson.loads(resp.read()))
    except urllib.error.HTTPError as exc:  # 503 while not ready, with the same body
        return dict(orjson.loads(exc.read()))
    except OSError:
        return {}


def test_disagreeing_producers_survive_sigkills_with_copies_in_flight(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Kills while copies are on their way: the restarted worker holds its clocks again (the notices were not
    acknowledged), re-sends what it had not acknowledged, and decides as replay does."""
    started = time.monotonic()
    events, until = simulated(seed=44, orders=1000)
    expected = replay_actions(events, until)
    wire = new_wire(broker, "disagree-kill")
    produce_events(wire, [e for e in events if topic_of(e["type"]) != "shipments"])
    confluent = DefaultConfluent(wire)
    confluent.send(wire, events, only="shipments")
    send_clock(wire, until)
    tail = Tail(wire, "actions")
    worker = start_worker(wire, tmp_path, "w0", data="state")
    killed_at: list[int] = []
    try:
        for share in (0.05, 0.2):
            # Each kill once the running worker has decided this much more (decisions come out in batches).
            target = (killed_at[-1] if killed_at else 0) + share * len(expected)
            seen = tail.wait(lambda rs, target=target: distinct_ids(rs) >= target, timeout=120)
            assert distinct_ids(seen) >= target, f"stalled: {worker.log_text()[-3000:]}"
            worker.kill()
            killed_at.append(distinct_ids(tail.records()))
            worker = start_worker(wire, tmp_path, f"w{len(killed_at)}", data="state")
        records = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=180, quiet=3.0)
    finally:
        code = worker.stop()
        tail.close()
    misplaced = sum(1 for k, p in confluent.landed if p != partition_for(k, wire.partitions))
    result = audit(records, expected)
    report(
        "partitioners disagree, SIGKILLs",
        events=len(events),
        misplaced_and_rerouted=misplaced,
        killed_after_decisions=killed_at,
        decisions=len(expected),
        actions_lost=len(result.missing),
        extra_actions=len(result.extra),
        distinct_duplicate_decisions=len(result.double_refunds) + len(result.repeats_not_identical),
        repeats=result.repeats,
        seconds=round(time.monotonic() - started, 1),
    )
    assert result.ok, result.explain()
    assert code == 0, worker.log_text()[-3000:]
