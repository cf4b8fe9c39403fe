"""Split-brain fencing: the lease a heartbeat proves, and the rebalance generation (no broker needed).

The coordinator here is a stand-in with aiokafka's shape (`member_id`, `_send_req`); the behaviour under a
real broker freeze is tests/reliability/test_pause.py.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.protocol.group import HeartbeatRequest, SyncGroupRequest

from streams.kafka.fencing import Fence, GroupLease, Overtaken


@dataclass
class Answer:
    error_code: int


@dataclass
class Coordinator:
    member_id: str = "m-1"
    answers: list[int] = field(default_factory=list)

    async def _send_req(self, request: Any) -> Answer:
        return Answer(self.answers.pop(0))


class Flow:
    def __init__(self) -> None:
        self.active = True

    def is_active(self) -> bool:
        return self.active


class App:
    def __init__(self) -> None:
        self.rebalance_generation = 0
        self.flow_control = Flow()


def heartbeat() -> Any:
    return HeartbeatRequest("group", 1, "m-1")


def test_an_answered_heartbeat_proves_membership_from_when_it_was_sent() -> None:
    lease = GroupLease(session_timeout=6.0)
    coordinator = Coordinator(answers=[0])
    lease.attach(coordinator)
    assert not lease.holds()  # attached, nothing proven yet: no decision
    before = time.monotonic()
    asyncio.run(coordinator._send_req(heartbeat()))
    assert lease.proven_at is not None and lease.proven_at >= before
    assert lease.holds()
    assert lease.holds(now=lease.proven_at + 3.9)
    assert not lease.holds(now=lease.proven_at + 4.1)  # the last third of the session is for effects to land


def test_a_rebalancing_group_still_counts_the_member_but_an_unknown_member_does_not() -> None:
    lease = GroupLease(session_timeout=6.0)
    coordinator = Coordinator(answers=[27, 25])  # REBALANCE_IN_PROGRESS, then UNKNOWN_MEMBER_ID
    lease.attach(coordinator)
    asyncio.run(coordinator._send_req(heartbeat()))
    assert lease.holds()
    proven = lease.proven_at
    asyncio.run(coordinator._send_req(heartbeat()))
    assert lease.proven_at == proven  # an error proves nothing
    coordinator.member_id = ""  # what aiokafka's reset_generation() does on UNKNOWN_MEMBER_ID
    assert not lease.holds()


def test_sync_group_proves_membership_other_requests_do_not() -> None:
    lease = GroupLease(session_timeout=6.0)
    coordinator = Coordinator(answers=[0, 0])
    lease.attach(coordinator)
    asyncio.run(coordinator._send_req(object()))  # an offset commit, say
    assert lease.proven_at is None
    asyncio.run(coordinator._send_req(SyncGroupRequest("group", 1, "m-1", None, [])))
    assert lease.holds()


def test_a_decision_overtaken_by_a_rebalance_may_not_go_on() -> None:
    app = App()
    fence = Fence(app, lease=None)
    ticket = fence.ticket()
    asyncio.run(fence.hold(ticket))  # same generation: go on
    app.rebalance_generation += 1
    with pytest.raises(Overtaken):
        asyncio.run(fence.hold(ticket))


def test_a_lapsed_lease_waits_for_the_next_heartbeat() -> None:
    app = App()
    lease = GroupLease(session_timeout=6.0)
    coordinator = Coordinator(answers=[0, 0])
    lease.attach(coordinator)
    asyncio.run(coordinator._send_req(heartbeat()))
    assert lease.proven_at is not None
    lease.proven_at -= 5.0  # the broker froze: no answer for 5 s
    fence = Fence(app, lease)

    async def scenario() -> float:
        waiting = asyncio.create_task(fence.hold(fence.ticket()))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # no decision on a lapsed lease
        await coordinator._send_req(heartbeat())  # the broker answers again
        await asyncio.wait_for(waiting, 1.0)
        return time.monotonic()

    asyncio.run(scenario())


def test_a_lapsed_lease_then_a_rebalance_means_the_decision_is_dropped() -> None:
    app = App()
    lease = GroupLease(session_timeout=6.0)
    lease.attach(Coordinator())
    fence = Fence(app, lease)

    async def scenario() -> None:
        waiting = asyncio.create_task(fence.hold(fence.ticket()))
        await asyncio.sleep(0.1)
        app.rebalance_generation += 1  # the session was lost: the group rebalanced without us
        with pytest.raises(Overtaken):
            await asyncio.wait_for(waiting, 1.0)

    asyncio.run(scenario())


def test_records_reaching_the_agent_while_the_flow_is_suspended_are_left_for_the_seek() -> None:
    app = App()
    lease = GroupLease(session_timeout=6.0)
    fence = Fence(app, lease)
    app.flow_control.active = False
    assert fence.flowing()  # outside any consumer group nothing is fenced
    lease.attach(Coordinator())
    assert not fence.flowing()


def test_the_worker_says_when_it_loses_the_coordinator_stops_deciding_and_resumes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from prometheus_client import CollectorRegistry

    from streams.settings import Settings
    from streams.worker.metrics import Metrics

    registry = CollectorRegistry()
    metrics = Metrics.create(registry, Settings())
    lease = GroupLease(session_timeout=6.0)
    coordinator = Coordinator(answers=[0, 0])
    lease.attach(coordinator)
    fence = Fence(App(), lease, metrics)
    get = registry.get_sample_value
    assert fence.watch() is False  # attached, never proven: not deciding yet, and nothing to report
    assert get("postsale_deciding_paused_total") == 0.0

    asyncio.run(coordinator._send_req(heartbeat()))
    proven = lease.proven_at
    assert proven is not None
    caplog.set_level("WARNING", logger="postsale.fencing")
    assert fence.watch(now=proven + 1.0) is True
    assert fence.watch(now=proven + 2.5) is True  # a third of the session without an answer: coordinator lost
    assert get("postsale_group_coordinator_lost_total") == 1.0
    assert fence.watch(now=proven + 4.5) is False  # two thirds: deciding stops
    assert fence.watch(now=proven + 9.0) is False  # reported once per stop
    assert get("postsale_deciding_paused_total") == 1.0 and get("postsale_deciding_stopped") == 1.0

    asyncio.run(coordinator._send_req(heartbeat()))  # the network is back: a heartbeat answers
    assert fence.watch() is True
    assert get("postsale_deciding_resumed_total") == 1.0 and get("postsale_deciding_stopped") == 0.0
    assert get("postsale_group_coordinator_lost_total") == 1.0
    said = [r.getMessage().split(":")[0] for r in caplog.records]
    assert said == [
        "group coordinator lost",
        "deciding stopped",
        "group coordinator answering again",
        "deciding resumed",
    ]


def test_a_refused_or_failed_request_means_the_coordinator_is_lost_at_once() -> None:
    lease = GroupLease(session_timeout=6.0)
    coordinator = Coordinator(answers=[0, 25])  # then UNKNOWN_MEMBER_ID: the group went on without us
    lease.attach(coordinator)
    asyncio.run(coordinator._send_req(heartbeat()))
    assert lease.proven_at is not None and not lease.lost(lease.proven_at + 0.1)
    asyncio.run(coordinator._send_req(heartbeat()))
    assert lease.lost(time.monotonic())

    class Unreachable(Coordinator):
        async def _send_req(self, request: Any) -> Answer:
            raise ConnectionError("network is unreachable")

    lease = GroupLease(session_timeout=6.0)
    lease.proven_at = time.monotonic()
    lease.attach(Unreachable())
    with pytest.raises(ConnectionError):
        asyncio.run(lease._coordinator._send_req(heartbeat()))
    assert lease.lost(time.monotonic())


def test_a_rebalance_the_coordinator_holds_is_not_a_lost_coordinator() -> None:
    lease = GroupLease(session_timeout=6.0)
    release = asyncio.Event()

    class Holding(Coordinator):
        async def _send_req(self, request: Any) -> Answer:
            if getattr(request, "API_KEY", None) == 11:
                await release.wait()  # the coordinator answers a JoinGroup once the group has rebalanced
            return Answer(0)

    class Join:
        API_KEY = 11

    coordinator = Holding()
    lease.attach(coordinator)

    async def scenario() -> None:
        await coordinator._send_req(heartbeat())
        join = asyncio.create_task(coordinator._send_req(Join()))
        await asyncio.sleep(0.01)
        assert lease.proven_at is not None
        assert not lease.lost(lease.proven_at + 3.0)  # silent for half the session, but in a rebalance
        release.set()
        await join
        assert lease.lost(lease.proven_at + 3.0)  # no join in flight: silence is a lost coordinator

    asyncio.run(scenario())


def test_a_request_that_failed_while_a_heartbeat_was_answered_does_not_keep_the_coordinator_lost() -> None:
    """The network comes back: requests sent during the cut fail as their connections close, while the first
    heartbeat sent after it is answered. The worker has its coordinator again (and a second cut counts again)."""
    lease = GroupLease(session_timeout=6.0)
    gate = asyncio.Event()

    class Reconnecting(Coordinator):
        async def _send_req(self, request: Any) -> Answer:
            if getattr(request, "API_KEY", None) == "stale":
                raise ConnectionError("connection closed")  # a request of the cut, given up now
            await gate.wait()
            return Answer(0)

    class Stale:
        API_KEY = "stale"

    coordinator = Reconnecting()
    lease.attach(coordinator)

    async def scenario() -> None:
        beat = asyncio.create_task(coordinator._send_req(heartbeat()))  # sent: in flight
        await asyncio.sleep(0.01)
        with pytest.raises(ConnectionError):
            await coordinator._send_req(Stale())  # fails after the heartbeat was sent, before its answer
        gate.set()
        await beat
        assert lease.proven_at is not None
        assert not lease.lost(time.monotonic())

    asyncio.run(scenario())
