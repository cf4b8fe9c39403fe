"""The worker's web endpoints: /metrics, health for orchestration, and the order view ("why?").

Bound to `web_host` (127.0.0.1 unless configured). The order view shows state,
pending deadlines and every decision with its rule, policy version and causing
events, never customer data (the state holds none). It can be turned off;
off loopback it needs a token (the worker refuses to start otherwise).

Who may see an order: `order_view_token` sees every store; each
`order_view_tokens` entry (`store:token`, `*:token`; also from a file) sees its
stores. The token is checked before anything else, in constant time against
every configured token. An order outside the caller's stores answers exactly
as a missing one does (404, same body), so a token learns nothing about other
stores' orders. A request for an order another worker owns is forwarded there
by Faust with its `Authorization` header; that worker checks it again against
the same configuration, so the scope travels with the request.

Requests that never reach a handler (a request line or header over aiohttp's
8 KiB limit, malformed HTTP) are answered 414, 431 or 400 with one log line and
no traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web as aioweb
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_runner import AppRunner
from aiohttp.web_server import Server
from faust.exceptions import SameNode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rules.held_refunds import refund_status
from streams.settings import SettingsError
from streams.worker.codec import decode_state
from streams.worker.runtime import Runtime

log = logging.getLogger("postsale.web")


def order_view_json(state: Any) -> dict[str, Any]:
    return {
        "order_id": state.order_id,
        "store_id": state.store_id,
        "marketplace": state.marketplace,
        "stage": state.stage,
        "ship_by": state.ship_by.isoformat(),
        "dispute": state.dispute.model_dump(mode="json") if state.dispute is not None else None,
        "pending_deadlines": [
            {"due": d.due.isoformat(), "rule": d.rule, "key": d.key, "caused_by": list(d.caused_by)}
            for d in sorted(state.deadlines, key=lambda d: d.due)
        ],
        "customer_refunds": [
            {
                "action_id": r.action_id,
                "type": next((d.type for d in state.decided if d.action_id == r.action_id), "refund"),
                "cause": r.cause,
                "amount": str(r.amount),
                "currency": state.currency,
                "status": refund_status(state, r),
            }
            for r in state.customer_refunds
        ],
        "decisions": [d.model_dump(mode="json") for d in state.decided],
    }


EVERY_STORE = None


@dataclass(frozen=True)
class Scope:
    """The stores a caller may see; `stores` None: every store."""

    stores: frozenset[str] | None

    def covers(self, store_id: str) -> bool:
        return self.stores is None or store_id in self.stores


class OrderViewAccess:
    """Bearer tokens of the order view and what each may see. No tokens: the view is open (loopback only)."""

    def __init__(self, tokens: Iterable[tuple[str, str | None]]) -> None:
        scopes: dict[bytes, set[str] | None] = {}
        for token, store in tokens:
            digest = hashlib.sha256(token.encode()).digest()
            if store is None or (digest in scopes and scopes[digest] is None):
                scopes[digest] = None
            else:
                stores = scopes.setdefault(digest, set())
                assert stores is not None
                stores.add(store)
        self._scopes = [(d, Scope(None if s is None else frozenset(s))) for d, s in scopes.items()]

    @property
    def open(self) -> bool:
        return not self._scopes

    def scope_of(self, authorization: str | None) -> Scope | None:
        """The caller's scope from its `Authorization` header, or None (refused). Every token is compared, in
        constant time, whatever the header holds (bytes a client sent that are not UTF-8 included)."""
        if self.open:
            return Scope(EVERY_STORE)
        raw = (authorization or "").encode("utf-8", "surrogateescape")
        scheme, _, token = raw.partition(b" ")
        given = hashlib.sha256(token.strip() if scheme.lower() == b"bearer" else b"\x00refused").digest()
        found: Scope | None = None
        for digest, scope in self._scopes:
            if hmac.compare_digest(given, digest):
                found = scope
        return found


NOT_FOUND = {"error": "no such open order"}


class _QuietHandler(RequestHandler):
    """aiohttp's connection handler, saying in one line (no traceback) why a request was refused before any
    handler saw it: 414 for a request line over the limit, 431 for a header, 400 for anything else malformed."""

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> aioweb.StreamResponse:
        if not isinstance(exc, BadHttpMessage):
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            # The parser hands over the start of the line: a request target starts with "/" (or a scheme, or "*").
            start = bytes(exc.args[0][:8]) if exc.args and isinstance(exc.args[0], bytes | bytearray) else b""
            status = 414 if start.startswith((b"/", b"http:", b"https:", b"*")) else 431
        else:
            status = 400
        reason = {414: "URI Too Long", 431: "Request Header Fields Too Large", 400: "Bad Request"}[status]
        log.warning("refused a request from %s: HTTP %d %s (%s)", request.remote, status, reason, type(exc).__name__)
        resp = aioweb.Response(status=status, text=f"{status} {reason}\n", content_type="text/plain")
        resp.force_close()
        return resp


class _QuietServer(Server):
    def __call__(self) -> RequestHandler:
        return _QuietHandler(self, loop=self._loop, **self._kwargs)


class QuietRunner(AppRunner):
    """Faust's AppRunner, serving connections with `_QuietHandler`."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        return _QuietServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )


def install(rt: Runtime) -> None:
    app = rt.app
    s = rt.settings
    problem = s.order_view_unguarded()
    if problem is not None:
        raise SettingsError(problem)
    driver: Any = app.web
    driver._runner = QuietRunner(driver.web_app, access_log=None)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(rt.metrics.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health/live")
    async def live(web: Any, request: Any) -> Any:
        return web.json({"status": "live"})

    @app.page("/health/ready")
    async def ready(web: Any, request: Any) -> Any:
        recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        assigned = bool(app.assignor.assigned_actives()) if app.consumer is not None else False
        ok = recovered and not app.rebalancing and assigned
        body = {"ready": ok, "recovered": recovered, "rebalancing": bool(app.rebalancing), "assigned": assigned}
        return web.json(body, status=200 if ok else 503)

    if not s.order_view:
        return
    access = OrderViewAccess(s.order_view_tokens_by_scope())

    @app.page("/orders/{order_id}")
    async def order_view(web: Any, request: Any, order_id: str) -> Any:
        scope = access.scope_of(request.headers.get("Authorization"))
        if scope is None:
            return web.json({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})
        try:
            # The owner of the order's partition answers; the caller's Authorization header goes with the request.
            return await app.router.route_req(rt.orders.name, order_id, web, request)
        except SameNode:
            pass
        except (aiohttp.ClientError, TimeoutError, UnicodeError, ValueError) as exc:
            # A header the client library cannot send on, or an owner that does not answer: one line, no traceback.
            log.warning("order view: could not forward to the partition's owner: %s", type(exc).__name__)
            return web.json({"error": "the worker that owns this order did not answer"}, status=502)
        raw = rt.orders.get(order_id)
        state = decode_state(raw) if raw is not None else None
        if state is None or not scope.covers(state.store_id):
            return web.json({**NOT_FOUND, "order_id": order_id}, status=404)
        return web.json(order_view_json(state))
