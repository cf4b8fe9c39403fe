"""Security: TLS/SASL settings reach the Kafka client; secrets and customer data never leave the worker.

Customer data (the simulator's fake buyers: names, phones, addresses, emails)
may be in the inbound records, and the dead-letter VALUE is the original
record, so it may hold them too. Nothing the worker writes itself may: its
log at debug level, the dead-letter headers, /metrics, the actions, the order
view.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from prometheus_client import CollectorRegistry, generate_latest

from streams.demo.broker import EmbeddedBroker
from streams.kafka.partitioning import partition_for
from streams.settings import Settings
from streams.simulator import FAKE_BUYERS
from streams.worker.app import make_faust_app
from streams.worker.metrics import Metrics
from tests.integration.kafka import ROOT, free_port, new_wire, produce_events, produce_raw, send_clock, start_worker
from tests.integration.reference import replay_actions
from tests.reliability.support import Tail, distinct_ids, metric_sum, scrape, simulated, wait_scrape

PASSWORD = "pw-Zq8!sekret-4711"  # noqa: S105 - a test secret to look for


def secure_settings(protocol: str, mechanism: str | None) -> Settings:
    extra: dict[str, Any] = {}
    if mechanism is not None:
        extra = {"sasl_mechanism": mechanism, "sasl_username": "postsale", "sasl_password": PASSWORD}
    return Settings(
        brokers=["kafka://k1.example:9093;k2.example:9093", "k3.example:9093"],
        security_protocol=protocol,
        web_enabled=False,
        **extra,
    )


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("SASL_SSL", "PLAIN"),
        ("SASL_SSL", "SCRAM-SHA-256"),
        ("SASL_SSL", "SCRAM-SHA-512"),
        ("SASL_PLAINTEXT", "PLAIN"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
        ("SSL", None),
        ("PLAINTEXT", None),
    ],
)
def test_tls_and_sasl_settings_reach_the_kafka_client(protocol: str, mechanism: str | None) -> None:
    settings = secure_settings(protocol, mechanism)
    app = make_faust_app(settings)
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert auth["security_protocol"] == protocol
    if mechanism is not None:
        assert auth["sasl_mechanism"] == mechanism
        assert auth["sasl_plain_username"] == "postsale"
        assert auth["sasl_plain_password"] == PASSWORD
    else:
        assert auth.get("sasl_mechanism") in (None, "PLAIN")  # Faust's default, unused without SASL
    if protocol.endswith("SSL"):
        assert auth["ssl_context"] is not None, "TLS without an SSL context"
    else:
        assert auth.get("ssl_context") is None
    assert [f"{u.host}:{u.port}" for u in app.conf.broker] == ["k1.example:9093", "k2.example:9093", "k3.example:9093"]
    # The secret stays out of every rendering of the settings and out of the metrics.
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert PASSWORD not in settings.model_dump_json()
    registry = CollectorRegistry()
    Metrics.create(registry, settings)
    assert PASSWORD.encode() not in generate_latest(registry)


@pytest.mark.broker
def test_sasl_password_never_reaches_the_log(tmp_path: Path) -> None:
    """A worker with SASL credentials and debug logging, pointed at a port where no broker answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSALE_")}
    env.update(
        {
            "POSTSALE_BROKERS": f"kafka://127.0.0.1:{port}",
            "POSTSALE_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "POSTSALE_SASL_MECHANISM": "SCRAM-SHA-256",
            "POSTSALE_SASL_USERNAME": "postsale",
            "POSTSALE_SASL_PASSWORD": PASSWORD,
            "POSTSALE_LOG_LEVEL": "debug",
            "POSTSALE_WEB_ENABLED": "false",
            "POSTSALE_SESSION_TIMEOUT_SECONDS": "6",
            "POSTSALE_HEARTBEAT_INTERVAL_SECONDS": "1",
            "POSTSALE_DATA_DIR": str(tmp_path / "data"),
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # The worker asks the broker first and stops with one line when none answers (streams/kafka/probe.py),
    # with its client's debug logging on: the line names the address and the setting, never the password.
    try:
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    assert proc.returncode == 2, out
    assert f"127.0.0.1:{port}" in out and "POSTSALE_BROKERS" in out, out
    assert PASSWORD not in out


def buyer_strings() -> set[str]:
    out: set[str] = set()
    for buyers in FAKE_BUYERS.values():
        for b in buyers:
            for value in b.values():
                if isinstance(value, str) and len(value) >= 5:
                    out.add(value)
                elif isinstance(value, dict):
                    out.update(v for v in value.values() if isinstance(v, str) and len(v) >= 5)
    return out


# Recognisable customer data: one value per buyer field, each unlike anything postsale writes itself.
CANARY_BUYER = {
    "name": "Canary Buyername Qx",
    "phone": "+86 139 7777 4242",
    "email": "canary.qx@buyer.example",
    "address": "42 Canaryweg, Qx District, Hangzhou 310099",
}
CANARIES = set(CANARY_BUYER.values())


def canary_records(topics: dict[str, str], placed: dict[str, Any], partitions: int = 8) -> tuple[list[Any], list[Any]]:
    """Records carrying the canary buyer down every error path of the worker's intake, each ending as a dead
    letter; and valid ones carrying it, which the worker decides on (one of them on a partition its key does
    not hash to: rerouted first). `placed` is a valid order.placed."""
    from models.events import EVENT_TYPES, topic_of

    def rec(topic: str, key: bytes | None, body: Any, partition: int | None = None) -> tuple[Any, ...]:
        return (topics[topic], key, body if isinstance(body, bytes) else orjson.dumps(body), partition)

    good = dict(placed, buyer=CANARY_BUYER)
    letters: list[Any] = []
    # Every event type with the buyer attached (refused: only order.placed has a buyer; that one misses fields).
    for n, event_type in enumerate(EVENT_TYPES):
        body = {"event_id": f"cb-{n}", "order_id": f"CB-{n}", "type": event_type,
                "occurred_at": placed["occurred_at"], "buyer": CANARY_BUYER}  # fmt: skip
        letters.append(rec(topic_of(event_type), f"CB-{n}".encode(), body))
    # Buyer values where other values belong, as field names, as the type, in a bad time.
    for n, (field_, value) in enumerate(
        [("amount", CANARY_BUYER["phone"]), ("currency", CANARY_BUYER["name"]), ("marketplace", CANARY_BUYER["email"]),
         ("occurred_at", CANARY_BUYER["address"]), ("store_id", CANARY_BUYER["name"]), ("type", CANARY_BUYER["name"]),
         (CANARY_BUYER["email"], 1), ("buyer", CANARY_BUYER["address"]), ("items", [CANARY_BUYER])]
    ):  # fmt: skip
        letters.append(rec("orders", f"CW-{n}".encode(), dict(good, order_id=f"CW-{n}", **{field_: value})))
    letters += [
        rec("orders", CANARY_BUYER["phone"].encode(), dict(good, order_id="CK-1")),  # key_mismatch
        rec("shipments", b"CT-1", dict(good, order_id="CT-1")),  # wrong_topic
        rec("orders", b"CF-1", dict(good, order_id="CF-1", occurred_at="2099-01-01T00:00:00+08:00")),  # future
        rec("orders", b"CJ-1", orjson.dumps(dict(good, order_id="CJ-1"))[:-20]),  # invalid_json
        rec(
            "shipments",
            b"CU-1",
            {
                "event_id": "cu-1",
                "order_id": "CU-1",
                "type": "shipment.update",  # unknown_order
                "occurred_at": placed["occurred_at"],
                "carrier": "sf",
                "tracking_number": "SF-CU-1",
                "status": "in_transit",
            },
        ),  # fmt: skip
    ]
    wrong = (partition_for(b"CR-1", partitions) + 1) % partitions
    decided = [
        rec("orders", b"CG-1", dict(good, order_id="CG-1", event_id="cg-1")),
        rec("orders", b"CR-1", dict(good, order_id="CR-1", event_id="cr-1"), wrong),
    ]
    return letters, decided


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a local worker
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (from /proc/net/tcp and tcp6)."""
    out: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if int(hexport, 16) == port and state == "0A":
                out.add(addr)
    return out


@pytest.mark.broker
@pytest.mark.slow
def test_customer_data_never_leaves_the_worker_and_the_order_view_is_guarded(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    events, until = simulated(seed=51, orders=80)
    assert any("buyer" in e for e in events), "the simulator must put customer data in order.placed"
    expected = replay_actions(events, until)
    secrets = buyer_strings()
    wire = new_wire(broker, "privacy")
    t = wire.topics
    placed = next(e for e in events if "buyer" in e)
    # Bad records that carry the buyer: the dead-letter value may keep them, the headers may not.
    bad = [
        (t["orders"], b"HYP-P1", orjson.dumps(dict(placed, order_id="HYP-P1", amount=[placed["buyer"]])), None),
        (t["orders"], b"someone-else", orjson.dumps(placed), None),
        (t["orders"], b"HYP-P2", orjson.dumps(dict(placed, order_id="HYP-P2", buyer="x" * 5)), None),
        (t["orders"], b"HYP-P3", orjson.dumps(dict(placed, order_id="HYP-P3", type=placed["buyer"]["name"])), None),
        (t["orders"], b"HYP-P4", orjson.dumps(dict(placed, order_id="HYP-P4", **{placed["buyer"]["phone"]: 1})), None),
    ]
    canary_letters, canary_decided = canary_records(t, placed, wire.partitions)
    bad += canary_letters
    secrets |= CANARIES
    port, token = free_port(), "tok-3b1f6c"
    tail = Tail(wire, "actions")
    dead = Tail(wire, "dead_letter")
    worker = start_worker(
        wire,
        tmp_path,
        POSTSALE_LOG_LEVEL="debug",
        POSTSALE_WEB_ENABLED="true",
        POSTSALE_WEB_PORT=str(port),
        POSTSALE_ORDER_VIEW_TOKEN=token,
    )
    off_port = free_port()
    no_view = start_worker(
        new_wire(broker, "no-view"), tmp_path, "no-view", POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(off_port)
    )
    try:
        wait_scrape(port)
        produce_raw(wire, bad)
        produce_raw(wire, canary_decided)
        produce_events(wire, events)
        send_clock(wire, until)
        # The simulated store's decisions, and the canary order's (placed, never shipped: its own actions).
        actions = tail.wait(lambda rs: distinct_ids(rs) > len(expected), timeout=120, quiet=1.0)
        letters = dead.wait(lambda rs: len(rs) >= len(bad), timeout=30, quiet=1.0)
        metrics = scrape(port)
        assert listening_addresses(port) == {"0100007F"}, "web endpoints must bind to 127.0.0.1 by default"
        open_order = next(iter(orjson.loads(a.value)["order_id"] for a in actions))
        url = f"http://127.0.0.1:{port}/orders/{open_order}"
        no_token = http_get(url)
        wrong_token = http_get(url, {"Authorization": "Bearer nope"})
        right_token = http_get(url, {"Authorization": f"Bearer {token}"})
        wait_scrape(off_port)
        switched_off = http_get(f"http://127.0.0.1:{off_port}/orders/{open_order}")
    finally:
        worker.stop()
        no_view.stop()
        tail.close()
        dead.close()
    assert no_token[0] == 401 and wrong_token[0] == 401
    assert right_token[0] in (200, 404), right_token  # 404: that order was already retired
    assert switched_off[0] == 404

    assert len(letters) == len(bad)
    reasons = {dict(r.headers)["postsale.reason"].decode() for r in letters}
    assert {"invalid_event", "invalid_json", "key_mismatch", "wrong_topic", "future_timestamp", "unknown_order"} <= (
        reasons
    ), reasons
    decided_orders = {orjson.loads(a.value)["order_id"] for a in actions}
    assert {"CG-1", "CR-1"} <= decided_orders, "the canary orders were decided (CR-1 after its reroute)"
    assert metric_sum(metrics, "postsale_misrouted_events_total") >= 1
    written: dict[str, str] = {
        "log": worker.log_text(),
        "metrics": metrics,
        "actions": "\n".join(bytes(a.value).decode() for a in actions),
        "dead-letter headers": "\n".join(repr(r.headers) for r in letters),
        "order view": right_token[1].decode(errors="replace"),
    }
    assert "DEBUG" in written["log"], "the worker did not log at debug level"
    leaks = {(where, s) for where, text in written.items() for s in secrets if s in text}
    assert not leaks, sorted(leaks)[:10]
    assert any(s.encode() in bytes(r.value) for r in letters for s in secrets), "the test's bad records carried buyers"
    carried = {s for r in letters for s in CANARIES if s.encode() in bytes(r.value)}
    assert carried == CANARIES, "every canary value went down an error path"


def test_replay_explain_and_diff_never_print_customer_data(tmp_path: Path) -> None:
    """The offline commands read the same records: what they print about them (bad lines, rejected events,
    summaries, timelines) names fields and ids, never a buyer's data."""
    sample = ROOT / "streams" / "samples" / "day.jsonl"
    lines = sample.read_bytes().splitlines()
    placed = next(orjson.loads(line) for line in lines if b'"buyer"' in line)
    letters, decided = canary_records({"orders": "orders", "shipments": "shipments", "disputes": "disputes"}, placed)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join([*lines, *(r[2] for r in letters), *(r[2] for r in decided)]) + b"\n")
    secrets = buyer_strings() | CANARIES
    assert any(s.encode() in path.read_bytes() for s in buyer_strings()), "the sample's buyers are in the input"

    def postsale(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streams.cli", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="200"),
        )  # fmt: skip

    until = "2026-12-31T00:00:00+08:00"
    runs = {
        "replay": postsale("replay", str(path), "--until", until),
        "explain": postsale("explain", "CG-1", str(path), "--until", until),
        "explain --json": postsale("explain", "CG-1", str(path), "--until", until, "--json"),
        "explain (refused lines only)": postsale("explain", "CW-1", str(path)),
        "diff": postsale(
            "diff",
            str(path),
            "--policy",
            str(ROOT / "models" / "default_policy.yaml"),
            "--against",
            str(ROOT / "models" / "default_policy.yaml"),
            "--until",
            until,
        ),  # fmt: skip
    }
    assert runs["replay"].returncode == 0 and runs["explain"].returncode == 0, runs["replay"].stderr[-2000:]
    bad_lines = [line for line in runs["replay"].stderr.splitlines() if line.startswith("line ")]
    # A file has no keys or topics, and the unknown order is rejected, not a bad line: the others are named.
    assert len(bad_lines) == len(letters) - 4, bad_lines
    assert "Traceback" not in "".join(r.stderr for r in runs.values())
    printed = {(name, "stderr"): r.stderr for name, r in runs.items()} | {
        (name, "stdout"): r.stdout for name, r in runs.items()
    }
    leaks = {(where, s) for where, text in printed.items() for s in secrets if s in text}
    assert not leaks, sorted(leaks)[:10]
