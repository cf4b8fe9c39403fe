"""One action to its endpoint: sign, POST, classify the answer, retry what may succeed later.

| answer                                   | outcome                        |
|------------------------------------------|--------------------------------|
| 2xx                                      | done                           |
| 409, 422                                 | rejected, not retried          |
| 408, 425, 429, 5xx, timeout, connection  | retried, then failed           |
| anything else (3xx, 400, 401, 403, 404…) | failed at once: a setup fault  |

Redirects are not followed: a signed POST must reach the configured URL.
The clock, the random draw and the sleep are injected, so the retry loop is
tested without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import aiohttp
from pydantic import SecretStr

from models.actions import Action, dump_action
from streams.executor.backoff import backoff_delay, parse_retry_after
from streams.executor.config import ExecutorConfig, WebhookEndpoint
from streams.executor.metrics import ExecutorMetrics
from streams.executor.redact import summary
from streams.executor.routing import endpoint_type
from streams.executor.signing import webhook_headers

log = logging.getLogger("postsale.executor")

Kind = Literal["done", "rejected", "retry", "failed"]


def log_fields(action: Action, status: str, **more: object) -> dict[str, object]:
    """Structured fields of a log record about an action (the JSON log format shows them): ids and types only."""
    return {
        "action_id": action.action_id,
        "action_type": action.type,
        "order_id": action.order_id,
        "store_id": action.store_id,
        "status": status,
        **more,
    }


def classify(status: int) -> Kind:
    if 200 <= status < 300:
        return "done"
    if status in (409, 422):
        return "rejected"
    if status in (408, 425, 429) or 500 <= status < 600:
        return "retry"
    return "failed"


@dataclass(frozen=True)
class Attempt:
    kind: Kind
    detail: str
    http_status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Result:
    status: Literal["done", "rejected", "failed", "dry_run"]
    reason: str
    attempts: int
    http_status: int | None = None


class Deliverer:
    def __init__(
        self,
        config: ExecutorConfig,
        secrets: Mapping[str, SecretStr],
        metrics: ExecutorMetrics,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], datetime],
        draw: Callable[[], float] = random.random,  # noqa: S311 - jitter, not cryptography
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.metrics = metrics
        self.session = session
        self.clock = clock
        self.draw = draw
        self.sleep = sleep
        self._ssl: dict[str, ssl.SSLContext | bool] = {}

    async def deliver(self, action: Action) -> Result:
        """Deliver with retries; the result is definite (never "try later")."""
        try:
            target = self.config.target(endpoint_type(action), action.store_id)
        except KeyError as exc:
            return Result("failed", str(exc.args[0]), 0)
        if target is None:
            log.warning("dry run: %s", summary(action))
            return Result("dry_run", "dry run: logged only", 0)
        url, secret_env = target
        endpoint = self.config.endpoint_for(endpoint_type(action))
        assert isinstance(endpoint, WebhookEndpoint)
        body = dump_action(action)
        retry = self.config.retry
        for n in range(1, retry.max_attempts + 1):
            a = await self.attempt(action, url, self.secrets[secret_env].get_secret_value(), body, endpoint)
            if a.kind != "retry":
                return Result(a.kind, a.detail, n, a.http_status)
            if n == retry.max_attempts:
                return Result("failed", f"gave up after {n} attempts; last: {a.detail}", n, a.http_status)
            delay = backoff_delay(
                n, retry.base_seconds, retry.cap_seconds, self.draw(), a.retry_after, retry.retry_after_max_seconds
            )
            self.metrics.retries.labels(action.type).inc()
            log.warning(
                "%s %s: %s; retry %d in %.1fs", action.type, action.action_id, a.detail, n, delay,
                extra=log_fields(action, "retry", attempt=n, http_status=a.http_status, reason=a.detail),
            )  # fmt: skip
            await self.sleep(delay)
        raise AssertionError("unreachable")

    async def attempt(self, action: Action, url: str, secret: str, body: bytes, endpoint: WebhookEndpoint) -> Attempt:
        headers = webhook_headers(secret, action.action_id, body, self.clock())
        started = time.monotonic()
        try:
            async with self.session.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=endpoint.timeout_seconds),
                ssl=self._ssl_for(endpoint),
                allow_redirects=False,
            ) as resp:
                await resp.read()
                kind = classify(resp.status)
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), self.clock())
                return Attempt(kind, f"HTTP {resp.status}", resp.status, retry_after)
        except TimeoutError:
            return Attempt("retry", f"timeout after {endpoint.timeout_seconds:g}s")
        except aiohttp.ClientError as exc:
            return Attempt("retry", f"connection error: {type(exc).__name__}")
        finally:
            self.metrics.latency.labels(action.type).observe(time.monotonic() - started)

    def _ssl_for(self, endpoint: WebhookEndpoint) -> ssl.SSLContext | bool:
        if endpoint.ca_file is None:
            return True  # aiohttp's default: verify against the system's CAs
        key = str(endpoint.ca_file)
        if key not in self._ssl:
            self._ssl[key] = ssl.create_default_context(cafile=key)
        return self._ssl[key]
