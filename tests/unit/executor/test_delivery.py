"""Delivery against a real local HTTP server; the retry loop's sleep is recorded, not slept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from standardwebhooks import Webhook

from streams.executor.config import parse_config
from streams.executor.delivery import Deliverer, Result, classify
from streams.executor.metrics import ExecutorMetrics
from tests.unit.executor.factories import SECRET, refund


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, "done"), (201, "done"), (204, "done"), (409, "rejected"), (422, "rejected"), (429, "retry"),
     (500, "retry"), (503, "retry"), (408, "retry"), (400, "failed"), (401, "failed"), (404, "failed"),
     (301, "failed")],
)  # fmt: skip
def test_classify(status: int, kind: str) -> None:
    assert classify(status) == kind


Reply = Callable[[int], web.StreamResponse]


def run(
    replies: list[Any], max_attempts: int = 4, timeout: float = 0.3
) -> tuple[Result, list[float], list[dict[str, str]], CollectorRegistry]:
    """Deliver one refund to a server answering `replies` in turn (an int status, (status, headers) or "slow")."""
    seen: list[dict[str, str]] = []
    slept: list[float] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        Webhook(SECRET).verify(body, dict(request.headers))
        seen.append({k.lower(): v for k, v in request.headers.items()})
        reply = replies[min(len(seen) - 1, len(replies) - 1)]
        if reply == "slow":
            await asyncio.sleep(2)
            return web.Response(status=200)
        status, headers = reply if isinstance(reply, tuple) else (reply, {})
        return web.Response(status=status, headers=headers)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> tuple[Result, CollectorRegistry]:
        app = web.Application()
        app.router.add_post("/hook", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        cfg = parse_config(
            f"endpoints:\n  refund:\n    kind: webhook\n    url: http://127.0.0.1:{port}/hook\n"
            f"    secret_env: S\n    timeout_seconds: {timeout}\n"
            f"retry: {{max_attempts: {max_attempts}, base_seconds: 1, cap_seconds: 8}}\n"
            "breaker: {limits: {USD: {single: 100, per_hour: 1000}}}\n"
        )
        registry = CollectorRegistry()
        metrics = ExecutorMetrics.create(registry)
        try:
            async with aiohttp.ClientSession() as session:
                d = Deliverer(
                    cfg, {"S": SecretStr(SECRET)}, metrics, session,
                    clock=lambda: datetime.now(UTC), draw=lambda: 0.5, sleep=sleep,
                )  # fmt: skip
                return await d.deliver(refund()), registry
        finally:
            await runner.cleanup()

    result, registry = asyncio.run(main())
    return result, slept, seen, registry


def test_done_first_time() -> None:
    result, slept, seen, _ = run([200])
    assert (result.status, result.attempts, slept) == ("done", 1, [])
    assert seen[0]["idempotency-key"] == seen[0]["webhook-id"] == refund().action_id


def test_rejected_is_not_retried() -> None:
    result, slept, seen, _ = run([409])
    assert (result.status, result.http_status, len(seen), slept) == ("rejected", 409, 1, [])


def test_setup_fault_fails_at_once() -> None:
    result, _, seen, _ = run([401])
    assert (result.status, len(seen)) == ("failed", 1)


def test_retries_back_off_honour_retry_after_and_keep_the_key() -> None:
    result, slept, seen, registry = run([503, (429, {"Retry-After": "7"}), 500, 200])
    assert (result.status, result.attempts) == ("done", 4)
    assert slept == [0.5, 7.0, 2.0]  # draw 0.5 of ceilings 1, 2 (floored by Retry-After 7), 4
    assert len({h["idempotency-key"] for h in seen}) == 1
    assert registry.get_sample_value("postsale_executor_retries_total", {"action_type": "refund"}) == 3


def test_gives_up_after_max_attempts() -> None:
    result, slept, seen, _ = run([503], max_attempts=3)
    assert (result.status, result.attempts, len(seen)) == ("failed", 3, 3)
    assert "gave up after 3 attempts" in result.reason and "HTTP 503" in result.reason


def test_timeout_is_retried() -> None:
    result, slept, seen, _ = run(["slow", 200])
    assert (result.status, result.attempts) == ("done", 2)
    assert seen[0]["idempotency-key"] == seen[1]["idempotency-key"]


def test_connection_refused_is_retried_then_fails() -> None:
    async def main() -> Result:
        cfg = parse_config(
            "endpoints:\n  refund: {kind: webhook, url: 'http://127.0.0.1:9/x', secret_env: S}\n"
            "retry: {max_attempts: 2}\nbreaker: {limits: {USD: {single: 100, per_hour: 1000}}}\n"
        )

        async def sleep(_: float) -> None:
            return None

        async with aiohttp.ClientSession() as session:
            d = Deliverer(
                cfg, {"S": SecretStr(SECRET)}, ExecutorMetrics.create(CollectorRegistry()), session,
                clock=lambda: datetime.now(UTC), sleep=sleep,
            )  # fmt: skip
            return await d.deliver(refund())

    result = asyncio.run(main())
    assert result.status == "failed" and "connection error" in result.reason
