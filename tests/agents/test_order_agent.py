"""The order agent's wiring, in Faust's test context: records in, actions, dead letters, table and metrics out.

Each test builds the worker as `postsale worker` does (`streams.app.build`, events clock, memory store, a
fresh Prometheus registry) and runs its order agent with `Agent.test_context()`: no broker, no consumer group,
one event loop. Records are put on the test context's channel as `faust.types.Message`s with the topic,
partition and offset a broker would give them (`tests/agents/harness.py` says why not `AgentTestWrapper.put`).
Nothing of postsale is patched: what the agent sends is captured at the lowest Faust boundary, the app's
producer (`app.producer`, a `faust.transport.producer.Producer` whose broker acknowledges every record at
once). That is where `Topic.send` (actions, dead letters, re-routed records) and the order table's changelog
writes (`send_soon`) end, so the tests also see in which order effects reach the broker relative to each
other and to the input record's acknowledgement. Faust's test context does not route topic sends anywhere
itself: the first send starts the app's own aiokafka producer, and without a broker the agent crashes
(`KafkaConnectionError`, measured).

What this can exercise: decoding and the dead-letter path with its headers and counters, the rules reached
through the agent (the same decisions, ids included, as `postsale replay`), clock ticks `{"now": TIME}` moving
time with no further event, repeats, re-routing of misrouted records, the order table's contents and its
changelog, the order of effects (action, then state, then acknowledgement), a refused send, the counters.

What it cannot, and the real-broker tests cover (tests/integration/test_worker.py, tests/reliability/):
- Held records and event-time alignment across topics. The test context has no consumer assignment and no
  fetch highwater, so every topic counts as caught up (the worker treats "not in a consumer group" as "nothing
  to be behind") and each event is decided as it arrives, in the order of the `put`s: the watermark clock of a
  worker catching up with a backlog is never exercised. `topic_idle_seconds=0` here, so a topic read a moment
  ago does not hold the clock back for a wall-clock second either.
- The live wall clock and the worker's own ticks: `app.timer` does not run; the tests put the ticks.
- Offsets and commits (acknowledgements are observed, nothing commits), rebalances, partition assignment and
  revocation (the deadline index rebuilt from the table; fencing: the group lease is never attached, so the
  fence is always open), table recovery from the changelog, restarts, crashes (SIGKILL), the broker's
  latency, several workers.
- How records are grouped into rounds of the agent: records put back to back may be decided and settled
  together. The tests wait for acknowledgements (`AgentHarness.settle`), never for a number of iterations.
"""

from __future__ import annotations

import asyncio
import gc
import io
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError

from models.actions import dump_action
from models.events import Event, dump_event, topic_of
from models.policy_file import load_policy
from streams.kafka.partitioning import crc32_partition_for, partition_for
from streams.offline.commands import replay_file
from streams.simulator import generate
from streams.worker.codec import decode_state
from streams.worker.routing import Routing
from tests.agents.harness import AgentHarness, running_agent
from tests.factories import DAY, HOUR, T0, US, placed, run_full, shipped

CN = timezone(timedelta(hours=8))
SIM_START = datetime(2026, 3, 2, 8, 0, tzinfo=CN)


def as_dicts(actions: Any) -> list[dict[str, Any]]:
    return [orjson.loads(dump_action(a)) for a in actions]


def simulated(seed: int, orders: int) -> tuple[list[dict[str, Any]], datetime]:
    """A simulated store that takes every playbook scenario once (`tour`), and a time 90 days after its end."""
    events = list(generate(seed=seed, orders=orders, start=SIM_START, orders_per_hour=60, tour=True))
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in events)
    return events, last + timedelta(days=90)


def replayed(tmp_path: Path, events: list[dict[str, Any]], until: datetime) -> tuple[list[dict[str, Any]], Any]:
    """What `postsale replay EVENTS --until UNTIL` decides for the same events (its own function, on a file)."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    out = io.BytesIO()
    result = replay_file(path, load_policy(), out=out, on_bad=lambda bad: pytest.fail(f"bad line {bad}"), until=until)
    return [orjson.loads(line) for line in out.getvalue().splitlines()], result.replayer


def assert_no_state_before_its_actions(h: AgentHarness) -> None:
    """Every state written to the changelog records only actions already handed to the producer."""
    sent_so_far: set[str] = set()
    action_topic = h.topic("actions")
    changelog = h.rt.orders.changelog_topic.get_topic_name()
    for s in h.producer.sent:
        if s.topic == action_topic:
            sent_so_far.add(s.json()["action_id"])
        elif s.topic == changelog and s.value:
            decided = {d.action_id for d in decode_state(s.value).decided}
            assert decided <= sent_so_far, f"state of {s.key!r} records unsent actions {decided - sent_so_far}"


# --- time -----------------------------------------------------------------------------------------------------


async def test_clock_ticks_alone_fire_an_unshipped_orders_deadlines_as_the_rules_do() -> None:
    order = placed("A1", ship_by=T0 + 3 * DAY)
    async with running_agent() as h:
        await h.event(order)
        await h.settle()
        assert h.actions == []

        # "Not shipped 2 days after ship-by" fires once the clock has passed ship-by + 2 days, not at it.
        await h.clock(T0 + 5 * DAY)
        assert h.actions == as_dicts(run_full([order], until=T0 + 5 * DAY).actions)
        assert [(a["type"], a["rule"]) for a in h.actions] == [("expedite", "penalty_points")]

        await h.clock(T0 + 5 * DAY + US)
        expected = as_dicts(run_full([order], until=T0 + 5 * DAY + US).actions)
        assert h.actions == expected
        assert [(a["type"], a["rule"]) for a in h.actions] == [
            ("expedite", "penalty_points"),
            ("expedite", "overdue_expedite"),
        ]
        for sent in h.sent_to("actions"):
            assert sent.key == b"A1"  # keyed by order id, like the inputs
        assert h.metric("postsale_actions_emitted_total", type="expedite", rule="overdue_expedite") == 1
        assert h.metric("postsale_actions_emitted_total", type="expedite", rule="penalty_points") == 1
        assert h.metric("postsale_deadlines_fired_total", rule="overdue_expedite") == 1
        assert h.metric("postsale_events_consumed_total", topic="orders", type="order.placed") == 1

        # Ticks at a time already reached decide nothing again.
        await h.clock(T0 + 5 * DAY + US)
        assert len(h.actions) == 2


async def test_a_simulated_store_gets_the_same_actions_and_states_as_postsale_replay(tmp_path: Path) -> None:
    events, until = simulated(seed=5, orders=40)
    expected, replayer = replayed(tmp_path, events, until)
    assert len({a["rule"] for a in expected}) >= 15, "the sample must cover much of the playbook"
    async with running_agent() as h:
        await h.events(events)
        await h.settle()
        open_before_clock = len(list(h.rt.orders.keys()))
        await h.clock(until)

        live = h.actions
        assert len(live) == len({a["action_id"] for a in live}), "an action was sent twice"
        assert sorted(live, key=lambda a: a["action_id"]) == sorted(expected, key=lambda a: a["action_id"])
        # Only the end-of-input tick reached the time at which finished orders are forgotten (60 days on).
        assert open_before_clock == 40 and len(replayer.orders) < open_before_clock

        # The order table holds what replay holds: the orders still open, in the same state.
        table = {key: h.order(key) for key in h.rt.orders.keys()}
        assert {k: v for k, v in table.items() if v is not None} == replayer.orders
        assert_no_state_before_its_actions(h)

        # The counters follow what was consumed and sent.
        by_type = Counter(e["type"] for e in events)
        for event_type, n in by_type.items():
            topic = h.topic(topic_of(event_type))
            assert h.metric("postsale_events_consumed_total", topic=topic, type=event_type) == n
        for (kind, rule), n in Counter((a["type"], a["rule"]) for a in live).items():
            assert h.metric("postsale_actions_emitted_total", type=kind, rule=rule) == n
        refunds = Counter(
            (a["party"], a["currency"], a["store_id"]) for a in live if a["type"] in ("refund", "abandon_return")
        )
        assert refunds, "the sample must refund someone"
        for (party, currency, store), n in refunds.items():
            assert h.metric("postsale_refunds_total", party=party, currency=currency, store=store) == n
        assert h.metric("postsale_invalid_records_total", topic="orders", reason="invalid_json") == 0


# --- state and effects ------------------------------------------------------------------------------------------


async def test_the_order_table_holds_the_state_after_each_event() -> None:
    events: list[Event] = [placed("A1", ship_by=T0 + 3 * DAY), shipped("A1", at=T0 + DAY)]
    async with running_agent() as h:
        first = await h.event(events[0])
        await h.settle()
        state = h.order("A1")
        assert state == run_full(events[:1]).state("A1")
        assert state is not None and len(state.deadlines) > 0
        writes = [s for s in h.changelog if s.key == b'"A1"']
        assert len(writes) == 1 and writes[0].partition == first.partition  # the changelog of the event's partition

        await h.event(events[1])
        await h.settle()
        assert h.order("A1") == run_full(events).state("A1")
        assert h.order("A1") != state
        assert h.order("B1") is None


async def test_effects_reach_the_producer_in_order_action_then_state_then_acknowledgement() -> None:
    # A wholesale 1688 order gets the non-quality-return-cap notice at placement: one event, one action.
    order = placed("W1", marketplace="1688", wholesale=True, quantity=50, amount="500.00")
    expected = as_dicts(run_full([order]).actions)
    assert [a["type"] for a in expected] == ["notify_customer"]
    async with running_agent() as h:
        record = await h.event(order)
        await h.settle()
        index = h.fed.index(record)
        sends = [s for s in h.producer.sent if s.key in (b"W1", b'"W1"')]
        assert [s.topic for s in sends] == [h.topic("actions"), h.rt.orders.changelog_topic.get_topic_name()]
        action, state = sends
        assert action.json() == expected[0]
        assert action.value == dump_action(run_full([order]).actions[0])
        assert decode_state(state.value).decided[0].action_id == expected[0]["action_id"]
        assert index not in action.acked and index not in state.acked, "acknowledged before its effects"
        assert record.acked


async def test_a_send_the_broker_refuses_stores_nothing_and_acknowledges_nothing() -> None:
    order = placed("W2", marketplace="1688", wholesale=True, quantity=50, amount="500.00")
    async with running_agent() as h:
        h.producer.refuse_topics.add(h.topic("actions"))
        record = await h.event(order)
        with pytest.raises(AssertionError, match="the agent crashed: KafkaTimeoutError"):
            await h.settle()
        assert not record.acked  # so the consumer group would deliver it again
        assert h.order("W2") is None
        assert h.changelog == []
        # Faust also sets the refusal on its own record of the send (a FutureMessage nobody awaits), which sits in
        # a reference cycle with the exception's traceback. Collect it now, inside this test's loop, rather than
        # whenever the garbage collector next runs (in CPython 3.11.7 a report from a finalizer that runs during
        # a later `ast.parse`, say pytest rewriting a module, fails it with "AST constructor recursion depth
        # mismatch").
        loop = asyncio.get_running_loop()
        reports: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, context: reports.append(context))
        gc.collect()
        loop.set_exception_handler(None)
        assert all(isinstance(r.get("exception"), KafkaTimeoutError) for r in reports), reports


async def test_a_repeated_event_changes_nothing() -> None:
    events, _ = simulated(seed=6, orders=8)
    async with running_agent() as h:
        await h.events(events)
        await h.settle()
        actions = h.actions
        table = {key: h.rt.orders[key] for key in h.rt.orders.keys()}
        assert actions, "the sample must decide something"

        await h.events(events)  # an at-least-once producer sends everything again
        await h.settle()
        assert h.actions == actions, "a repeated event sent actions"
        assert {key: h.rt.orders[key] for key in h.rt.orders.keys()} == table
        assert h.dead_letters == []
        assert all(m.acked for m in h.fed)
        by_topic = Counter(h.topic(topic_of(e["type"])) for e in events)
        for topic, n in by_topic.items():
            assert h.metric("postsale_duplicate_events_total", topic=topic) == n


# --- bad records ------------------------------------------------------------------------------------------------


def _good(**changes: Any) -> bytes:
    body = orjson.loads(dump_event(placed("A1", event_id="bad-1")))
    body.update(changes)
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


FAR_FUTURE = "2099-01-01T00:00:00+00:00"
BAD_RECORDS = [
    # (case, logical topic, key, value, reason, detail contains)
    ("not JSON", "orders", b"A1", b"{not json", "invalid_json", "Invalid JSON"),
    ("not text", "orders", b"A1", b"\xff\xfe\x00garbage", "invalid_json", "Invalid JSON"),
    ("a required field missing", "orders", b"A1", _good(store_id=None), "invalid_event", "store_id: Field required"),
    ("an unknown type", "orders", b"A1", _good(type="order.teleported"), "invalid_event", "not a known event type"),
    ("key is not the order id", "orders", b"B2", _good(), "key_mismatch", "order_id"),
    ("no key", "orders", None, _good(), "key_mismatch", "order_id"),
    ("an order event on shipments", "shipments", b"A1", _good(), "wrong_topic", "does not belong on shipments"),
    ("from the far future", "orders", b"A1", _good(occurred_at=FAR_FUTURE), "future_timestamp", "ahead"),
]


async def test_a_record_of_an_order_not_placed_waits_for_it_then_is_dead_lettered() -> None:
    """As replay does (rules.intake): unacknowledged while it waits, applied if the order is placed within the
    policy's grace, dead-lettered with its reason once the clock has passed the grace."""
    async with running_agent() as h:
        orphan = await h.put(h.topic("shipments"), dump_event(shipped("Z9", at=T0)), b"Z9")
        early_scan = await h.put(h.topic("shipments"), dump_event(shipped("A1", at=T0 - HOUR)), b"A1")
        await h.event(placed("A1", at=T0, ship_by=T0 + DAY))
        await h.settle(waiting=[orphan])
        assert not orphan.acked and h.dead_letters == [], "waiting for its order.placed"
        assert early_scan.acked and h.order("A1") is not None and h.order("A1").stage != "placed"
        await h.clock(T0 + (h.rt.policy.intake.unplaced_grace_hours + 1) * HOUR)
        (dead,) = h.dead_letters
        assert dead.value == orphan.value and dead.headers["postsale.reason"] == b"unknown_order"
        assert b"no order.placed within 24 h" in dead.headers["postsale.detail"] and orphan.acked
        overdue = [a for a in h.actions if a.rule in ("overdue_expedite", "overdue_switch")]
        assert overdue == [], "the early scan shipped the order"


@pytest.mark.parametrize(
    ("logical", "key", "value", "reason", "detail"),
    [case[1:] for case in BAD_RECORDS],
    ids=[case[0] for case in BAD_RECORDS],
)
async def test_a_bad_record_is_dead_lettered_with_its_reason_and_the_stream_goes_on(
    logical: str, key: bytes | None, value: bytes, reason: str, detail: str
) -> None:
    async with running_agent() as h:
        topic = h.topic(logical)
        bad = await h.put(topic, value, key)
        good = placed("G1", ship_by=T0 + 3 * DAY)
        await h.event(good)
        await h.settle()

        assert len(h.dead_letters) == 1
        dead = h.dead_letters[0]
        assert (dead.key, dead.value) == (key, value), "the original key and bytes"
        assert dead.headers["postsale.reason"] == reason.encode()
        assert detail.encode() in dead.headers["postsale.detail"]
        assert dead.headers["postsale.source.topic"] == topic.encode()
        assert dead.headers["postsale.source.partition"] == str(bad.partition).encode()
        assert dead.headers["postsale.source.offset"] == str(bad.offset).encode()
        assert h.fed.index(bad) not in dead.acked and bad.acked  # dead-lettered, then acknowledged
        assert h.metric("postsale_invalid_records_total", topic=topic, reason=reason) == 1
        assert h.actions == [] and h.order("A1") is None and h.order("Z9") is None
        # The stream went on: the next record was decided.
        assert h.order("G1") == run_full([good]).state("G1")


async def test_a_bad_record_read_again_is_not_dead_lettered_twice() -> None:
    async with running_agent() as h:
        topic, raw = h.topic("orders"), b"{not json"
        first = await h.put(topic, raw, b"A1")
        await h.settle()
        # The same record again (same topic, partition and offset), as after a seek back to the committed offset.
        again = await h.put(topic, raw, b"A1", partition=first.partition, offset=first.offset)
        other = await h.put(topic, raw, b"A1", partition=first.partition)  # a new record
        await h.settle()
        assert again.acked and other.acked
        assert [d.headers["postsale.source.offset"] for d in h.dead_letters] == [
            str(first.offset).encode(),
            str(other.offset).encode(),
        ]
        assert h.metric("postsale_invalid_records_total", topic=h.topic("orders"), reason="invalid_json") == 2


async def test_a_misrouted_record_is_sent_on_to_its_partition_and_decided_there() -> None:
    order = placed("W3", marketplace="1688", wholesale=True, quantity=50, amount="500.00")
    async with running_agent() as h:
        home = partition_for(b"W3", h.settings.partitions)
        wrong = (home + 1) % h.settings.partitions
        record = await h.put(h.topic("orders"), dump_event(order), b"W3", partition=wrong)
        await h.settle()

        assert h.actions == [] and h.order("W3") is None, "decided on the wrong partition"
        (copy,) = h.sent_to("orders")
        assert (copy.key, copy.value, copy.partition) == (b"W3", dump_event(order), home)
        assert copy.headers["postsale.rerouted-from"] == str(wrong).encode()
        assert record.acked and h.fed.index(record) not in copy.acked
        assert h.metric("postsale_misrouted_events_total", topic=h.topic("orders")) == 1

        # The broker would deliver the copy on the home partition: there it is decided.
        await h.put(copy.topic, copy.value, copy.key, partition=copy.partition, headers=list(copy.headers.items()))
        await h.settle()
        assert h.actions == as_dicts(run_full([order]).actions)
        assert h.order("W3") == run_full([order]).state("W3")


async def test_a_misrouted_record_is_dead_lettered_when_so_configured() -> None:
    async with running_agent(misrouted="dead_letter") as h:
        home = partition_for(b"W4", h.settings.partitions)
        await h.put(h.topic("orders"), dump_event(placed("W4")), b"W4", partition=(home + 1) % h.settings.partitions)
        await h.settle()
        (dead,) = h.dead_letters
        assert dead.headers["postsale.reason"] == b"misrouted"
        assert h.sent_to("orders") == [] and h.order("W4") is None
        assert h.metric("postsale_invalid_records_total", topic=h.topic("orders"), reason="misrouted") == 1
        assert h.metric("postsale_misrouted_events_total", topic=h.topic("orders")) == 1


async def test_a_malformed_tick_only_nudges() -> None:
    order = placed("A1", ship_by=T0 + 3 * DAY)
    async with running_agent() as h:
        await h.event(order)
        for body in (b"not json", b'{"now": "yesterday"}', b"[]"):
            for p in range(h.settings.partitions):
                await h.put(h.topic("ticks"), body, b"clock", partition=p)
        await h.settle()
        assert h.actions == [] and h.dead_letters == []
        await h.clock(T0 + 5 * DAY + US)  # the clock still moves on a good tick
        assert [a["rule"] for a in h.actions] == ["penalty_points", "overdue_expedite"]


# --- copies of misplaced events in flight ---------------------------------------------------------------------


async def _announce_copy(h: AgentHarness, event: Event, partition: int) -> Any:
    body = {"copy": {"id": f"{h.topic(topic_of(event.type))}/{event.event_id}", "at": event.occurred_at.isoformat()}}
    return await h.put(h.topic("ticks"), orjson.dumps(body), b"copy", partition=partition)


async def _ticks_until(h: AgentHarness, now: datetime) -> list[Any]:
    """End-of-input ticks on every partition, waited for (not `settle`: a notice stays unacknowledged)."""
    body = orjson.dumps({"now": now.isoformat()})
    ticks = [await h.put(h.topic("ticks"), body, b"clock", partition=p) for p in range(h.settings.partitions)]
    for _ in range(2000):
        if all(t.acked for t in ticks):
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.05)
    return ticks


async def test_a_copy_announced_in_flight_holds_its_partitions_clock_until_it_arrives() -> None:
    order = placed("A1", ship_by=T0 + 3 * DAY)
    ship = shipped("A1", at=T0 + DAY)
    async with running_agent(reroute_grace_seconds=60) as h:
        home = partition_for(b"A1", h.settings.partitions)
        await h.event(order)
        await h.settle()
        notice = await _announce_copy(h, ship, home)
        await _ticks_until(h, T0 + 6 * DAY)
        # Without the hold the clock would be at +6 days: "not shipped" expedites for an order shipped on day 1.
        assert h.actions == []
        assert not notice.acked, "a notice is acknowledged with its copy (a restarted worker holds again)"
        assert h.metric("postsale_reroute_holds") == 1

        copy = await h.put(
            h.topic("shipments"), dump_event(ship), b"A1", partition=home, headers=[("postsale.rerouted-from", b"9")]
        )
        await h.settle()
        assert copy.acked and notice.acked
        assert h.actions == as_dicts(run_full([order, ship], until=T0 + 6 * DAY).actions)
        assert h.metric("postsale_late_events_total", topic=h.topic("shipments")) == 0


async def test_a_copy_that_does_not_come_holds_the_clock_only_for_the_grace() -> None:
    order = placed("A1", ship_by=T0 + 3 * DAY)
    ship = shipped("A1", at=T0 + DAY)
    async with running_agent(reroute_grace_seconds=0.3) as h:
        home = partition_for(b"A1", h.settings.partitions)
        await h.event(order)
        await h.settle()
        notice = await _announce_copy(h, ship, home)
        await _ticks_until(h, T0 + 6 * DAY)
        assert h.actions == []
        await asyncio.sleep(0.4)
        await h.clock(T0 + 6 * DAY)  # the next ticks after the grace: the clock goes on, the notice is let go
        assert notice.acked
        assert h.actions == as_dicts(run_full([order], until=T0 + 6 * DAY).actions) != []
        assert h.metric("postsale_reroute_grace_expired_total") == 1


async def test_a_record_where_crc32_puts_its_key_waits_until_the_setting_is_confirmed() -> None:
    order = placed("A1", ship_by=T0 + 3 * DAY)
    ship = shipped("A1", at=T0 + DAY)
    async with running_agent() as h:
        n = h.settings.partitions
        home, crc32_home = partition_for(b"A1", n), crc32_partition_for(b"A1", n)
        assert home != crc32_home
        # A shipment where librdkafka puts it, before anything said the producers use murmur2: not guessed.
        first = await h.put(h.topic("shipments"), dump_event(ship), b"A1", partition=crc32_home)
        await asyncio.sleep(0.05)
        assert not first.acked and h.sent_to("shipments") == []
        # The order where murmur2 puts it confirms the setting: the shipment is sent on, then acknowledged.
        await h.event(order)
        await asyncio.sleep(0.05)
        (copy,) = h.sent_to("shipments")
        assert copy.partition == home and first.acked


async def test_an_order_already_decided_confirms_the_setting_after_a_restart() -> None:
    order = placed("A1", ship_by=T0 + 3 * DAY)
    ship = shipped("A1", at=T0 + DAY)
    async with running_agent() as h:
        n = h.settings.partitions
        await h.event(order)
        await h.settle()
        h.rt.routing = Routing(h.settings, h.rt.metrics, h.rt.log)  # what a restarted worker knows: the table
        await h.put(h.topic("shipments"), dump_event(ship), b"A1", partition=crc32_partition_for(b"A1", n))
        await asyncio.sleep(0.05)
        (copy,) = h.sent_to("shipments")
        assert copy.partition == partition_for(b"A1", n), "sent on at once: the order was decided at its home"
