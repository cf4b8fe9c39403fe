"""The executor's side of integration tests: a real Standard Webhooks receiver, executor.yaml, and
`postsale execute` as a subprocess (so that it can be SIGKILLed), on a test's own topics and group.

The receiver verifies every signature, and does what a careful payment API does: it applies a refund once
per Idempotency-Key and answers a repeat with the first answer. The `receiver` fixture (tests/integration/
conftest.py) serves it on a free local port.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from standardwebhooks import Webhook

from tests.integration.kafka import ROOT, Wire, WorkerProcess, _collect, free_port, spawn

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Receiver:
    """A store's refund endpoint. `script[order_id]` lists what to do on the n-th call for that order:
    an HTTP status, (status, headers), "slow" (apply, then answer too late) or "hang" (apply, never answer)."""

    script: dict[str, list[Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (idempotency key, order id)
    applied: dict[str, Decimal] = field(default_factory=dict)  # idempotency key -> amount refunded
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> the action received
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        action = Webhook(SECRET).verify(body, dict(request.headers))  # raises on a bad signature: a 500
        key = request.headers["Idempotency-Key"]
        assert key == request.headers["webhook-id"] == action["action_id"]
        with self.lock:
            n = sum(1 for _, o in self.calls if o == action["order_id"])
            self.calls.append((key, action["order_id"]))
            self.bodies[key] = action
            steps = self.script.get(action["order_id"], [200])
            step = steps[min(n, len(steps) - 1)]
        status, headers = step if isinstance(step, tuple) else (step, {})
        if step in ("slow", "hang") or 200 <= status < 300:
            with self.lock:
                self.applied.setdefault(key, Decimal(action.get("amount", "0")))  # once per key
        if step == "slow":
            await asyncio.sleep(2.5)
            return web.json_response({"ok": True})
        if step == "hang":
            await asyncio.sleep(120)
        return web.json_response({"status": status}, status=status if isinstance(status, int) else 200, headers=headers)

    def keys_for(self, order_id: str) -> list[str]:
        with self.lock:
            return [k for k, o in self.calls if o == order_id]


def serve_receiver() -> Iterator[Receiver]:
    """A `Receiver` on a free local port, in its own thread and event loop, for the duration of the block."""
    rec = Receiver(port=free_port())
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/refunds", rec.handle)
        # A hanging handler outlives its killed client: do not wait for it at teardown.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", rec.port).start()
        runner_box.append(runner)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(10)
    yield rec
    asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def write_config(tmp: Path, port: int, *, timeout: float = 1.0, single: str = "500", per_hour: str = "1000") -> Path:
    path = tmp / "executor.yaml"
    path.write_text(
        f"""\
endpoints:
  default: {{kind: dry_run}}
  refund:
    kind: webhook
    url: http://127.0.0.1:{port}/refunds
    secret_env: TEST_WEBHOOK_SECRET
    timeout_seconds: {timeout}
  reorder:
    kind: webhook
    url: http://127.0.0.1:{port}/refunds
    secret_env: TEST_WEBHOOK_SECRET
    timeout_seconds: {timeout}
retry: {{max_attempts: 3, base_seconds: 0.05, cap_seconds: 0.2}}
breaker:
  limits:
    USD: {{single: {single}, per_hour: {per_hour}}}
"""
    )
    return path


def executor_env(wire: Wire, config: Path, **extra: str) -> dict[str, str]:
    p = wire.prefix
    env = dict(os.environ)
    env.update(wire.env())
    env.update(
        {
            "POSTSALE_EXECUTOR_CONFIG_FILE": str(config),
            "POSTSALE_EXECUTOR_GROUP_ID": f"{p}-executor",
            "POSTSALE_EXECUTOR_TOPIC_FAILED": f"{p}-actions.failed",
            "POSTSALE_EXECUTOR_TOPIC_OUTCOMES": f"{p}-executor-outcomes",
            "POSTSALE_EXECUTOR_TOPIC_HELD": f"{p}-executor-held",
            "POSTSALE_EXECUTOR_TOPIC_AUDIT": f"{p}-audit",
            "POSTSALE_EXECUTOR_METRICS_ENABLED": "false",
            "POSTSALE_LOG_LEVEL": "info",
            "TEST_WEBHOOK_SECRET": SECRET,
        }
    )
    env.update(extra)
    return env


def start_executor(env: dict[str, str], tmp: Path, name: str) -> WorkerProcess:
    """`postsale execute` in its own process group, output to `tmp/name.log`."""
    log = tmp / f"{name}.log"
    return WorkerProcess(spawn(["streams.executor.cli", "execute"], env, log), log)


def read(wire: Wire, topic: str, done: Callable[[list[Any]], bool], timeout: float = 60) -> list[dict[str, Any]]:
    records = asyncio.run(
        _collect(wire.broker.bootstrap, topic, lambda rs: done([orjson.loads(r.value) for r in rs]), timeout, 0.5)
    )
    return [orjson.loads(r.value) for r in records]


def outcome_events(wire: Wire, n: int, timeout: float = 60) -> dict[str, dict[str, Any]]:
    """Outcome events on the orders topic by event id (repeats of an id collapse), once `n` distinct ids came."""
    records = read(wire, wire.topics["orders"], lambda rs: len({r["event_id"] for r in rs}) >= n, timeout)
    return {r["event_id"]: r for r in records}


def until(cond: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`postsale actions ARGS…` (list, release, drop) as a person runs it."""
    return subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "streams.executor.cli", "actions", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
