"""The after-sales console: an aiohttp server rendering Jinja2 pages (autoescaped), with a little hand-written
JavaScript served from the package (no asset from anywhere else; the Content-Security-Policy says so).

Pages: Live (server-sent events), Needs a person (held refunds and escalations; release or drop with an
operator, a reason and a confirmation), Order (the owning worker's view, the events seen, the audit trail),
Stores (the workers' figures), What if (`postsale diff` in the background). Every list takes the same filters
and exports as CSV with them applied. A store-scoped account sees and decides only its store's orders.

Nothing from an event is ever put into the page as markup: templates autoescape, and the live feed's script
builds rows with `textContent`. No customer data is read or logged (the event index keeps ids, types, times,
SKUs and tracking numbers only; access logs are off).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import SecretStr

from models.policy import Policy
from models.policy_file import PolicyError, parse_policy
from streams.console.auth import COOKIE, Session, Sessions, csrf_ok
from streams.console.board import Board, Filter
from streams.console.settings import Accounts, ConsoleSettings, User
from streams.console.whatif import FORM_FIELDS, WhatIf, policy_from_form
from streams.console.workers import Figures, Workers, WorkersUnavailable
from streams.executor.commands import NotHeld, Who, drop, release
from streams.executor.config import ExecutorConfig, all_dry_run

log = logging.getLogger("postsale.console")
STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
ORDER_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
ACTION_ID = re.compile(r"^act-[0-9a-f]{1,64}$")
PAGE_ROWS = 500
ExecutorSetup = Callable[[], tuple[ExecutorConfig, Mapping[str, SecretStr]] | None]

# Request keys (aiohttp's typed keys where it has them).
_KEY: Any = getattr(web, "RequestKey", None)
USER: Any = _KEY("console_user", User) if _KEY is not None else "console_user"
SESSION: Any = _KEY("console_session", Session) if _KEY is not None else "console_session"


@dataclass
class Console:
    """Everything a request needs; built once by `build_app`."""

    settings: ConsoleSettings
    board: Board
    workers: Workers
    sessions: Sessions
    whatif: WhatIf
    policy: Policy
    executor_setup: ExecutorSetup
    env: Environment
    feed_error: Callable[[], str | None] = lambda: None


CONSOLE = web.AppKey("console", Console)


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("streams.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short_time"] = lambda v: str(v or "")[:16].replace("T", " ")
    env.globals["urlencode"] = urlencode
    env.globals["key"] = lambda a: _decision_key(a)
    return env


# --- helpers ------------------------------------------------------------------------------------------------------


def _user(request: web.Request) -> User:
    return request[USER]  # type: ignore[no-any-return]


def _session(request: web.Request) -> Session | None:
    return request.get(SESSION)


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    c = request.app[CONSOLE]
    session = _session(request)
    body = c.env.get_template(name).render(
        user=_user(request) if USER in request else None,
        csrf=session.csrf if session is not None else "",
        path=request.path,
        signed_in=not c.sessions.accounts.open,
        feed_error=c.feed_error(),
        **context,
    )
    return web.Response(text=body, content_type="text/html", charset="utf-8", status=status)


def not_found(request: web.Request, what: str) -> web.Response:
    return render(request, "error.html", status=404, title="Not found", message=what)


def csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_response(name: str, header: list[str], rows: Iterable[Iterable[Any]]) -> web.Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    return web.Response(
        body=buf.getvalue().encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def action_what(a: Mapping[str, Any]) -> str:
    what = str(a.get("type", ""))
    if a.get("amount") is not None:
        what += f" {a.get('party') or ''} {a['amount']} {a.get('currency') or ''}".rstrip()
    if a.get("notice"):
        what += f" ({a['notice']})"
    return what


def row_json(a: Mapping[str, Any]) -> dict[str, Any]:
    """What the live page's script gets for one action: plain values, set with textContent."""
    return {
        "id": a.get("action_id"),
        "at": str(a.get("_at", ""))[:16].replace("T", " "),
        "order": a.get("order_id"),
        "store": a.get("store_id"),
        "rule": a.get("rule"),
        "what": action_what(a),
        "why": a.get("reason", ""),
    }


# --- middleware ---------------------------------------------------------------------------------------------------

OPEN_PATHS = ("/static/", "/login", "/health")


@web.middleware
async def security(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        resp = exc
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        resp.headers.setdefault("Cache-Control", "no-store")
    if isinstance(resp, web.HTTPException):
        raise resp
    return resp


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@web.middleware
async def authenticate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    c = request.app[CONSOLE]
    if c.sessions.accounts.open and (request.host or "").rsplit(":", 1)[0] not in LOOPBACK_NAMES:
        # Without sign-in the console answers loopback names only: a page elsewhere whose name was made to point
        # at 127.0.0.1 (DNS rebinding) gets nothing.
        return web.Response(status=421, text="this console answers on 127.0.0.1 only")
    if request.path.startswith(OPEN_PATHS):
        session = c.sessions.get(request.cookies.get(COOKIE))
        if session is not None:
            request[SESSION] = session
            request[USER] = session.user
        return await handler(request)
    bearer = request.headers.get("Authorization", "")
    if bearer:
        user = c.sessions.bearer(bearer)
        if user is None:
            return web.json_response({"error": "unauthorized"}, status=401)
        request[USER] = user
        return await handler(request)
    session = c.sessions.get(request.cookies.get(COOKIE))
    new_sid = None
    if session is None:
        anonymous = c.sessions.anonymous()
        if anonymous is None:
            if request.method == "GET":
                raise web.HTTPSeeOther("/login?" + urlencode({"next": request.path_qs}))
            return web.json_response({"error": "unauthorized"}, status=401)
        new_sid, session = c.sessions.new(anonymous)
    request[SESSION] = session
    request[USER] = session.user
    if request.method == "POST" and not request.content_type.startswith("multipart/"):  # multipart: the handler
        form = await request.post()
        if not csrf_ok(session if new_sid is None else None, str(form.get("csrf", ""))):
            return render(
                request, "error.html", status=403, title="Expired form", message="Reload the page and try again."
            )
    resp = await handler(request)
    if new_sid is not None:
        _set_cookie(resp, c.settings, new_sid)
    return resp


def _set_cookie(resp: web.StreamResponse, settings: ConsoleSettings, sid: str) -> None:
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", secure=settings.secure_cookies, path="/")


# --- sign-in ------------------------------------------------------------------------------------------------------


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/live"


async def login_page(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    if c.sessions.accounts.open:
        raise web.HTTPSeeOther("/live")
    return render(request, "login.html", next=_safe_next(request.query.get("next", "/live")), failed=False)


async def login(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    form = await request.post()
    user = c.sessions.sign_in(str(form.get("token", "")))
    target = _safe_next(str(form.get("next", "/live")))
    if user is None:
        await asyncio.sleep(0.5)  # slows guessing
        return render(request, "login.html", status=401, next=target, failed=True)
    sid, _ = c.sessions.new(user)
    resp = web.HTTPSeeOther(target)
    _set_cookie(resp, c.settings, sid)
    return resp


async def logout(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    c.sessions.end(request.cookies.get(COOKIE))
    resp = web.HTTPSeeOther("/login" if not c.sessions.accounts.open else "/live")
    resp.del_cookie(COOKIE, path="/")
    return resp


async def health(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "live"})


# --- live -------------------------------------------------------------------------------------------------------


def _filter_context(request: web.Request, f: Filter) -> dict[str, Any]:
    board = request.app[CONSOLE].board
    user = _user(request)
    stores = sorted(s for s in board.stores if user.sees(s)) if user.store is None else [user.store]
    return {"f": f, "stores": stores, "rules": board.rules(), "types": board.types(), "query": urlencode(f.query())}


async def live_page(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    f = Filter.from_query(request.query)
    rows = c.board.recent(_user(request), f, min(c.settings.stream_window, PAGE_ROWS))
    return render(
        request,
        "live.html",
        title="Live",
        rows=[row_json(a) for a in rows],
        window=c.settings.stream_window,
        total=len(c.board.actions),
        after=c.board.seq,
        **_filter_context(request, f),
    )


async def live_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each message is a JSON list of new rows, at most five a second and never more rows than
    the page keeps (`stream_window`); rows beyond are counted in `dropped`."""
    c = request.app[CONSOLE]
    f = Filter.from_query(request.query)
    user = _user(request)
    window = c.settings.stream_window
    sub = c.board.subscribe(user, f)  # then, with no await between, the backlog: no action is in both
    # Where the page (or, on a reconnection, its last message) left off: what came meanwhile is sent first.
    last = request.headers.get("Last-Event-ID") or request.query.get("after", "")
    backlog = c.board.after(user, f, int(last), window) if last.isdigit() else []
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await resp.prepare(request)
    try:
        await resp.write(b"retry: 2000\n\n")
        while True:
            if backlog:
                batch, backlog = backlog, []
            else:
                try:
                    batch = [await asyncio.wait_for(sub.queue.get(), 15)]
                except TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                await asyncio.sleep(0.2)
            while not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            if len(batch) > window:  # the browser keeps no more than its window: the rest is only counted
                sub.dropped += len(batch) - window
                batch = batch[-window:]
            message: dict[str, Any] = {"rows": [row_json(a) for a in batch]}
            if sub.dropped:
                message["dropped"] = sub.dropped
                sub.dropped = 0
            event_id = str(max(a["_seq"] for a in batch)).encode()
            await resp.write(b"id: " + event_id + b"\ndata: " + orjson.dumps(message) + b"\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        c.board.unsubscribe(sub)
    return resp


async def live_csv(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    f = Filter.from_query(request.query)
    rows = (
        [a.get("decided_at"), a.get("store_id"), a.get("order_id"), a.get("rule"), a.get("type"), a.get("party"),
         a.get("amount"), a.get("currency"), a.get("notice"), a.get("policy_version"), a.get("action_id"),
         a.get("reason")]
        for a in c.board.all_matching(_user(request), f)
    )  # fmt: skip
    header = ["decided_at", "store", "order", "rule", "type", "party", "amount", "currency", "notice",
              "policy_version", "action_id", "reason"]  # fmt: skip
    return csv_response("actions.csv", header, rows)


# --- needs a person --------------------------------------------------------------------------------------------


async def needs_page(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    user = _user(request)
    f = Filter.from_query(request.query)
    held = c.board.held_for(user, f)
    escalations = c.board.escalations_for(user, f)
    return render(
        request,
        "needs.html",
        title="Needs a person",
        held=held,
        escalations=escalations[:PAGE_ROWS],
        escalations_total=len(escalations),
        can_release=c.executor_setup() is not None,
        **_filter_context(request, f),
    )


async def needs_csv(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    user = _user(request)
    f = Filter.from_query(request.query)
    rows: list[list[Any]] = []
    for h in c.board.held_for(user, f):
        ha = h.action
        rows.append(["held refund", h.held_at.isoformat(), ha.store_id, ha.order_id, ha.rule, ha.amount, ha.currency,
                     h.reason, ha.action_id])  # fmt: skip
    for e in c.board.escalations_for(user, f):
        rows.append(["escalation", e.get("decided_at"), e.get("store_id"), e.get("order_id"), e.get("rule"),
                     e.get("amount"), e.get("currency"), e.get("reason"), e.get("action_id")])  # fmt: skip
    header = ["kind", "since", "store", "order", "rule", "amount", "currency", "reason", "action_id"]
    return csv_response("needs-a-person.csv", header, rows)


def _decision_form(form: Mapping[str, Any]) -> tuple[str, str, str, list[str]]:
    decision = str(form.get("decision", ""))
    operator = str(form.get("operator", "")).strip()
    reason = str(form.get("reason", "")).strip()
    problems = []
    if decision not in ("release", "drop"):
        problems.append("choose release or drop")
    if not operator or len(operator) > 100:
        problems.append("give the operator's name (up to 100 characters)")
    if not reason or len(reason) > 500:
        problems.append("give a reason (up to 500 characters)")
    return decision, operator, reason, problems


async def confirm_page(request: web.Request) -> web.StreamResponse:
    """Step one of a decision: check the form and ask for confirmation."""
    c = request.app[CONSOLE]
    action_id = request.match_info["action_id"]
    held = c.board.held.get(action_id)
    if held is None or not _user(request).sees(held.action.store_id):
        return not_found(request, "This refund is not held (already released or dropped, or not yours).")
    form = await request.post()
    decision, operator, reason, problems = _decision_form(form)
    if decision == "release" and c.executor_setup() is None:
        problems.append("releasing needs the executor's configuration (POSTSALE_EXECUTOR_CONFIG_FILE)")
    if problems:
        return render(request, "error.html", status=400, title="Check the form", message="; ".join(problems))
    return render(
        request, "confirm.html", title="Confirm", held=held, decision=decision, operator=operator, reason=reason
    )


async def decide(request: web.Request) -> web.StreamResponse:
    """Step two: release or drop, through the same commands as `postsale actions`; then the order's page."""
    c = request.app[CONSOLE]
    user = _user(request)
    action_id = request.match_info["action_id"]
    if not ACTION_ID.match(action_id):
        return not_found(request, "No such action.")
    form = await request.post()
    decision, operator, reason, problems = _decision_form(form)
    if form.get("confirmed") != "yes":
        problems.append("the decision was not confirmed")
    if problems:
        return render(request, "error.html", status=400, title="Check the form", message="; ".join(problems))
    who = Who(operator=operator, reason=reason, via="console", signed_in_as=user.name, store=user.store)
    held = c.board.held.get(action_id)
    try:
        if decision == "release":
            setup = c.executor_setup()
            if setup is None:
                return render(request, "error.html", status=400, title="Cannot release",
                              message="Releasing needs the executor's configuration.")  # fmt: skip
            config, secrets = setup
            done = await release(c.settings.executor, config, secrets, action_id, who)
        else:
            config = (c.executor_setup() or (all_dry_run(), {}))[0]
            done = await drop(c.settings.executor, config, action_id, who)
    except NotHeld:
        return not_found(request, "This refund is not held any more (already released or dropped).")
    c.board.held.pop(action_id, None)
    order_id = held.action.order_id if held is not None else ""
    log.info("console: %s %s by %s: %s", decision, action_id, user.name, done.status)
    target = f"/orders/{order_id}" if order_id else "/needs"
    raise web.HTTPSeeOther(target + "?" + urlencode({"decided": f"{decision}: {done.status}"}))


# --- orders -----------------------------------------------------------------------------------------------------


def _order_matches(request: web.Request, q: str, limit: int) -> list[str]:
    c = request.app[CONSOLE]
    user = _user(request)
    matches: list[str] = []
    for order_id, o in reversed(c.board.orders.items()):
        if (o.store_id is None or user.sees(o.store_id)) and c.board.order_matches(order_id, q):
            matches.append(order_id)
            if len(matches) >= limit:
                break
    return matches


async def orders_csv(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    q = request.query.get("q", "").strip()[:128]
    rows = []
    for order_id in _order_matches(request, q, c.settings.orders_indexed) if q else []:
        o = c.board.orders[order_id]
        last = o.events[-1] if o.events else ("", "", "")
        rows.append([order_id, o.store_id, " ".join(sorted(o.skus)), " ".join(sorted(o.tracking)), len(o.events),
                     last[0], last[1]])  # fmt: skip
    header = ["order", "store", "skus", "tracking_numbers", "events", "last_event_at", "last_event"]
    return csv_response("orders.csv", header, rows)


async def orders_search(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    q = request.query.get("q", "").strip()[:128]
    user = _user(request)
    matches: list[str] = []
    if q:
        if ORDER_ID.match(q) and (q in c.board.orders or any(a.get("order_id") == q for a in c.board.actions)):
            store = c.board.store_of(q)
            if store is None or user.sees(store):
                raise web.HTTPSeeOther(f"/orders/{q}")
        matches = _order_matches(request, q, 100)
        if not matches and ORDER_ID.match(q):
            raise web.HTTPSeeOther(f"/orders/{q}")  # perhaps an open order this console has not indexed
    return render(request, "orders.html", title="Orders", q=q, matches=matches)


async def order_page(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    user = _user(request)
    order_id = request.match_info["order_id"]
    if not ORDER_ID.match(order_id):
        return not_found(request, "No such order.")
    view: dict[str, Any] | None = None
    workers_error = None
    try:
        view = await c.workers.order(order_id)
    except WorkersUnavailable as exc:
        workers_error = str(exc)
    store = view["store_id"] if view is not None else c.board.store_of(order_id)
    if store is None and workers_error is None:
        return not_found(request, f"No order {order_id} is open on the workers or seen by this console.")
    if store is not None and not user.sees(store):
        return not_found(request, f"No order {order_id} is open on the workers or seen by this console.")
    timeline = order_timeline(c.board, order_id, view)
    held = [h for h in c.board.held.values() if h.action.order_id == order_id]
    return render(
        request,
        "order.html",
        title=f"Order {order_id}",
        order_id=order_id,
        store=store,
        view=view,
        timeline=timeline,
        held=held,
        audit=c.board.audit.get(order_id, []),
        workers_error=workers_error,
        decided=request.query.get("decided", "")[:100],
        can_release=c.executor_setup() is not None,
    )


def order_timeline(board: Board, order_id: str, view: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Events seen, decisions (with rule, reason and policy version), audit entries, pending deadlines: by time."""
    entries: list[dict[str, Any]] = []
    o = board.orders.get(order_id)
    if o is not None:
        for at, typ, event_id in o.events:
            entries.append({"at": at, "kind": "event", "what": typ, "rule": "", "detail": event_id})
    decided_ids = set()
    seen = {a.get("action_id"): a for a in board.actions_of(order_id)}
    if view is not None:
        for d in view.get("decisions", []):
            decided_ids.add(d.get("action_id"))
            known = seen.get(d.get("action_id"))
            entries.append(
                {
                    "at": d.get("decided_at", ""),
                    "kind": "decision",
                    "what": action_what(known) if known is not None else d.get("type", ""),
                    "rule": d.get("rule", ""),
                    "detail": d.get("reason", ""),
                    "policy": d.get("policy_version", ""),
                    "caused_by": ", ".join(d.get("caused_by", [])),
                }
            )
    for a in seen.values():
        if a.get("action_id") in decided_ids:
            continue
        entries.append(
            {
                "at": a.get("decided_at", ""),
                "kind": "decision",
                "what": action_what(a),
                "rule": a.get("rule", ""),
                "detail": a.get("reason", ""),
                "policy": a.get("policy_version", ""),
                "caused_by": ", ".join(a.get("caused_by", [])),
            }
        )
    for rec in board.audit.get(order_id, []):
        entries.append(
            {
                "at": rec.at.isoformat(),
                "kind": "person",
                "what": f"{rec.decision} → {rec.outcome}",
                "rule": "",
                "detail": f"{rec.operator}: {rec.reason}",
            }
        )
    entries.sort(key=lambda e: _sort_key(str(e["at"])))
    if view is not None:
        for d in view.get("pending_deadlines", []):
            entries.append(
                {"at": d.get("due", ""), "kind": "pending", "what": f"deadline {d.get('key', '')}",
                 "rule": d.get("rule", ""), "detail": "due"}
            )  # fmt: skip
    return entries


def _sort_key(at: str) -> str:
    try:
        from datetime import UTC

        parsed = datetime.fromisoformat(at)
        return parsed.astimezone(UTC).isoformat() if parsed.tzinfo else parsed.isoformat()
    except ValueError:
        return at


# --- stores -----------------------------------------------------------------------------------------------------


async def stores_data(request: web.Request) -> tuple[list[dict[str, Any]], Figures]:
    c = request.app[CONSOLE]
    user = _user(request)
    f = Filter.from_query(request.query)
    figures = await c.workers.figures()
    day = c.board.latest[:10]
    names = set(figures.stores) | set(c.board.stores) | {h.action.store_id for h in c.board.held.values()}
    t = c.policy.defaults
    rows = []
    for store in sorted(n for n in names if n and user.sees(n)):
        if f.store and store != f.store or f.q and f.q.lower() not in store.lower():
            continue
        fig = figures.stores.get(store)
        held = [h for h in c.board.held.values() if h.action.store_id == store]
        held_money: dict[str, Decimal] = {}
        for h in held:
            cur = h.action.currency or "?"
            held_money[cur] = held_money.get(cur, Decimal(0)) + (h.action.amount or Decimal(0))
        rows.append(
            {
                "store": store,
                "penalty_points": int(fig.penalty_points) if fig else 0,
                "penalty_alert_at": t.penalty_points_alert_at,
                "orders_in_window": int(fig.orders_in_window) if fig else 0,
                "disputes_in_window": int(fig.disputes_in_window) if fig else 0,
                "dispute_rate": fig.dispute_rate if fig else 0.0,
                "dispute_alert_at": t.dispute_rate_alert_at,
                "window_days": t.dispute_rate_window_days,
                "refunds": {
                    k: (int(v), (fig.refund_amount.get(k, 0) if fig else 0))
                    for k, v in (fig.refunds.items() if fig else ())
                },
                "today": dict(sorted(c.board.by_day.get((store, day), {}).items())),
                "money_today": {cur: v for (s, d, cur), v in c.board.money_by_day.items() if s == store and d == day},
                "held": len(held),
                "held_money": held_money,
            }
        )
    return rows, figures


async def stores_page(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    rows, figures = await stores_data(request)
    f = Filter.from_query(request.query)
    return render(
        request,
        "stores.html",
        title="Stores",
        rows=rows,
        figures=figures,
        day=c.board.latest[:10],
        show_stages=_user(request).store is None,
        **_filter_context(request, f),
    )


async def stores_csv(request: web.Request) -> web.StreamResponse:
    rows, _ = await stores_data(request)
    header = ["store", "penalty_points", "penalty_alert_at", "orders_in_window", "disputes_in_window",
              "dispute_rate", "dispute_alert_at", "actions_today", "customer_refunds_today", "held_refunds",
              "held_amount"]  # fmt: skip
    return csv_response(
        "stores.csv",
        header,
        (
            [r["store"], r["penalty_points"], r["penalty_alert_at"], r["orders_in_window"], r["disputes_in_window"],
             f"{r['dispute_rate']:.4f}", r["dispute_alert_at"],
             " ".join(f"{k}={v}" for k, v in r["today"].items()),
             " ".join(f"{k}={v}" for k, v in r["money_today"].items()), r["held"],
             " ".join(f"{k}={v}" for k, v in r["held_money"].items())]
            for r in rows
        ),
    )  # fmt: skip


# --- what if ----------------------------------------------------------------------------------------------------


def _events_files(settings: ConsoleSettings) -> list[str]:
    d = settings.events_dir
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if p.is_file() and p.suffix in (".jsonl", ".json", ".ndjson"))


async def whatif_page(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    if _user(request).store is not None:
        message = "What-if runs read a whole history of every store: ask an account with every store."
        return render(request, "error.html", status=403, title="What if", message=message)
    defaults = c.policy.defaults.model_dump()
    return render(
        request,
        "whatif.html",
        title="What if",
        files=_events_files(c.settings),
        fields=[(name, defaults[name]) for name in FORM_FIELDS],
        policy=c.policy,
        runs=list(reversed(c.whatif.runs.values())),
        error=None,
    )


async def _save_upload(field: Any, target: Path, limit: int) -> int:
    size = 0
    with target.open("wb") as fh:
        while True:
            chunk = await field.read_chunk(1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise ValueError(f"the file is larger than {limit // (1 << 20)} MB")
            fh.write(chunk)
    return size


async def whatif_start(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    if _user(request).store is not None:
        return render(request, "error.html", status=403, title="What if", message="Not for a store-scoped account.")
    limit = int(c.settings.upload_max_mb * (1 << 20))
    run_dir = c.whatif.new_dir()
    fields: dict[str, str] = {}
    uploaded_events: Path | None = None
    uploaded_policy: str | None = None
    try:
        if not request.content_type.startswith("multipart/"):  # a form without files
            fields = {k: str(v)[:100_000] for k, v in (await request.post()).items()}
        session = _session(request)
        checked = bool(fields) and csrf_ok(session, fields.get("csrf", ""))
        async for part in _parts(await request.multipart() if not fields else None):
            name = part.name or ""
            if name == "csrf":
                checked = csrf_ok(session, (await part.text())[:200])
                continue
            if not checked:  # the form's first field is its CSRF token: nothing is read before it is checked
                raise ValueError("the form expired: reload the page")
            if name == "events_upload" and part.filename:
                uploaded_events = run_dir / "events.jsonl"
                await _save_upload(part, uploaded_events, limit)
                if uploaded_events.stat().st_size == 0:
                    uploaded_events = None
            elif name == "policy_upload" and part.filename:
                target = run_dir / "policy.yaml"
                await _save_upload(part, target, min(limit, 4 << 20))
                uploaded_policy = target.read_text(encoding="utf-8", errors="replace") or None
            else:
                fields[name] = (await part.text())[:100_000]
        if not checked:
            raise ValueError("the form expired: reload the page")
        if uploaded_events is not None:
            events, events_name = uploaded_events, "uploaded file"
        else:
            chosen = fields.get("events_file", "")
            if chosen not in _events_files(c.settings):
                raise ValueError("choose an events file or upload one")
            events, events_name = c.settings.events_dir / chosen, chosen
        policy_text = uploaded_policy or fields.get("policy_yaml", "").strip() or None
        if policy_text is not None:
            b = parse_policy(policy_text, source="policy B")
        else:
            b = policy_from_form(c.policy, fields, version=f"{c.policy.version}+edited")
        until = None
        if fields.get("until"):
            until = datetime.fromisoformat(fields["until"])
            if until.tzinfo is None:
                from datetime import UTC

                until = until.replace(tzinfo=UTC)
    except (ValueError, PolicyError) as exc:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
        return render(request, "error.html", status=400, title="What if", message=str(exc)[:2000])
    run = c.whatif.start(events, events_name, c.policy, b, until, owned_dir=run_dir)
    raise web.HTTPSeeOther(f"/whatif/{run.run_id}")


async def _parts(reader: Any) -> AsyncIterator[Any]:
    while reader is not None:
        part = await reader.next()
        if part is None:
            return
        yield part


def _run_or_404(request: web.Request) -> Any:
    c = request.app[CONSOLE]
    if _user(request).store is not None:
        return None
    return c.whatif.runs.get(request.match_info["run_id"])


async def whatif_run(request: web.Request) -> web.StreamResponse:
    run = _run_or_404(request)
    if run is None:
        return not_found(request, "No such what-if run (only the latest are kept).")
    d = run.result
    return render(
        request,
        "whatif_run.html",
        title="What if: result",
        run=run,
        d=d,
        money=sorted(d.money_moved().items()) if d else [],
        penalty=d.penalty_moved() if d else {},
        by_rule=d.by_rule_and_type() if d else [],
        examples=d.example_orders(10) if d else [],
    )


async def whatif_status(request: web.Request) -> web.StreamResponse:
    run = _run_or_404(request)
    if run is None:
        return web.json_response({"error": "no such run"}, status=404)
    return web.json_response(run.status_json())


async def whatif_csv(request: web.Request) -> web.StreamResponse:
    run = _run_or_404(request)
    if run is None or run.result is None:
        return not_found(request, "No finished what-if run of that id.")
    d = run.result
    rows: list[list[Any]] = []
    for a in d.added:
        rows.append(["added", a.order_id, a.rule, a.type, "", action_what(a.model_dump(mode="json")), a.action_id])
    for a in d.removed:
        rows.append(["removed", a.order_id, a.rule, a.type, action_what(a.model_dump(mode="json")), "", a.action_id])
    for a, b in d.changed:
        rows.append(["changed", a.order_id, a.rule, a.type, action_what(a.model_dump(mode="json")),
                     action_what(b.model_dump(mode="json")), a.action_id])  # fmt: skip
    q = request.query.get("q", "").strip()
    rule = request.query.get("rule", "").strip()
    rows = [r for r in rows if (not q or q in r[1]) and (not rule or rule == r[2])]
    return csv_response(
        f"whatif-{run.run_id}.csv", ["change", "order", "rule", "type", "under A", "under B", "action_id"], rows
    )


async def whatif_order(request: web.Request) -> web.StreamResponse:
    c = request.app[CONSOLE]
    run = _run_or_404(request)
    order_id = request.match_info["order_id"]
    if run is None or not ORDER_ID.match(order_id):
        return not_found(request, "No such what-if run or order.")
    ta, tb = await asyncio.gather(c.whatif.explain(run, order_id, "a"), c.whatif.explain(run, order_id, "b"))
    da, db = _decided(ta), _decided(tb)
    return render(
        request,
        "whatif_order.html",
        title=f"What if: {order_id}",
        run=run,
        order_id=order_id,
        sides=(("A", ta, run.a, da - db), ("B", tb, run.b, db - da)),
    )


def _decided(tl: Any) -> set[tuple[Any, ...]]:
    """A timeline's decisions, compared as `postsale diff` compares them (id and content)."""
    return {_decision_key(e.action) for e in tl.entries if e.action is not None}


def _decision_key(a: Any) -> tuple[Any, ...]:
    return (a.action_id, a.type, a.amount, a.currency, a.decided_at, a.due_by, a.notice, a.quantity)


# --- the app ------------------------------------------------------------------------------------------------------


def build_app(
    settings: ConsoleSettings,
    board: Board,
    workers: Workers,
    policy: Policy,
    executor_setup: ExecutorSetup,
    whatif: WhatIf,
    accounts: Accounts,
    feed_error: Callable[[], str | None] = lambda: None,
) -> web.Application:
    app = web.Application(
        middlewares=[security, authenticate], client_max_size=int(settings.upload_max_mb * (1 << 20)) + (1 << 20)
    )
    app[CONSOLE] = Console(
        settings, board, workers, Sessions(accounts), whatif, policy, executor_setup, templates(), feed_error
    )
    r = app.router
    r.add_get("/", _home)
    r.add_get("/health", health)
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/live", live_page)
    r.add_get("/live/stream", live_stream)
    r.add_get("/live.csv", live_csv)
    r.add_get("/needs", needs_page)
    r.add_get("/needs.csv", needs_csv)
    r.add_post("/needs/{action_id}/confirm", confirm_page)
    r.add_post("/needs/{action_id}/decide", decide)
    r.add_get("/orders", orders_search)
    r.add_get("/orders.csv", orders_csv)
    r.add_get("/orders/{order_id}", order_page)
    r.add_get("/stores", stores_page)
    r.add_get("/stores.csv", stores_csv)
    r.add_get("/whatif", whatif_page)
    r.add_post("/whatif", whatif_start)
    r.add_get("/whatif/{run_id}", whatif_run)
    r.add_get("/whatif/{run_id}/status", whatif_status)
    r.add_get("/whatif/{run_id}/changes.csv", whatif_csv)
    r.add_get("/whatif/{run_id}/orders/{order_id}", whatif_order)
    r.add_static("/static/", STATIC, append_version=False)
    app.on_cleanup.append(_cleanup)
    return app


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/live")


async def _cleanup(app: web.Application) -> None:
    c = app[CONSOLE]
    await c.workers.close()
    await c.whatif.close()
