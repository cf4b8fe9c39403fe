"""The whole loop through the real broker: the engine decides a refund and a deadline, the executor carries the
refund out against a real HTTP receiver and reports back, and the live worker settles the deadline on it.

Wrong-item claims on aliexpress (claim_resolution = refund), verified a minute ago, each refund due within 15
working days: the receiver answers 200 for one and 422 for another; three refunds are above the breaker's
single-refund limit and are held, and a person (`postsale actions`) releases one, drops one and leaves one.
`postsale worker` (events clock) and `postsale execute` run as subprocesses. Each hold is escalated for a
person at once; when a clock tick then moves time 40 days on, the refunds that were made (at once, or
released) and the dropped one are not escalated as overdue; the refused one and the one left held are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from models.actions import action_id_for
from models.events import dump_event
from streams.demo.broker import EmbeddedBroker
from tests.factories import delivered, dispute, evidence, placed, shipped, verified
from tests.integration.executor_support import Receiver, cli, executor_env, read, start_executor, write_config
from tests.integration.kafka import action_dicts, collect, new_wire, produce_events, send_clock, start_worker

pytestmark = [pytest.mark.broker, pytest.mark.slow]

DAY = timedelta(days=1)
RULE = "wrong_or_missing"


def verified_claim(order_id: str, amount: str, verified_at: datetime) -> list[dict[str, Any]]:
    """A wrong item reported, evidenced and verified: the engine decides a customer refund of `amount` USD."""
    t = verified_at - 30 * DAY
    events = [
        placed(order_id=order_id, at=t, marketplace="aliexpress", amount=amount, currency="USD"),
        shipped(order_id=order_id, at=t + DAY),
        delivered(order_id=order_id, at=t + 5 * DAY),
        dispute("wrong_item", order_id=order_id, at=t + 6 * DAY),
        evidence(order_id=order_id, at=t + 7 * DAY),
        verified(True, order_id=order_id, at=verified_at),
    ]
    return [orjson.loads(dump_event(e)) for e in events]


def refund_id(order_id: str) -> str:
    return action_id_for(order_id, RULE, "refund", "customer-dispute-1")


def escalations(actions: dict[str, dict[str, Any]], order_id: str) -> list[str]:
    return sorted(a["notice"] for a in actions.values() if a["order_id"] == order_id and a["type"] == "escalate")


def test_an_executed_refund_settles_the_deadline_and_a_failed_or_held_one_escalates(
    broker: EmbeddedBroker, receiver: Receiver, tmp_path: Path
) -> None:
    # One partition: the worker reads the orders and the tick in one sequence, so "quiet after the escalations
    # of the tick" means every order has seen it.
    wire = new_wire(broker, "loop", partitions=1)
    receiver.script = {"L-ok": [200], "L-refused": [422]}
    env = executor_env(wire, write_config(tmp_path, receiver.port, single="500"))
    verified_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    events = [
        *verified_claim("L-ok", "25.00", verified_at),
        *verified_claim("L-refused", "25.00", verified_at),
        # Above the single-refund limit of 500 USD: held.
        *verified_claim("L-held", "900.00", verified_at),
        *verified_claim("L-released", "800.00", verified_at),
        *verified_claim("L-dropped", "700.00", verified_at),
    ]
    held_ids = [refund_id(o) for o in ("L-held", "L-released", "L-dropped")]
    worker = start_worker(wire, tmp_path)
    executor = start_executor(env, tmp_path, "ex")
    try:
        produce_events(wire, events)
        expected = {f"out-{refund_id('L-ok')}", f"out-{refund_id('L-refused')}", *(f"held-{a}" for a in held_ids)}
        read(wire, wire.topics["orders"], lambda rs: expected <= {r["event_id"] for r in rs}, timeout=60)
        released = cli(env, "release", refund_id("L-released"))
        dropped = cli(env, "drop", refund_id("L-dropped"))
        assert released.returncode == 0 and dropped.returncode == 0, released.stderr + dropped.stderr
        expected |= {f"out-{refund_id('L-released')}", f"out-{refund_id('L-dropped')}"}
        outcomes = read(wire, wire.topics["orders"], lambda rs: expected <= {r["event_id"] for r in rs}, timeout=60)
        # The clock passes every refund's 15-working-day deadline (no event follows: only the tick moves time).
        send_clock(wire, verified_at + 40 * DAY)
        records = collect(
            wire,
            "actions",
            lambda rs: sum(orjson.loads(r.value).get("notice") == "refund_overdue" for r in rs) >= 2,
            timeout=60,
            quiet=2.0,
        )
    finally:
        executor.stop()
        worker.stop()
    by_id = {e["event_id"]: e for e in outcomes}
    logs = f"worker:\n{worker.log_text()[-2000:]}\nexecutor:\n{executor.log_text()[-2000:]}"
    assert expected <= set(by_id), logs
    done = by_id[f"out-{refund_id('L-ok')}"]
    assert (done["type"], done["caused_by"], done["amount"]) == ("order.refunded", refund_id("L-ok"), "25.00")
    refused = by_id[f"out-{refund_id('L-refused')}"]
    assert (refused["type"], refused["outcome"]) == ("action.failed", "rejected")
    held = by_id[f"held-{refund_id('L-held')}"]
    assert (held["type"], held["amount"], held["currency"]) == ("action.held", "900.00", "USD")
    assert "single-refund limit" in held["reason"]
    assert by_id[f"out-{refund_id('L-released')}"]["type"] == "order.refunded"
    assert by_id[f"out-{refund_id('L-dropped')}"]["outcome"] == "dropped"

    actions = action_dicts(records)
    assert {a["order_id"] for a in actions.values() if a["type"] == "refund"} == {o["order_id"] for o in events}
    assert escalations(actions, "L-ok") == [], "the refund was made: its deadline was settled by the outcome"
    assert escalations(actions, "L-refused") == ["refund_overdue"], logs
    assert escalations(actions, "L-held") == ["refund_held", "refund_overdue"], logs
    assert escalations(actions, "L-released") == ["refund_held"], "released and made: not overdue"
    assert escalations(actions, "L-dropped") == ["refund_held"], "a person dropped it: not awaited"
    [for_a_person] = [a for a in actions.values() if a.get("notice") == "refund_held" and a["order_id"] == "L-held"]
    assert for_a_person["amount"] == "900.00" and refund_id("L-held") in for_a_person["reason"]
    sent = {o: receiver.keys_for(o) for o in ("L-ok", "L-refused", "L-held", "L-released", "L-dropped")}
    assert sent == {
        "L-ok": [refund_id("L-ok")],
        "L-refused": [refund_id("L-refused")],
        "L-held": [],  # held: never sent
        "L-released": [refund_id("L-released")],  # sent once a person released it
        "L-dropped": [],
    }
