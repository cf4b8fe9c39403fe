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
HEARTBEAT, SYNC_GROUP = 12, 14
NO_ERROR, REBALANCE_IN_PROGRESS = 0, 27
UNKNOWN_MEMBER_ID = ""
log = logging.getLogger("postsale.fencing")


class GroupLease:
    """When this worker last proved to the group coordinator that it is a member (monotonic seconds)."""

    def __init__(self, session_timeout: float) -> None:
        self.session_timeout = session_timeout
        self.proven_at: float | None = None
        self._coordinator: Any = None

    def attach(self, coordinator: Any) -> None:
        """Watch the coordinator's requests (called from the consumer thread, before every join)."""
        if coordinator is None or coordinator is self._coordinator:
            return
        self._coordinator = coordinator
        send: Callable[[Any], Awaitable[Any]] = coordinator._send_req  # noqa: SLF001

        async def send_and_note(request: Any) -> Any:
            sent = time.monotonic()
            response = await send(request)
            if _proves_membership(request, response):
                self.proven_at = sent if self.proven_at is None else max(self.proven_at, sent)
            return response

        coordinator._send_req = send_and_note  # noqa: SLF001

    @property
    def attached(self) -> bool:
        """False until the first join: a worker outside any consumer group (Faust's test context) has no
        partitions to lose."""
        return self._coordinator is not None

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
    """

    POLL_SECONDS = 0.05
    WARN_AFTER_SECONDS = 2.0

    def __init__(self, app: Any, lease: GroupLease | None) -> None:
        self.app = app
        self.lease = lease  # None: no consumer group (the agents run without a broker)

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

    async def hold(self, ticket: int) -> None:
        """Return once this worker may decide under `ticket`; raise `Overtaken` if a rebalance came first."""
        started = time.monotonic()
        warned = False
        while True:
            self.check(ticket)
            if not self.grouped or self.lease.holds():  # type: ignore[union-attr]
                if warned:
                    log.warning("deciding again: group membership proven after %.1f s", time.monotonic() - started)
                return
            now = time.monotonic()
            if not warned and now - started > self.WARN_AFTER_SECONDS:
                warned = True
                proven = self.lease.proven_at  # type: ignore[union-attr]
                log.warning(
                    "deciding paused: group membership last proven %s ago; waiting for a heartbeat or a rebalance",
                    "never" if proven is None else f"{now - proven:.1f} s",
                )
            await asyncio.sleep(self.POLL_SECONDS)
