"""The Faust fixes that are pure asyncio (streams/kafka/faust_fixes.py), and the Faust version they were written for.

The fixes to recovery, commits, seeks and fencing need a broker and are proven
by tests/integration and tests/reliability; `deliver_eagerly` (fix 6) is
proven here with a real asyncio queue, with Faust's own flow control: a
delivery that can complete must complete, one blocked on a full buffer must
wait for room, and one blocked when the flow is suspended must be abandoned,
exactly as `wait_first(callback(message), suspend_flow.wait())` does.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect

import faust
from faust.transport.consumer import Consumer
from mode import Service
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams.kafka.faust_fixes import PINNED_FAUST, HeldHeadConsumer, deliver_eagerly

# The source of Faust's `Consumer._drain_messages` that HeldHeadConsumer._drain_messages copies (faust-streaming
# 0.15.3). If an upgrade changes it, this fails: compare the two and carry the change over.
DRAIN_MESSAGES = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


def test_the_fixes_are_for_the_faust_version_installed() -> None:
    assert faust.__version__.startswith(PINNED_FAUST), (
        f"streams/kafka/faust_fixes.py patches faust-streaming {PINNED_FAUST}x; {faust.__version__} is installed: "
        "re-check every fix against it"
    )


def test_the_copied_consumer_loop_is_still_fausts() -> None:
    source = inspect.getsource(Consumer._drain_messages)
    assert (
        "await self.wait_first(\n                                callback(message), self.suspend_flow.wait()" in source
    )
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == DRAIN_MESSAGES, "Faust's Consumer._drain_messages changed: update HeldHeadConsumer's copy"
    assert HeldHeadConsumer._drain_messages is not Consumer._drain_messages


class Waiter(Service):
    """A mode Service for its `wait_first`, as Faust's consumer is one."""


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_a_delivery_with_room_completes_without_a_task() -> None:
    async def scenario() -> list[int]:
        flow = FlowControlEvent()
        flow.resume()  # a new FlowControlEvent starts suspended; Faust resumes it once partitions are assigned
        queue: FlowControlQueue[int] = FlowControlQueue(maxsize=10, flow_control=flow)
        suspended = asyncio.Event()
        tasks_before = len(asyncio.all_tasks())
        created: list[int] = []

        async def wait_first(*_: object) -> None:
            created.append(1)

        for i in range(5):
            await deliver_eagerly(queue.put(i), suspended.wait, wait_first)
        assert len(asyncio.all_tasks()) == tasks_before
        assert not created, "a delivery that did not have to wait went through wait_first"
        return [queue.get_nowait() for _ in range(5)]

    assert run(scenario()) == [0, 1, 2, 3, 4]


def test_a_delivery_to_a_full_buffer_waits_for_room() -> None:
    async def scenario() -> list[int]:
        flow = FlowControlEvent()
        flow.resume()
        queue: FlowControlQueue[int] = FlowControlQueue(maxsize=1, flow_control=flow)
        suspended = asyncio.Event()
        waiter = Waiter()
        await deliver_eagerly(queue.put(1), suspended.wait, waiter.wait_first)
        second = asyncio.ensure_future(deliver_eagerly(queue.put(2), suspended.wait, waiter.wait_first))
        await asyncio.sleep(0.01)
        assert not second.done(), "delivered past a full buffer"
        first = await queue.get()
        await asyncio.wait_for(second, 1)
        return [first, queue.get_nowait()]

    assert run(scenario()) == [1, 2]


def test_a_delivery_blocked_when_the_flow_is_suspended_is_abandoned() -> None:
    async def scenario() -> tuple[bool, int]:
        flow = FlowControlEvent()
        flow.resume()
        queue: FlowControlQueue[int] = FlowControlQueue(maxsize=10, flow_control=flow)
        flow.suspend()  # the consumer's flow control, as Faust wires it: put() waits while it is suspended
        suspended = asyncio.Event()
        waiter = Waiter()
        blocked = asyncio.ensure_future(deliver_eagerly(queue.put(7), suspended.wait, waiter.wait_first))
        await asyncio.sleep(0.01)
        assert not blocked.done(), "delivered while the flow was suspended"
        suspended.set()  # the rebalance suspends the consumer's flow: the delivery is given up
        await asyncio.wait_for(blocked, 1)
        flow.resume()
        await asyncio.sleep(0.01)
        return blocked.done(), queue.qsize()

    done, size = run(scenario())  # type: ignore[misc]
    assert done
    assert size == 0, "an abandoned delivery still reached the buffer after the flow resumed"


def test_an_error_in_the_delivery_reaches_the_consumer() -> None:
    async def failing() -> None:
        raise ValueError("bad message")

    async def scenario() -> None:
        await deliver_eagerly(failing(), asyncio.Event().wait, Waiter().wait_first)

    try:
        run(scenario())
    except ValueError as exc:
        assert str(exc) == "bad message"
    else:
        raise AssertionError("the delivery's error was swallowed")


def test_the_configured_fetch_wait_reaches_the_kafka_consumer() -> None:
    from models.policy_file import load_policy
    from streams.settings import Settings
    from streams.worker.app import build

    async def scenario() -> int:
        rt = build(Settings(fetch_max_wait_ms=40, web_enabled=False), load_policy(None))
        consumer = rt.app.consumer._thread._create_worker_consumer(rt.app.transport)
        return int(consumer._fetch_max_wait_ms)

    assert run(scenario()) == 40  # Faust alone: 1,500


def test_changelog_ends_with_no_broker_answering_fail_as_a_kafka_error() -> None:
    """What recovery retries on (a network cut during a rebalance) instead of crashing the worker."""
    import socket
    from types import SimpleNamespace

    from aiokafka.errors import KafkaError
    from faust.types import TP
    from yarl import URL

    from streams.kafka.faust_fixes import fetched_log_ends

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    app = SimpleNamespace(
        conf=SimpleNamespace(broker=[URL(f"kafka://127.0.0.1:{port}")], broker_credentials=None, ssl_context=None)
    )

    async def fetch() -> None:
        await fetched_log_ends(app, {TP("orders-changelog", 0): 0})

    try:
        asyncio.run(fetch())
    except KafkaError:
        return
    raise AssertionError("a broker that cannot be reached must raise a KafkaError")
