"""The demo's stand-in for a store's refund endpoint: a small Standard Webhooks receiver on a local port.

It behaves as docs/executor.md asks a real one to: it verifies every
signature (a bad one is a 401), applies each refund once per
`Idempotency-Key` and answers a repeat with 200 without refunding again. To
make the executor's retries visible it is an unreliable service: per attempt,
drawn from a seeded random generator keyed on the action id and the attempt,
it answers 200 (most), 503, 429 with `Retry-After: 1`, or applies the refund
and answers too late (the executor times out and retries: the repeat shows
the idempotency). A small share of stores' endpoints are down for an action
(always 503): the executor gives up, and the engine escalates the refund when
it falls due.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import orjson
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

Answer = Literal["ok", "busy", "throttled", "slow", "down"]


@dataclass(frozen=True)
class Delivery:
    """One call as the receiver saw it."""

    at: datetime
    action_id: str
    order_id: str
    what: str  # "refund customer 25.00 USD"
    attempt: int  # 1 for the first call with this Idempotency-Key
    answer: str  # "200 refunded", "503 retry", …


@dataclass(frozen=True)
class Odds:
    """Shares of attempts answered each way (the rest: 200); `down`: share of actions that never succeed."""

    busy: float = 0.12
    throttled: float = 0.05
    slow: float = 0.05
    down: float = 0.03

    def answer(self, seed: int, action_id: str, attempt: int) -> Answer:
        if random.Random(f"{seed}:{action_id}").random() < self.down:  # noqa: S311 - simulation, not secrets
            return "down"
        r = random.Random(f"{seed}:{action_id}:{attempt}").random()  # noqa: S311
        for answer, share in (("busy", self.busy), ("throttled", self.throttled), ("slow", self.slow)):
            if r < share:
                return answer  # type: ignore[return-value]
            r -= share
        return "ok"


@dataclass
class DemoReceiver:
    secret: str
    seed: int = 0
    odds: Odds = field(default_factory=Odds)
    late_by: float = 1.5  # seconds a "slow" answer waits: longer than the demo executor's timeout
    recent: deque[Delivery] = field(default_factory=lambda: deque(maxlen=8))
    counts: Counter[str] = field(default_factory=Counter)
    refunded: dict[str, str] = field(default_factory=dict)  # idempotency key -> what was refunded
    _attempts: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            action = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.counts["bad_signature"] += 1
            return web.json_response({"error": "bad signature"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        self.counts["calls"] += 1
        self._attempts[key] += 1
        what = f"{action['type']} {action.get('party', '')} {action.get('amount', '')} {action.get('currency', '')}"
        if key in self.refunded:
            self.counts["repeats"] += 1
            return self._answer(key, action, what, 200, "200 repeat: already refunded, not again")
        answer = self.odds.answer(self.seed, key, self._attempts[key])
        if answer == "ok":
            self._apply(key, what)
            return self._answer(key, action, what, 200, "200 refunded")
        if answer == "slow":
            self._apply(key, what)
            self._record(key, action, what, "refunded, answer too late (timeout)")
            await asyncio.sleep(self.late_by)
            return web.json_response({"status": "refunded"})
        if answer == "throttled":
            return self._answer(key, action, what, 429, "429 retry after 1 s", {"Retry-After": "1"})
        return self._answer(key, action, what, 503, "503 down" if answer == "down" else "503 retry")

    def _apply(self, key: str, what: str) -> None:
        self.refunded[key] = what
        self.counts["refunds"] += 1

    def _record(self, key: str, action: dict[str, object], what: str, answer: str) -> None:
        at = datetime.now(UTC)
        self.recent.append(Delivery(at, key, str(action["order_id"]), what.strip(), self._attempts[key], answer))

    def _answer(
        self,
        key: str,
        action: dict[str, object],
        what: str,
        status: int,
        answer: str,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self._record(key, action, what, answer)
        return web.Response(
            body=orjson.dumps({"status": status}), status=status, headers=headers, content_type="application/json"
        )

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
        """Start serving POST /refunds; returns the runner (`await runner.cleanup()` stops it) and the port."""
        app = web.Application()
        app.router.add_post("/refunds", self.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        return runner, int(bound)

    def summary(self) -> str:
        c = self.counts
        return (
            f"receiver: {c['calls']} calls, {c['refunds']} refunds made, "
            f"{c['repeats']} repeats answered without refunding again, {c['bad_signature']} bad signatures"
        )
