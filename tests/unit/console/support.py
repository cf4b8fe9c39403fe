"""A console app for tests without a broker: its board fed with real engine decisions, and a worker stand-in that
serves the real order view (`streams.worker.web.order_view_json`) of the engine's states and real worker metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, generate_latest

from models.actions import Action, dump_action
from models.policy_file import load_policy
from streams.console.board import Board
from streams.console.server import build_app
from streams.console.settings import Accounts, ConsoleSettings, User
from streams.console.whatif import WhatIf
from streams.console.workers import Workers
from streams.executor.outcomes import HELD_ADAPTER, HeldRecord
from streams.executor.settings import ExecutorSettings
from streams.settings import Settings
from streams.worker.metrics import Metrics
from streams.worker.web import order_view_json
from tests.factories import Run, cancel_requested, paid, placed, run_full

T = TypeVar("T")
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


def cancelled(order_id: str, store: str, amount: str) -> list[Any]:
    return [
        placed(order_id, at=NOW, currency="USD", amount=amount, store_id=store, marketplace="shopify", dest="US"),
        paid(order_id, at=NOW),
        cancel_requested(order_id, at=NOW),
    ]


def engine_run() -> Run:
    return run_full([*cancelled("A-1", "store-a", "250.00"), *cancelled("B-1", "store-b", "30.00")])


def feed(board: Board, actions: list[Action]) -> None:
    for a in actions:
        board.add_action(dump_action(a))


def hold(board: Board, action: Action, reason: str = "refund 250.00 USD is above the single-refund limit 100") -> None:
    held = HeldRecord(action=action, held_at=NOW + timedelta(minutes=1), reason=reason)
    board.set_held(action.action_id.encode(), HELD_ADAPTER.dump_json(held))


def worker_app(result: Run) -> web.Application:
    """The worker's order view and /metrics, as a worker serves them, over the engine's states."""
    registry = CollectorRegistry()
    metrics = Metrics.create(registry, Settings())
    metrics.store_penalty_points.labels(store="store-a").set(48)
    metrics.store_orders_in_window.labels(store="store-a").set(200)
    metrics.store_disputes_in_window.labels(store="store-a").set(14)
    for a in result.actions:
        if a.pays_customer and a.amount is not None:
            metrics.refunds.labels(party="customer", currency=a.currency, store=a.store_id).inc()
            metrics.refund_amount.labels(party="customer", currency=a.currency, store=a.store_id).inc(float(a.amount))

    async def order(request: web.Request) -> web.Response:
        state = result.states.get(request.match_info["order_id"])
        if state is None:
            return web.json_response({"error": "no such open order"}, status=404)
        return web.Response(body=orjson.dumps(order_view_json(state)), content_type="application/json")

    async def metrics_page(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/orders/{order_id}", order)
    app.router.add_get("/metrics", metrics_page)
    return app


def settings(tmp: Path, **kw: Any) -> ConsoleSettings:
    executor = ExecutorSettings(kafka=Settings(), dry_run=True)
    return ConsoleSettings(executor=executor, work_dir=tmp, **kw)


async def console_client(
    tmp: Path, board: Board, worker: web.Application | None, accounts: Accounts | None = None, **kw: Any
) -> tuple[TestClient[Any, Any], list[Any]]:
    """A test client of the console (and the worker stand-in's server, if any): close both with `close(...)`."""
    closers: list[Any] = []
    urls = ["http://127.0.0.1:9"]
    if worker is not None:
        wserver = TestServer(worker)
        await wserver.start_server()
        closers.append(wserver)
        urls = [str(wserver.make_url("")).rstrip("/")]
    s = settings(tmp, workers=urls, **kw)
    app = build_app(
        s,
        board,
        Workers(s.workers, None, timeout=5),
        load_policy(),
        lambda: None,
        WhatIf(tmp),
        accounts or Accounts([]),
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    closers.insert(0, client)
    return client, closers


async def close(closers: list[Any]) -> None:
    for c in closers:
        await c.close()


def accounts(**users: tuple[str, str | None]) -> Accounts:
    """Accounts from name=(token, store)."""
    import hashlib

    return Accounts(
        [(hashlib.sha256(tok.encode()).digest(), User(name, store)) for name, (tok, store) in users.items()]
    )
