"""Thousands of bad records mixed into a valid stream: each is dead-lettered with a reason, nothing else changes.

Bad records come from Hypothesis (drawn once, derandomized: the same records
on every run) and from a table of hand-made cases. Every Hypothesis record is
about an order the stream never placed (`HYP-…`), so even one that happened
to be a valid event could not touch the valid stream's orders; its times, if
valid, are before the stream starts, so it cannot move a partition's clock.
Repeated event ids (exact copies, and copies with other content) are not bad
records: they are counted as duplicates and change nothing.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from models.events import topic_of
from streams.demo.broker import EmbeddedBroker
from streams.worker.metrics import INVALID_REASONS
from tests.integration.kafka import free_port, new_wire, produce_raw, send_clock, start_worker
from tests.integration.reference import replay_actions
from tests.reliability.support import START, Tail, audit, distinct_ids, metric_sum, report, scrape, simulated

pytestmark = [pytest.mark.broker, pytest.mark.slow]

EXAMPLES = 500  # per Hypothesis strategy below
HUGE = 880 * 1024  # below the broker's and the producers' 1 MB message limits, dead-letter headers included
INPUTS = ("orders", "shipments", "disputes")

SHIPMENT = {
    "event_id": "hyp-e",
    "order_id": "HYP-0",
    "type": "shipment.update",
    "occurred_at": "2026-03-01T08:00:00+08:00",
    "carrier": "sf",
    "tracking_number": "SF1",
    "status": "in_transit",
}
COMMON = ("event_id", "order_id", "type", "occurred_at")
INT64 = st.integers(-(2**63), 2**63 - 1)  # what JSON encoders write
NOT_A_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.lists(INT64, max_size=3),
    st.dictionaries(st.text(max_size=4), INT64, max_size=2),
)
EARLY_TIME = st.datetimes(
    min_value=START.replace(year=1971, tzinfo=None), max_value=START.replace(month=2, day=1, tzinfo=None)
).map(lambda d: d.isoformat() + "+08:00")
KNOWN_TYPES = {
    "order.placed",
    "order.paid",
    "shipment.update",
    "dispute.opened",
}


def _hyp_id(n: int) -> str:
    return f"HYP-{n}"


@st.composite
def truncated(draw: Any) -> bytes:
    body = orjson.dumps(dict(SHIPMENT, order_id=_hyp_id(draw(st.integers(0, 10**6)))))
    return body[: draw(st.integers(1, len(body) - 1))]


@st.composite
def wrong_type(draw: Any) -> bytes:
    field = draw(st.sampled_from([*COMMON, "status", "carrier", "tracking_number"]))
    e = dict(SHIPMENT, order_id=_hyp_id(draw(st.integers(0, 10**6))))
    e[field] = draw(NOT_A_SCALAR)
    return orjson.dumps(e)


@st.composite
def missing_field(draw: Any) -> bytes:
    e = dict(SHIPMENT, order_id=_hyp_id(draw(st.integers(0, 10**6))))
    for f in draw(st.sets(st.sampled_from([*COMMON, "status"]), min_size=1)):
        del e[f]
    return orjson.dumps(e)


@st.composite
def unknown_type(draw: Any) -> bytes:
    kind = draw(st.text(min_size=0, max_size=30).filter(lambda s: "." not in s or s not in KNOWN_TYPES))
    extra = draw(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=20), max_size=3))
    return orjson.dumps({**extra, **dict(SHIPMENT, type=kind, order_id=_hyp_id(draw(st.integers(0, 10**6))))})


@st.composite
def invalid_utf8(draw: Any) -> bytes:
    body = orjson.dumps(dict(SHIPMENT, order_id=_hyp_id(draw(st.integers(0, 10**6)))))
    at = draw(st.integers(1, len(body) - 2))
    bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
    return body[:at] + bad + body[at:]


@st.composite
def unknown_order(draw: Any) -> bytes:
    """A well-formed event for an order that was never placed, at a time before the stream."""
    e = dict(
        SHIPMENT,
        event_id=f"hyp-{draw(st.integers(0, 10**9))}",
        order_id=_hyp_id(draw(st.integers(0, 10**6))),
        occurred_at=draw(EARLY_TIME),
        status=draw(st.sampled_from(["in_transit", "delivered", "exception"])),
    )
    return orjson.dumps(e)


STRATEGIES = {
    "truncated_json": truncated(),
    "wrong_types": wrong_type(),
    "missing_fields": missing_field(),
    "unknown_types": unknown_type(),
    "invalid_utf8": invalid_utf8(),
    "unknown_orders": unknown_order(),
}


def draw_many(strategy: st.SearchStrategy[bytes], n: int) -> list[bytes]:
    """`n` examples of a strategy, the same on every run (derandomized, no example database)."""
    out: list[bytes] = []

    @settings(
        derandomize=True,
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(value: bytes) -> None:
        out.append(value)

    draw()
    return out


def hand_made(first: dict[str, Any]) -> list[tuple[str, bytes | None, bytes, str]]:
    """(topic, key, value, expected reason) for the cases a generator would rarely hit."""
    oid = first["order_id"]
    ship = dict(SHIPMENT, order_id="HYP-HAND", event_id="hand-1")
    return [
        ("orders", b"HYP-HUGE-1", orjson.dumps(dict(ship, order_id="HYP-HUGE-1", note="x" * HUGE)), "invalid_event"),
        ("shipments", b"HYP-HUGE-2", b"{" + b"7" * HUGE, "invalid_event"),  # over the size limit: not even parsed
        ("disputes", b"HYP-HUGE-3", orjson.dumps({"blob": ["y" * 1000] * (HUGE // 1004)}), "invalid_event"),
        ("orders", oid.encode(), b"", "invalid_json"),
        ("orders", oid.encode(), b"null", "invalid_event"),
        ("orders", oid.encode(), b"[1,2,3]", "invalid_event"),
        ("orders", oid.encode(), b'"order.placed"', "invalid_event"),
        (
            "shipments",
            b"HYP-HAND",
            orjson.dumps(dict(ship, occurred_at="2099-01-01T00:00:00+00:00")),
            "future_timestamp",
        ),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, occurred_at="9999-12-31T23:59:59-14:00")), "invalid_event"),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, occurred_at="0001-01-01T00:00:00+14:00")), "invalid_event"),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, occurred_at="2026-03-01T08:00:00")), "invalid_event"),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, occurred_at="yesterday")), "invalid_event"),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, occurred_at=1e300)), "invalid_event"),
        # An order.placed far in the past for a new order: the rules would overflow computing its deadlines.
        (
            "orders",
            b"HYP-PAST",
            orjson.dumps(dict(first, order_id="HYP-PAST", event_id="hand-2", occurred_at="0001-01-01T00:00:00+14:00")),
            "invalid_event",
        ),
        ("orders", b"someone-else", orjson.dumps(first), "key_mismatch"),
        ("orders", None, orjson.dumps(first), "key_mismatch"),
        ("orders", b"HYP-HAND", orjson.dumps(dict(ship, event_id="hand-wt")), "wrong_topic"),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, status="teleported")), "invalid_event"),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, surprise=True)), "invalid_event"),
        ("shipments", b"HYP-HAND", orjson.dumps(dict(ship, order_id="HYP HAND")), "invalid_event"),
        ("shipments", b"HYP-HAND", orjson.dumps(ship), "unknown_order"),
    ]


def test_garbage_is_dead_lettered_and_the_valid_stream_decides_as_before(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    started = time.monotonic()
    events, until = simulated(seed=41, orders=150)
    expected = replay_actions(events, until)
    rng = random.Random(41)
    wire = new_wire(broker, "garbage")
    t = wire.topics

    drawn = {name: draw_many(s, EXAMPLES) for name, s in STRATEGIES.items()}
    bad: list[tuple[str, bytes | None, bytes, str | None]] = []
    for name, values in drawn.items():
        for v in values:
            key = None
            try:
                body = orjson.loads(v)
                if isinstance(body, dict) and isinstance(body.get("order_id"), str):
                    key = body["order_id"].encode()
            except orjson.JSONDecodeError:
                key = f"HYP-{name}".encode()
            bad.append((t[rng.choice(INPUTS)] if name != "unknown_orders" else t["shipments"], key, v, None))
    hand = hand_made(events[0])
    bad += [(t[topic], key, value, reason) for topic, key, value, reason in hand]

    # The valid stream in order, the bad records at random places, repeats of event ids a little after the original.
    records: list[tuple[str, bytes | None, bytes, int | None]] = [
        (t[topic_of(e["type"])], e["order_id"].encode(), orjson.dumps(e), None) for e in events
    ]
    in_stream = len(events) - len({e["event_id"] for e in events})  # the simulator's own repeats
    repeats = 0
    for i in sorted(rng.sample(range(len(events)), 300), reverse=True):
        e = events[i]
        copy = dict(e)
        if e["type"] == "shipment.update" and rng.random() < 0.5:
            copy["status"] = "delivered" if e["status"] != "delivered" else "exception"  # same id, other content
        at = min(len(records), i + 1 + rng.randrange(20))
        records.insert(at, (t[topic_of(e["type"])], e["order_id"].encode(), orjson.dumps(copy), None))
        repeats += 1
    for topic, key, value, _ in bad:
        records.insert(rng.randrange(len(records) + 1), (topic, key, value, None))

    port = free_port()
    tail = Tail(wire, "actions")
    dead = Tail(wire, "dead_letter")
    worker = start_worker(wire, tmp_path, POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(port))
    try:
        produce_raw(wire, records)
        send_clock(wire, until)
        live = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=150, quiet=2.0)
        letters = dead.wait(lambda rs: len(rs) >= len(bad), timeout=60, quiet=2.0)
        assert worker.alive(), worker.log_text()[-3000:]
        metrics = scrape(port)
    finally:
        code = worker.stop()
        tail.close()
        dead.close()

    reasons = [dict(r.headers).get("postsale.reason", b"").decode() for r in letters]
    details = [dict(r.headers).get("postsale.detail", b"").decode() for r in letters]
    counted = metric_sum(metrics, "postsale_invalid_records_total")
    duplicates = metric_sum(metrics, "postsale_duplicate_events_total")
    result = audit(live, expected)
    report(
        "garbage",
        bad_records_tried=len(bad),
        dead_lettered=len(letters),
        counted_invalid=int(counted),
        by_reason={r: reasons.count(r) for r in sorted(set(reasons))},
        hypothesis_drawn={k: len(v) for k, v in drawn.items()},
        repeated_event_ids=repeats,
        repeats_in_simulated_stream=in_stream,
        counted_duplicates=int(duplicates),
        valid_events=len(events),
        actions_lost=len(result.missing),
        extra_actions=len(result.extra),
        seconds=round(time.monotonic() - started, 1),
    )
    assert len(letters) == len(bad), f"{len(bad)} bad records sent, {len(letters)} dead-lettered"
    assert all(r in INVALID_REASONS for r in reasons), set(reasons) - set(INVALID_REASONS)
    assert all(details), "every dead letter says why"
    assert counted == len(bad)
    assert duplicates == repeats + in_stream, "each repeated event id is counted once as a duplicate"
    by_value = {bytes(r.value): reason for r, reason in zip(letters, reasons, strict=True)}
    for _topic, _key, value, reason in bad:
        assert value in by_value, f"not dead-lettered: {value[:200]!r}"
        if reason is not None:
            assert by_value[value] == reason, (value[:200], by_value[value], reason)
    assert result.ok, result.explain()
    assert code == 0, worker.log_text()[-3000:]
