"""The workers' HTTP API, as the console reads it: the order view (routed by any worker to the order's owner)
and `/metrics` (the same figures Prometheus scrapes), summed over the workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

log = logging.getLogger("postsale.console")


class WorkersUnavailable(RuntimeError):
    """No worker answered."""


@dataclass
class StoreFigures:
    penalty_points: float = 0
    orders_in_window: float = 0
    disputes_in_window: float = 0
    refunds: dict[str, float] = field(default_factory=dict)  # currency -> customer refunds (count)
    refund_amount: dict[str, float] = field(default_factory=dict)  # currency -> customer refund amount

    @property
    def dispute_rate(self) -> float:
        return self.disputes_in_window / self.orders_in_window if self.orders_in_window else 0.0


@dataclass
class Figures:
    stores: dict[str, StoreFigures] = field(default_factory=lambda: defaultdict(StoreFigures))
    open_orders: dict[str, float] = field(default_factory=dict)  # stage -> orders (all stores)
    workers_answered: int = 0
    workers_failed: list[str] = field(default_factory=list)


class Workers:
    def __init__(self, urls: list[str], token: SecretStr | None, timeout: float = 10) -> None:
        self.urls = [u.rstrip("/") for u in urls]
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.get_secret_value()}"} if self.token is not None else {}

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def order(self, order_id: str) -> dict[str, Any] | None:
        """The owning worker's view of an open order; None when no worker holds it (closed or unknown)."""
        session = await self.session()
        failures = []
        for url in self.urls:
            try:
                async with session.get(f"{url}/orders/{quote(order_id, safe='')}", headers=self._headers()) as resp:
                    if resp.status == 404:
                        return None
                    if resp.status != 200:
                        failures.append(f"{url}: HTTP {resp.status}")
                        continue
                    body: dict[str, Any] = await resp.json(content_type=None)
                    return body
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures.append(f"{url}: {type(exc).__name__}")
        raise WorkersUnavailable("; ".join(failures) or "no workers configured")

    async def figures(self) -> Figures:
        """Per-store figures from every worker's /metrics, summed (each worker reports its own partitions)."""
        session = await self.session()
        out = Figures()

        async def scrape(url: str) -> str | None:
            try:
                async with session.get(f"{url}/metrics") as resp:
                    if resp.status == 200:
                        return await resp.text()
                    out.workers_failed.append(f"{url}: HTTP {resp.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                out.workers_failed.append(f"{url}: {type(exc).__name__}")
            return None

        for text in await asyncio.gather(*(scrape(u) for u in self.urls)):
            if text is None:
                continue
            out.workers_answered += 1
            add_metrics(out, text)
        return out


def add_metrics(out: Figures, text: str) -> None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            store = labels.get("store")
            if name == "postsale_store_penalty_points" and store:
                out.stores[store].penalty_points += value
            elif name == "postsale_store_orders_in_window" and store:
                out.stores[store].orders_in_window += value
            elif name == "postsale_store_disputes_in_window" and store:
                out.stores[store].disputes_in_window += value
            elif name == "postsale_refunds_total" and store and labels.get("party") == "customer":
                cur = labels.get("currency", "?")
                s = out.stores[store]
                s.refunds[cur] = s.refunds.get(cur, 0) + value
            elif name == "postsale_refund_amount_total" and store and labels.get("party") == "customer":
                cur = labels.get("currency", "?")
                s = out.stores[store]
                s.refund_amount[cur] = s.refund_amount.get(cur, 0) + value
            elif name == "postsale_open_orders":
                stage = labels.get("stage", "?")
                out.open_orders[stage] = out.open_orders.get(stage, 0) + value
