"""Fencing: a worker decides for a partition only while it provably still owns it.

Kafka's consumer group has no fencing outside transactions. A worker whose
session expired (the broker froze, the network split, a long pause) keeps
reading from its buffers and could keep deciding while the partition's new
owner decides the same orders from the changelog: a split brain, where a
refund can be decided twice. Two facts close that window:

- **The lease.** The coordinator expires a member `session_timeout` after the
  last heartbeat it *received*. A heartbeat (or SyncGroup) answered without
  error proves membership from the moment it was *sent*, which is no later
  than its receipt. So until `sent + session_timeout` nobody else can own our
  partitions. A worker decides only within the first two thirds of that
  window (the last third is for its effects to reach the broker), and only
  while its member id is known (the coordinator has not told it that it was
  dropped).
- **The rebalance generation.** `on_rebalance_start` is called by the consumer
  thread as the very first step of a rebalance, before the partitions are
  revoked. Every decision takes a ticket (the generation) before it starts and
  checks it again before its state is written; a decision overtaken by a
  rebalance stores nothing and acknowledges nothing, so the partition's next
  owner (maybe this worker again) re-reads the record from the committed offset
  and decides it on the state it recovers.

A decision whose lease has lapsed in the same generation waits for the lease to
come back (the broker was only slow) or for the rebalance that follows (the
session was lost); it never goes ahead on a lapsed lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

# Kafka API keys whose error-free answer proves group membership; REBALANCE_IN_PROGRESS on a heartbeat also
# does (the member stays in the group until it rejoins).
JOIN_GROUP, HEARTBEAT, SYNC_GROUP = 11, 12, 14
NO_ERROR, REBALANCE_IN_PROGRESS = 0, 27
# Answers that say this worker is no longer (or cannot now be shown to be) a member of the group.
COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID_ERROR = 15, 16, 22, 25
LOSING = frozenset((COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID_ERROR))
UNKNOWN_MEMBER_ID = ""
log = logging.getLogger("postsale.fencing")


class GroupLease:
    """When this worker last proved to the group coordinator that it is a member (monotonic seconds)."""

    def __init__(self, session_timeout: float) -> None:
        self.session_timeout = session_timeout
        self.proven_at: float | None = None
        self.failed_at: float | None = None  # the last request to the coordinator that failed or was refused
        # when the answer that last proved membership came back: a request that failed while that one was in
        # flight says nothing about the coordinator now
        self.answered_at: float | None = None
        self.joining_since: float | None = None  # a JoinGroup in flight: the coordinator holds it during a rebalance
        self._coordinator: Any = None

    def attach(self, coordinator: Any) -> None:
        """Watch the coordinator's requests (called from the consumer thread, before every join)."""
        if coordinator is None or coordinator is self._coordinator:
            return
        self._coordinator = coordinator
        send: Callable[[Any], Awaitable[Any]] = coordinator._send_req  # noqa: SLF001

        async def send_and_note(request: Any) -> Any:
            sent = time.monotonic()
            joining = getattr(request, "API_KEY", None) == JOIN_GROUP
            if joining:
                self.joining_since = sent
            try:
                response = await send(request)
            except Exception:
                self.failed_at = time.monotonic()  # the coordinator cannot be reached (aiokafka retries)
                raise
            finally:
                if joining:
                    self.joining_since = None
            if _proves_membership(request, response):
                self.proven_at = sent if self.proven_at is None else max(self.proven_at, sent)
                self.answered_at = time.monotonic()
            elif getattr(response, "error_code", None) in LOSING:
                self.failed_at = time.monotonic()
            return response

        coordinator._send_req = send_and_note  # noqa: SLF001

    @property
    def attached(self) -> bool:
        """False until the first join: a worker outside any consumer group (Faust's test context) has no
        partitions to lose."""
        return self._coordinator is not None

    def silent_for(self, now: float) -> float | None:
        """Seconds since membership was last proven (None: never proven, the worker has not joined yet)."""
        return None if self.proven_at is None else now - self.proven_at

    def lost(self, now: float) -> bool:
        """The coordinator is out of reach: a request to it failed or was refused since the last proof, or no
        heartbeat was answered for a third of the session (three heartbeats at the most common settings). A
        JoinGroup the coordinator holds while the group rebalances counts as contact for a session timeout."""
        if self.proven_at is None:
            return False
        if self.failed_at is not None and self.failed_at > (self.answered_at or self.proven_at):
            return True
        if self.joining_since is not None and now - self.joining_since <= self.session_timeout:
            return False
        return now - self.proven_at > self.session_timeout / 3

    def holds(self, now: float | None = None) -> bool:
        coordinator = self._coordinator
        if coordinator is None or self.proven_at is None:
            return False
        if getattr(coordinator, "member_id", UNKNOWN_MEMBER_ID) == UNKNOWN_MEMBER_ID:
            return False
        now = time.monotonic() if now is None else now
        return now - self.proven_at < self.session_timeout * 2 / 3


def _proves_membership(request: Any, response: Any) -> bool:
    key = getattr(request, "API_KEY", None)
    code = getattr(response, "error_code", None)
    if key == HEARTBEAT:
        return code in (NO_ERROR, REBALANCE_IN_PROGRESS)
    return key == SYNC_GROUP and code == NO_ERROR


class Overtaken(Exception):
    """A rebalance started while a decision was under way: it must store and acknowledge nothing."""


class Fence:
    """The gate every decision passes: the rebalance generation it started in, and the lease.

    The generation moves twice per rebalance: when the consumer thread starts it
    (`on_rebalance_start`) and when the revocation reaches the event loop, before
    Faust suspends the flow and flushes the producer. A decision stored before
    that flush reaches the changelog before this worker rejoins; anything later
    is overtaken. A record that reaches the agent while the flow is suspended
    was fetched before the rebalance: it is left unacknowledged, and the seek to
    the committed offsets that ends every rebalance reads it again.

    The fence also says what happens to the worker (`watch`, called by a timer and by every wait): a log line
    and a counter when it loses the group coordinator, when it stops deciding (the lease lapsed) and when it
    resumes (membership proven again) (`postsale_group_coordinator_lost_total`,
    `postsale_deciding_paused_total`, `postsale_deciding_resumed_total`, `postsale_deciding_stopped`).
    """

    POLL_SECONDS = 0.05

    def __init__(self, app: Any, lease: GroupLease | None, metrics: Any = None) -> None:
        self.app = app
        self.lease = lease  # None: no consumer group (the agents run without a broker)
        self.metrics = metrics
        self.coordinator_lost = False
        self.stopped_at: float | None = None  # monotonic time deciding stopped; None while deciding

    def ticket(self) -> int:
        return int(getattr(self.app, "rebalance_generation", 0))

    @property
    def grouped(self) -> bool:
        return self.lease is not None and self.lease.attached

    def flowing(self) -> bool:
        return not self.grouped or bool(self.app.flow_control.is_active())

    def check(self, ticket: int) -> None:
        if self.ticket() != ticket:
            raise Overtaken

    def watch(self, now: float | None = None) -> bool:
        """Note and report a lost coordinator, a stop and a resumption of deciding; True while deciding."""
        lease = self.lease
        if lease is None or not lease.attached:
            return True
        now = time.monotonic() if now is None else now
        silent = lease.silent_for(now)
        ago = "never" if silent is None else f"{silent:.1f} s ago"
        if lease.lost(now) != self.coordinator_lost:
            self.coordinator_lost = not self.coordinator_lost
            if self.coordinator_lost:
                log.warning(
                    "group coordinator lost: membership last proven %s (session timeout %.1f s)",
                    ago,
                    lease.session_timeout,
                )
                self._count("group_coordinator_lost")
            else:
                log.warning("group coordinator answering again")
        holds = lease.holds(now)
        if holds and self.stopped_at is not None:
            log.warning("deciding resumed: group membership proven again after %.1f s", now - self.stopped_at)
            self.stopped_at = None
            self._count("deciding_resumed")
            self._set_stopped(0)
        elif not holds and self.stopped_at is None and lease.proven_at is not None:
            self.stopped_at = now
            log.warning(
                "deciding stopped: group membership last proven %s; this worker's partitions may be another's "
                "now: nothing is decided or acknowledged until a heartbeat answers or a rebalance says what is ours",
                ago,
            )
            self._count("deciding_paused")
            self._set_stopped(1)
        return holds

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            getattr(self.metrics, name).inc()

    def _set_stopped(self, value: int) -> None:
        if self.metrics is not None:
            self.metrics.deciding_stopped.set(value)

    async def hold(self, ticket: int) -> None:
        """Return once this worker may decide under `ticket`; raise `Overtaken` if a rebalance came first."""
        while True:
            self.check(ticket)
            if self.watch():
                return
            await asyncio.sleep(self.POLL_SECONDS)
