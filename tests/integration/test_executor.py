"""`postsale execute` through the real broker against a real HTTP receiver started by the test.

The receiver verifies every Standard Webhooks signature, and does what a
careful payment API does: it applies a refund once per Idempotency-Key and
answers a repeat with the first answer. Each test has its own topics and
consumer group (`new_wire`); the executor runs as a subprocess, as in
production, so that it can be SIGKILLed.
"""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from models.actions import Action, action_id_for, dump_action
from streams.demo.broker import EmbeddedBroker
from tests.integration.executor_support import (
    Receiver,
    cli,
    executor_env,
    outcome_events,
    read,
    start_executor,
    until,
    write_config,
)
from tests.integration.kafka import Wire, free_port, new_wire, produce_raw

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def action(order_id: str, action_type: str = "refund", amount: str = "25.00", key: str = "dispute-1") -> Action:
    money: dict[str, Any] = {}
    if action_type in ("refund", "abandon_return"):
        money = {"party": "customer", "amount": Decimal(amount), "currency": "USD", "cause": key}
    return Action(
        action_id=action_id_for(order_id, "wrong_or_missing", action_type, key),
        order_id=order_id,
        store_id="store-1",
        type=action_type,  # type: ignore[arg-type]
        rule="wrong_or_missing",
        policy_version="test",
        decided_at=datetime(2026, 11, 11, 10, tzinfo=UTC),
        caused_by=("evt-1",),
        reason="test",
        **money,
    )


def produce_actions(wire: Wire, actions: list[Action]) -> None:
    produce_raw(wire, [(wire.topics["actions"], a.order_id.encode(), dump_action(a), None) for a in actions])


def test_every_outcome_class(broker: EmbeddedBroker, receiver: Receiver, tmp_path: Path) -> None:
    wire = new_wire(broker, "exec-outcomes")
    receiver.script = {
        "ok": [200],
        "conflict": [409],
        "invalid": [422],
        "busy": [503, (429, {"Retry-After": "1"}), 200],
        "down": [500],
        "slow": ["slow", 200],  # times out once, then succeeds: one refund, not two
    }
    actions = [
        action("ok"),
        action("conflict"),
        action("invalid"),
        action("busy"),
        action("down"),
        action("slow"),
        action("reord", "reorder"),
        action("expd", "expedite"),  # dry run: logged, never called
    ]
    env = executor_env(wire, write_config(tmp_path, receiver.port))
    ex = start_executor(env, tmp_path, "ex")
    try:
        produce_actions(wire, actions)
        events = outcome_events(wire, 7, timeout=90)
        letters = read(wire, f"{wire.prefix}-actions.failed", lambda rs: len(rs) >= 3)
    finally:
        ex.stop()
    by_order = {e["order_id"]: e for e in events.values()}
    ids = {a.order_id: a.action_id for a in actions}
    assert set(by_order) == {"ok", "conflict", "invalid", "busy", "down", "slow", "reord"}, ex.log_text()[-3000:]
    for order in ("ok", "busy", "slow"):
        e = by_order[order]
        assert (e["type"], e["caused_by"], e["party"], e["amount"]) == (
            "order.refunded",
            ids[order],
            "customer",
            "25.00",
        )
        assert e["event_id"] == f"out-{ids[order]}"
    assert by_order["reord"]["type"] == "order.reordered" and by_order["reord"]["caused_by"] == ids["reord"]
    for order, reason in (("conflict", "HTTP 409"), ("invalid", "HTTP 422"), ("down", "gave up after 3 attempts")):
        e = by_order[order]
        assert e["type"] == "action.failed" and e["action_id"] == ids[order] and reason in e["reason"]
    assert sorted(letter["action"]["order_id"] for letter in letters) == ["conflict", "down", "invalid"]
    assert len(receiver.keys_for("conflict")) == 1  # rejected: not retried
    assert len(receiver.keys_for("busy")) == 3 and len(receiver.keys_for("down")) == 3
    assert receiver.keys_for("slow") == [ids["slow"], ids["slow"]]  # same key on the retry...
    assert receiver.applied[ids["slow"]] == Decimal("25.00")  # ...and refunded once
    assert receiver.keys_for("expd") == [] and "dry run" in ex.log_text()


def test_sigkill_between_call_and_commit_refunds_once(
    broker: EmbeddedBroker, receiver: Receiver, tmp_path: Path
) -> None:
    wire = new_wire(broker, "exec-kill")
    # The first call is applied and never answered: the executor is killed while it waits, before any commit.
    receiver.script = {"K1": ["hang", 200]}
    env = executor_env(wire, write_config(tmp_path, receiver.port, timeout=60))
    refund = action("K1")
    first = start_executor(env, tmp_path, "ex1")
    produce_actions(wire, [refund, action("K2")])
    until(lambda: receiver.keys_for("K1") != [], 60, "the first call")
    first.kill()
    second = start_executor(env, tmp_path, "ex2")
    try:
        events = outcome_events(wire, 2, timeout=90)
    finally:
        second.stop()
    assert receiver.keys_for("K1") == [refund.action_id, refund.action_id], second.log_text()[-3000:]
    assert receiver.applied == {refund.action_id: Decimal("25.00"), action("K2").action_id: Decimal("25.00")}
    assert events[f"out-{refund.action_id}"]["caused_by"] == refund.action_id
    # K2 is on another partition, delivered beside K1: the kill may land between its call and its outcome, and
    # then it is called again, under the same key, and applied once (above).
    k2 = action("K2").action_id
    assert set(receiver.keys_for("K2")) == {k2} and 1 <= len(receiver.keys_for("K2")) <= 2
    calls = {k: len(receiver.keys_for(k)) for k in ("K1", "K2")}
    # Offsets lost as well (a new group reads every action again): the outcome store keeps the receiver from
    # being called again.
    third = start_executor({**env, "POSTSALE_EXECUTOR_GROUP_ID": f"{wire.prefix}-other"}, tmp_path, "ex3")
    try:
        until(lambda: third.log_text().count("already done: not called again") >= 2, 60, "the skips")
    finally:
        third.stop()
    assert {k: len(receiver.keys_for(k)) for k in ("K1", "K2")} == calls


def scrape(port: int) -> str:
    """The executor's /metrics text; empty while its server is not up yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
            return str(resp.read().decode())
    except OSError:
        return ""


def test_breaker_holds_a_spike_and_a_person_releases_or_drops(
    broker: EmbeddedBroker, receiver: Receiver, tmp_path: Path
) -> None:
    wire = new_wire(broker, "exec-breaker")
    metrics_port = free_port()
    env = executor_env(
        wire,
        write_config(tmp_path, receiver.port, single="80", per_hour="100"),
        POSTSALE_EXECUTOR_METRICS_ENABLED="true",
        POSTSALE_EXECUTOR_METRICS_PORT=str(metrics_port),
    )
    # Same order, one partition: delivered in this order. 30+30+30 pass, the 4th would make 120 > 100/hour,
    # the 5th is above the single-refund limit of 80.
    spike = [action("S1", amount="30", key=f"c{i}") for i in range(4)] + [action("S1", amount="90", key="big")]
    ex = start_executor(env, tmp_path, "ex")
    try:
        produce_actions(wire, spike)
        until(lambda: 'postsale_executor_held_refunds{store="store-1"} 2.0' in scrape(metrics_port), 60, "2 held")
        text = scrape(metrics_port)
        assert 'postsale_executor_held_refund_amount{currency="USD",store="store-1"} 120.0' in text
        assert 'postsale_executor_deliveries_total{action_type="refund",outcome="held"} 2.0' in text
        assert 'postsale_executor_deliveries_total{action_type="refund",outcome="done"} 3.0' in text
        assert len(receiver.keys_for("S1")) == 3
        listed = cli(env, "list")
        assert listed.returncode == 0, listed.stderr
        assert spike[3].action_id in listed.stdout and spike[4].action_id in listed.stdout
        assert "single-refund limit" in listed.stdout

        released = cli(env, "release", spike[3].action_id)
        assert released.returncode == 0 and "done" in released.stdout, released.stderr
        dropped = cli(env, "drop", spike[4].action_id)
        assert dropped.returncode == 0, dropped.stderr
        again = cli(env, "drop", spike[4].action_id)
        assert again.returncode == 1 and "not held" in again.stderr
        # The running executor sees the person's decisions (its gauges go back to zero).
        until(lambda: 'postsale_executor_held_refunds{store="store-1"} 0.0' in scrape(metrics_port), 30, "0 held")
    finally:
        ex.stop()
    assert receiver.keys_for("S1") == [a.action_id for a in spike[:4]]
    events = outcome_events(wire, 5)
    released_event = events[f"out-{spike[3].action_id}"]
    assert released_event["type"] == "order.refunded" and Decimal(released_event["amount"]) == 30
    dropped_event = events[f"out-{spike[4].action_id}"]
    assert dropped_event["type"] == "action.failed" and dropped_event["reason"] == "dropped by a person"


def test_an_abandoned_return_is_a_refund_to_the_breaker_the_endpoint_and_the_engine(
    broker: EmbeddedBroker, receiver: Receiver, tmp_path: Path
) -> None:
    """An abandoned return pays the customer: it goes to the refund endpoint (the body says `abandon_return`),
    counts in the same hourly total as refunds, is held by the same limits, and its success is reported to the
    engine as `order.refunded` for that action."""
    wire = new_wire(broker, "exec-abandon")
    metrics_port = free_port()
    env = executor_env(
        wire,
        write_config(tmp_path, receiver.port, single="80", per_hour="100"),
        POSTSALE_EXECUTOR_METRICS_ENABLED="true",
        POSTSALE_EXECUTOR_METRICS_PORT=str(metrics_port),
    )
    # One order, one partition, delivered in this order: 30 + 30 + 30 = 90 pass; the 4th (30) would make 120
    # within the hour (> 100); the 5th (90) is above the single limit of 80 whatever came before.
    money = [
        action("A1", "refund", "30", key="r1"),
        action("A1", "abandon_return", "30", key="a1"),
        action("A1", "refund", "30", key="r2"),
        action("A1", "abandon_return", "30", key="a2"),
        action("A1", "abandon_return", "90", key="a3"),
    ]
    ex = start_executor(env, tmp_path, "ex")
    try:
        produce_actions(wire, money)
        until(lambda: 'postsale_executor_held_refunds{store="store-1"} 2.0' in scrape(metrics_port), 60, "2 held")
        text = scrape(metrics_port)
        assert 'postsale_executor_held_refund_amount{currency="USD",store="store-1"} 120.0' in text
        assert 'postsale_executor_deliveries_total{action_type="abandon_return",outcome="held"} 2.0' in text
        assert 'postsale_executor_deliveries_total{action_type="abandon_return",outcome="done"} 1.0' in text
        listed = cli(env, "list")
        assert listed.returncode == 0, listed.stderr
        assert money[3].action_id in listed.stdout and money[4].action_id in listed.stdout
        assert "abandon_return" in listed.stdout
        held = outcome_events(wire, 5)
    finally:
        ex.stop()
    assert receiver.keys_for("A1") == [a.action_id for a in money[:3]], ex.log_text()[-3000:]
    sent = receiver.bodies[money[1].action_id]
    assert (sent["type"], sent["party"], sent["amount"], sent["cause"]) == ("abandon_return", "customer", "30", "a1")
    assert receiver.applied[money[1].action_id] == Decimal("30")
    done = held[f"out-{money[1].action_id}"]
    assert (done["type"], done["caused_by"], done["party"], done["amount"]) == (
        "order.refunded",
        money[1].action_id,
        "customer",
        "30",
    )
    for a in money[3:]:
        report = held[f"held-{a.action_id}"]
        assert (report["type"], report["action_type"]) == ("action.held", "abandon_return")


def test_an_endpoint_for_abandoned_returns_alone_is_refused_at_start(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """Customer money has one way out: an `abandon_return` entry beside `refund` is a mistake said at start-up."""
    wire = new_wire(broker, "exec-abandon-route")
    config = write_config(tmp_path, free_port())
    config.write_text(config.read_text().replace("  reorder:\n", "  abandon_return: {kind: dry_run}\n  reorder:\n"))
    env = executor_env(wire, config)
    listed = cli(env, "list")
    assert listed.returncode == 2
    assert "endpoints.abandon_return" in listed.stderr and "endpoints.refund" in listed.stderr
    assert "Traceback" not in listed.stderr
