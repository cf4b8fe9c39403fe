"""A worker cut off from the network while its process keeps running: no decision lost, added or doubled.

Two test hosts (network namespaces on a bridge, tests/reliability/netns.py), a
broker of the test's own on the bridge, a worker in each namespace (RocksDB,
time from the events, 6 s session). While the stream is produced, worker 1's
link is cut twice for longer than two session timeouts: once its interface
goes down (connections fail), once every packet is dropped (connections
hang). Each time its session expires, worker 2 takes its partitions, and the
network comes back to a worker that still believes it owns them. Then the
end-of-input tick, and the audit of the crash test against `postsale replay`.

Worker 1 must also say what happened: its `/metrics` count the lost
coordinator, the stops and the resumptions of deciding
(`postsale_group_coordinator_lost_total`, `postsale_deciding_paused_total`,
`postsale_deciding_resumed_total`).
"""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.demo.broker import EmbeddedBroker
from tests.integration.kafka import new_wire, produce_events, send_clock
from tests.integration.reference import replay_actions
from tests.reliability.netns import Host, HostNetwork, kill_quietly, start_worker_on
from tests.reliability.support import Tail, audit, distinct_ids, log_standing, metric_sum, report, simulated

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SESSION_TIMEOUT = 6.0  # the workers' (tests/integration/kafka.py)
CUT_SECONDS = 2 * SESSION_TIMEOUT + 4  # the session expires, the other worker takes over, and then some
CHUNKS = 24  # the stream is produced in this many steps ...
STEP_SECONDS = 2.0  # ... this far apart: production spans both cuts
WEB_PORT = 6066  # each worker on its own namespace's address


def _env(host: Host) -> dict[str, str]:
    return {
        "POSTSALE_STORE": "rocksdb://",
        "POSTSALE_WEB_ENABLED": "true",
        "POSTSALE_WEB_HOST": host.address,
        "POSTSALE_WEB_PORT": str(WEB_PORT),
        "POSTSALE_ORDER_VIEW": "false",  # /metrics off loopback; the order view would need a token there
        # The stream is produced while the workers decide, on two shared cores, and the clock comes from the
        # events: a topic whose fetch trails another's by more than this would let the partition's clock pass
        # its next records (late events, measured once at 1 s under a load of 6). Not what this test is about.
        "POSTSALE_TOPIC_IDLE_SECONDS": "5",
    }


def _wait_resumed(host: Host, times: int, timeout: float) -> None:
    """Until the worker on `host` says it resumed deciding `times` times in all (`postsale_deciding_resumed_total`)."""
    deadline = time.monotonic() + timeout
    resumed = 0.0
    while time.monotonic() < deadline:
        try:
            resumed = metric_sum(_scrape(host), "postsale_deciding_resumed_total")
        except OSError:
            resumed = 0.0  # the link is back but the worker's web server may not answer yet
        if resumed >= times:
            return
        time.sleep(0.5)
    raise AssertionError(f"worker 1 did not resume deciding after cut {times} within {timeout} s (resumed {resumed})")


def _scrape(host: Host) -> str:
    with urllib.request.urlopen(f"http://{host.address}:{WEB_PORT}/metrics", timeout=5) as resp:  # noqa: S310
        return resp.read().decode()


def _ids(records: list[Any]) -> set[str]:
    return {orjson.loads(r.value)["action_id"] for r in records}


def _dump(path: Path, records: list[Any], expected: dict[str, Any], missing: list[str], extra: list[str]) -> None:
    """The differences, for a post-mortem against the workers' logs (the broker's timestamp says when)."""
    first: dict[str, Any] = {}
    for r in records:
        first.setdefault(orjson.loads(r.value)["action_id"], r)
    path.write_bytes(
        orjson.dumps(
            {
                "missing": [expected[m] for m in missing],
                "extra": [
                    {**orjson.loads(first[x].value), "_sent_ms": first[x].timestamp, "_partition": first[x].partition}
                    for x in extra
                ],
            },
            option=orjson.OPT_INDENT_2,
        )
    )


class PacedProducer(threading.Thread):
    """Produces the events in `CHUNKS` steps, `STEP_SECONDS` apart, in event-time order."""

    def __init__(self, wire: object, events: list[dict[str, object]]) -> None:
        super().__init__(daemon=True)
        self.wire = wire
        size = -(-len(events) // CHUNKS)
        self.chunks = [events[i : i + size] for i in range(0, len(events), size)]
        self.produced = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                self.produced += produce_events(self.wire, chunk)  # type: ignore[arg-type]
                time.sleep(STEP_SECONDS)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def test_a_worker_cut_off_from_the_network_decides_nothing_twice_and_loses_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    events, until = simulated(seed=71, orders=1300)
    expected = replay_actions(events, until)
    cuts: list[dict[str, object]] = []
    with HostNetwork(hosts_wanted=2) as net, EmbeddedBroker(host=net.broker_host) as broker:
        h1, h2 = net.hosts
        wire = new_wire(broker, "partition")
        tail = Tail(wire, "actions")
        dead = Tail(wire, "dead_letter")
        w1 = start_worker_on(h1, wire, tmp_path, "w1", **_env(h1))
        w2 = start_worker_on(h2, wire, tmp_path, "w2", **_env(h2))
        producer = PacedProducer(wire, events)
        metrics = ""
        try:
            producer.start()
            tail.wait(lambda rs: distinct_ids(rs) >= len(expected) // 20, timeout=90)
            for how in ("down", "drop"):
                before = distinct_ids(tail.records())
                cut_at = time.monotonic()
                h1.link_down() if how == "down" else h1.drop()
                try:
                    time.sleep(CUT_SECONDS)  # the effect awaited is the network being gone a while: nothing to poll
                    dropped = h1.dropped_packets()
                finally:
                    h1.restore()
                assert w1.alive() and w2.alive(), "a cut network must not kill the workers"
                cuts.append(
                    {
                        "how": how,
                        "at_s": round(cut_at - started, 1),
                        "decisions_before": before,
                        "during": distinct_ids(tail.records()) - before,
                        **({"packets_dropped": dropped} if how == "drop" else {}),
                    }
                )
                if how == "drop":
                    assert dropped > 0, "the drop cut dropped nothing: the worker did not speak to the broker"
                # Worker 1 rejoins (a rebalance) and decides again before the next cut.
                _wait_resumed(h1, times=len(cuts), timeout=120)
            producer.join(timeout=120)
            assert producer.error is None, producer.error
            assert producer.produced == len(events)
            send_clock(wire, until)
            records = tail.wait(lambda rs: expected.keys() <= _ids(rs), timeout=150, quiet=3.0)
            alive = w1.alive() and w2.alive()
            metrics = _scrape(h1)
            for host, name in ((h1, "w1"), (h2, "w2")):  # for a post-mortem: held events, lag, clocks
                (tmp_path / f"{name}.metrics").write_text(_scrape(host))
            log_standing(w1, w2)
        finally:
            code_1, code_2 = w1.stop(), w2.stop()
            kill_quietly(w1)
            kill_quietly(w2)
            tail.close()
            dead.close()
    result = audit(records, expected)
    if not result.ok:
        _dump(tmp_path / "audit.json", records, expected, result.missing, result.extra)
    signals = {
        name: metric_sum(metrics, name)
        for name in (
            "postsale_group_coordinator_lost_total",
            "postsale_deciding_paused_total",
            "postsale_deciding_resumed_total",
        )
    }
    report(
        "partition",
        cuts=cuts,
        events_processed=len(events),
        decisions=len(expected),
        **result.figures(),
        worker_1_signals=signals,
        seconds=round(time.monotonic() - started, 1),
    )
    logs = (w1.log_text()[-3000:], w2.log_text()[-3000:])
    dead_letters = [(r.partition, dict(r.headers).get("postsale.reason"), r.key) for r in dead.records()]
    # The audit of the crash test: nothing lost, nothing added, never a decision twice (two customer refunds for
    # one cause, one id with two contents); both workers alive and stopped cleanly, both cuts reported. On a
    # failure, both workers' logs end with where each partition stood (SIGUSR2).
    assert result.ok, result.explain()
    assert not dead_letters, f"dead letters in a clean stream: {dead_letters[:10]}"
    assert alive, logs
    assert (code_1, code_2) == (0, 0), logs
    for name, value in signals.items():
        assert value >= 2, f"{name} = {value}: worker 1 did not report both cuts"
