"""The worker's web endpoints: /metrics, health for orchestration, and the order view ("why?").

Bound to `web_host` (127.0.0.1 unless configured). The order view is routed
by Faust to the worker that owns the order's partition; it shows state,
pending deadlines and every decision with its rule, policy version and
causing events, never customer data (the state holds none). It can be turned
off or put behind a bearer token.
"""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rules.held_refunds import refund_status
from streams.worker.codec import decode_state
from streams.worker.runtime import Runtime


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


def install(rt: Runtime) -> None:
    app = rt.app
    s = rt.settings

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

    @app.page("/orders/{order_id}")
    @app.table_route(table=rt.orders, match_info="order_id")
    async def order_view(web: Any, request: Any, order_id: str) -> Any:
        if s.order_view_token is not None:
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {s.order_view_token.get_secret_value()}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return web.json({"error": "unauthorized"}, status=401)
        raw = rt.orders.get(order_id)
        if raw is None:
            return web.json({"error": "no such open order", "order_id": order_id}, status=404)
        return web.json(order_view_json(decode_state(raw)))
