"""The order agent in Faust's test context, with what it sends captured at the app's producer.

`running_agent()` builds the worker exactly as `postsale worker` does (`streams.app.build`), replaces the
app's producer with a `RecordingProducer` and runs the order agent under `Agent.test_context()`. Records go in
through the test context's channel as `faust.types.Message`s carrying the topic, partition and offset a broker
would give them; what comes out is read where a user would see it: the records handed to the producer
(actions, dead letters, re-routed records, the order table's changelog), the order table, the acknowledgements
of the input records and the Prometheus registry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka.errors import KafkaTimeoutError
from faust.transport.producer import Producer
from faust.types import TP, Message
from faust.types.tuples import FutureMessage, RecordMetadata
from prometheus_client import CollectorRegistry

from models.events import Event, dump_event, topic_of
from models.policy import Policy
from models.policy_file import load_policy
from models.state import OrderState
from streams.kafka.partitioning import partition_for
from streams.settings import Settings
from streams.worker.app import Runtime, build
from streams.worker.codec import decode_state

SETTLE_TIMEOUT_S = 5.0
RECORD_TIMESTAMP = 1_772_416_800.0  # the broker timestamp of every record put (the agent does not read it)


@dataclass(frozen=True)
class Sent:
    """One record handed to the producer, and which input records (indices into `fed`) were acknowledged then."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None
    headers: dict[str, bytes]
    acked: frozenset[int]

    def json(self) -> Any:
        return orjson.loads(self.value)


class RecordingProducer(Producer):
    """Faust's producer interface (`faust.transport.producer.Producer`) with a broker that acknowledges at once.

    `send` and `send_and_wait` are what `Topic.send` ends in; `send_soon` is what a table's changelog write ends
    in (Faust buffers it; here it is recorded the moment the table hands it over). `key_partition` hashes like
    aiokafka (murmur2). A send to a topic in `refuse_topics` fails as a broker that never acknowledges does
    (`KafkaTimeoutError`) and is not recorded."""

    def __init__(self, app: Any, on_send: Any) -> None:
        super().__init__(app.transport)
        self.sent: list[Sent] = []
        self.refuse_topics: set[str] = set()
        self._on_send = on_send

    async def on_start(self) -> None:
        """No buffer service: nothing is buffered (see `send_soon`)."""

    def _record(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None, headers: Any
    ) -> RecordMetadata:
        items = headers.items() if isinstance(headers, Mapping) else (headers or [])
        self.sent.append(
            Sent(topic, key, value or b"", partition, {str(k): bytes(v) for k, v in items}, self._on_send())
        )
        offset = sum(1 for s in self.sent if s.topic == topic and s.partition == partition) - 1
        tp = TP(topic, partition if partition is not None else 0)
        return RecordMetadata(topic, tp.partition, tp, offset, RECORD_TIMESTAMP, 0)

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        fut: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        if topic in self.refuse_topics:
            fut.set_exception(KafkaTimeoutError())
        else:
            fut.set_result(self._record(topic, key, value, partition, headers))
        return fut

    async def send_and_wait(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> RecordMetadata:
        return await (await self.send(topic, key, value, partition, timestamp, headers))

    def send_soon(self, fut: FutureMessage) -> None:
        m = fut.message
        fut.set_result(self._record(m.channel.get_topic_name(), m.key, m.value, m.partition, m.headers))

    def key_partition(self, topic: str, key: bytes) -> TP:
        return TP(topic, partition_for(key, self.app.conf.topic_partitions))


class AgentHarness:
    """Records in, effects out: the order agent of one `build()` running in Faust's test context."""

    def __init__(self, rt: Runtime, registry: CollectorRegistry, test_agent: Any) -> None:
        self.rt = rt
        self.settings = rt.settings
        self.registry = registry
        self.agent = test_agent
        self.fed: list[Message] = []
        self._offsets: dict[tuple[str, int], int] = {}
        self.producer = RecordingProducer(rt.app, self._acked_now)
        rt.app.producer = self.producer

    def _acked_now(self) -> frozenset[int]:
        return frozenset(i for i, m in enumerate(self.fed) if m.acked)

    # --- in ---------------------------------------------------------------------------------------------------

    async def put(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        offset: int | None = None,
    ) -> Message:
        """One record as the consumer would deliver it: on `topic`, at the next offset of its partition.

        The partition defaults to the key's murmur2 partition (where a well-behaved producer puts it); an
        explicit `offset` delivers a record again (as after a seek back to the committed offset).
        `AgentTestWrapper.put` is not used: it names every message after the agent's channel, which for a
        channel over several topics is "<internal>", and the agent tells orders, shipments, disputes and
        ticks apart by the record's topic."""
        if partition is None:
            partition = partition_for(key, self.settings.partitions) if key is not None else 0
        if offset is None:
            offset = self._offsets.get((topic, partition), 0)
        self._offsets[(topic, partition)] = max(offset + 1, self._offsets.get((topic, partition), 0))
        message = Message(
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp=RECORD_TIMESTAMP,
            timestamp_type=0,
            headers=headers,
            key=key,
            value=value,
            checksum=None,
            generation_id=self.rt.app.consumer_generation_id,
        )
        channel = self.agent.stream().channel
        await channel.put(await channel.decode(message))
        self.fed.append(message)
        return message

    async def event(self, event: Event | dict[str, Any], topic: str | None = None) -> Message:
        """An event on its topic (or `topic`), keyed by its order id."""
        raw = dump_event(event) if not isinstance(event, dict) else orjson.dumps(event)
        body = orjson.loads(raw)
        return await self.put(topic or self.topic(topic_of(body["type"])), raw, body["order_id"].encode())

    async def events(self, events: Iterable[Event | dict[str, Any]]) -> list[Message]:
        return [await self.event(e) for e in events]

    def topic(self, logical: str) -> str:
        s = self.settings
        return {
            "orders": s.topic_orders,
            "shipments": s.topic_shipments,
            "disputes": s.topic_disputes,
            "ticks": s.topic_ticks,
            "actions": s.topic_actions,
            "dead_letter": s.topic_dead_letter,
        }[logical]

    async def clock(self, now: datetime) -> None:
        """An end-of-input tick `{"now": now}` on every partition of the ticks topic, then `settle()`."""
        body = orjson.dumps({"now": now.isoformat()})
        for p in range(self.settings.partitions):
            await self.put(self.topic("ticks"), body, b"clock", partition=p)
        await self.settle()

    async def settle(self, waiting: Iterable[Message] = ()) -> None:
        """Wait until the agent has finished with every record put so far (but `waiting`: records expected to
        stay unacknowledged, such as those of an order not placed yet).

        The agent acknowledges a record last, after its actions were sent and its state written; but the
        deadlines a record's event time lets fire are decided after that acknowledgement. So a bare tick (what
        the live worker's timer sends each second: no new time, it lets due deadlines fire) goes in last, and
        its acknowledgement, after the records before it, is the barrier. Polls with a deadline; fails with the
        records still unacknowledged, or with the agent's crash."""
        await self.put(self.topic("ticks"), b"{}", b"tick", partition=0)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            crash = self.agent.crash_reason
            if crash is not None:
                raise AssertionError(f"the agent crashed: {crash!r}") from crash
            pending = [m for m in self.fed if not m.acked and not any(m is w for w in waiting)]
            if not pending:
                return
            if time.monotonic() > deadline:
                where = [(m.topic, m.partition, m.offset) for m in pending[:5]]
                raise AssertionError(f"{len(pending)} records not acknowledged after {SETTLE_TIMEOUT_S} s: {where}")
            await asyncio.sleep(0.001)

    # --- out --------------------------------------------------------------------------------------------------

    def sent_to(self, logical: str) -> list[Sent]:
        name = self.topic(logical)
        return [s for s in self.producer.sent if s.topic == name]

    @property
    def actions(self) -> list[dict[str, Any]]:
        """The actions sent, in the order they were sent."""
        return [s.json() for s in self.sent_to("actions")]

    @property
    def dead_letters(self) -> list[Sent]:
        return self.sent_to("dead_letter")

    @property
    def changelog(self) -> list[Sent]:
        name = self.rt.orders.changelog_topic.get_topic_name()
        return [s for s in self.producer.sent if s.topic == name]

    def order(self, order_id: str) -> OrderState | None:
        raw = self.rt.orders.get(order_id)
        return decode_state(raw) if raw is not None else None

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def agent_settings(**overrides: Any) -> Settings:
    """A worker's settings for the test context: time from the events and the ticks only, no web server.

    `topic_idle_seconds=0`: no caught-up topic holds the clock back for a wall-clock second after its last
    record (in the test context every topic is caught up the moment its record is read)."""
    values: dict[str, Any] = {
        "app_id": "postsale-agent-test",
        "partitions": 4,
        "clock_mode": "events",
        "topic_idle_seconds": 0.0,
        "web_enabled": False,
        "store": "memory://",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_agent(policy: Policy | None = None, **overrides: Any) -> AsyncIterator[AgentHarness]:
    """`build()` a worker (fresh Prometheus registry) and run its order agent in Faust's test context."""
    registry = CollectorRegistry()
    rt = build(agent_settings(**overrides), policy if policy is not None else load_policy(), registry=registry)
    agent = rt.order_agent  # type: ignore[attr-defined]
    async with agent.test_context() as test_agent:
        yield AgentHarness(rt, registry, test_agent)
