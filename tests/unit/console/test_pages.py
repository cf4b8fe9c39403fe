"""The console's pages through its HTTP interface (no browser): what each list shows, who may see what, that
event text is never markup, CSV exports, sign-in and CSRF."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import orjson

from models.actions import Action
from streams.console.board import Board
from streams.console.server import CSP, csv_cell
from tests.unit.console.support import accounts, close, console_client, engine_run, feed, hold, worker_app


def _board() -> tuple[Board, Any]:
    result = engine_run()
    board = Board(feed_size=1000)
    feed(board, result.actions)
    refund_a = next(a for a in result.actions if a.order_id == "A-1" and a.type == "refund")
    hold(board, refund_a)
    return board, result


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_the_lists_show_the_engines_decisions_and_the_held_refund(tmp_path: Path) -> None:
    board, result = _board()

    async def go() -> None:
        client, closers = await console_client(tmp_path, board, worker_app(result))
        try:
            live = await client.get("/live")
            text = await live.text()
            assert live.status == 200 and live.headers["Content-Security-Policy"] == CSP
            assert "refund customer 250.00 USD" in text and 'href="/orders/B-1"' in text
            needs = await (await client.get("/needs")).text()
            assert "250.00 USD" in needs and "single-refund limit" in needs
            assert "Releasing needs the executor" in needs  # no executor.yaml: drop only
            order = await (await client.get("/orders/A-1")).text()
            assert "customer_cancel" in order and "2026.11-default" in order
            assert "held" in order  # the refund's status from the worker's view
            stores = await (await client.get("/stores")).text()
            assert "48" in stores and "alert at 36" in stores and "7.0 %" in stores  # 14 / 200 disputes
        finally:
            await close(closers)

    asyncio.run(go())


def test_event_text_is_never_markup(tmp_path: Path) -> None:
    result = engine_run()
    board = Board()
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    for a in result.actions:
        board.add_action(orjson.dumps({**a.model_dump(mode="json"), "reason": evil, "order_id": a.order_id}))

    async def go() -> None:
        client, closers = await console_client(tmp_path, board, worker_app(result))
        try:
            for path in ("/live", "/needs", "/orders/A-1", "/live?q=%3Cscript%3E"):
                html = await (await client.get(path)).text()
                assert "<script>alert" not in html and "<img src=x" not in html, path
            html = await (await client.get("/live")).text()
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        finally:
            await close(closers)

    asyncio.run(go())


def test_a_store_scoped_account_sees_and_decides_only_its_store(tmp_path: Path) -> None:
    board, result = _board()
    users = accounts(ana=("tok-ana", None), sam=("tok-sam", "store-b"))

    async def go() -> None:
        client, closers = await console_client(tmp_path, board, worker_app(result), users)
        try:
            assert (await client.get("/live", allow_redirects=False)).status == 303  # to the sign-in page
            login = await client.post("/login", data={"token": "tok-sam", "next": "/live"}, allow_redirects=False)
            assert login.status == 303
            live = await (await client.get("/live")).text()
            assert "B-1" in live and "A-1" not in live and "store-a" not in live
            assert (await client.get("/orders/A-1")).status == 404
            assert (await client.get("/orders/B-1")).status == 200
            csv = await (await client.get("/live.csv")).text()
            assert "B-1" in csv and "A-1" not in csv
            needs = await (await client.get("/needs")).text()
            assert "A-1" not in needs
            held_id = next(iter(board.held))
            confirm = await client.post(
                f"/needs/{held_id}/confirm",
                data={"csrf": _csrf(needs), "decision": "drop", "operator": "Sam", "reason": "not mine"},
            )
            assert confirm.status == 404  # another store's refund: not offered, not decided
            assert (await client.get("/whatif")).status == 403
            assert (await client.get("/stores.csv")).status == 200
            assert "store-a" not in await (await client.get("/stores.csv")).text()
        finally:
            await close(closers)

    asyncio.run(go())


def test_sign_in_bearer_and_csrf(tmp_path: Path) -> None:
    board, result = _board()
    users = accounts(ana=("tok-ana", None))

    async def go() -> None:
        client, closers = await console_client(tmp_path, board, worker_app(result), users)
        try:
            bad = await client.post("/login", data={"token": "nope"})
            assert bad.status == 401 and "not known" in await bad.text()
            assert (await client.get("/live.csv", headers={"Authorization": "Bearer nope"})).status == 401
            csv = await client.get("/live.csv", headers={"Authorization": "Bearer tok-ana"})
            assert csv.status == 200 and csv.headers["Content-Disposition"].startswith("attachment")
            await client.post("/login", data={"token": "tok-ana"})
            held_id = next(iter(board.held))
            form = {"decision": "drop", "operator": "Ana", "reason": "test"}
            forged = await client.post(f"/needs/{held_id}/confirm", data={**form, "csrf": "forged"})
            assert forged.status == 403
            page = await (await client.get("/needs")).text()
            ok = await client.post(f"/needs/{held_id}/confirm", data={**form, "csrf": _csrf(page)})
            assert ok.status == 200 and "Drop this refund?" in await ok.text()
            unconfirmed = await client.post(f"/needs/{held_id}/decide", data={**form, "csrf": _csrf(page)})
            assert unconfirmed.status == 400 and "not confirmed" in await unconfirmed.text()
            missing = await client.post(
                f"/needs/{held_id}/confirm",
                data={"decision": "drop", "operator": "", "reason": "", "csrf": _csrf(page)},
            )
            assert missing.status == 400 and "operator" in await missing.text()
            assert held_id in board.held  # nothing was decided
        finally:
            await close(closers)

    asyncio.run(go())


def test_filters_and_csv_exports(tmp_path: Path) -> None:
    board, result = _board()

    async def go() -> None:
        client, closers = await console_client(tmp_path, board, worker_app(result))
        try:
            csv = await (await client.get("/live.csv?type=refund&store=store-b")).text()
            lines = csv.strip().splitlines()
            assert len(lines) == 2 and "B-1" in lines[1] and ",refund," in lines[1]
            assert (await (await client.get("/live.csv?until=2026-11-20T09:00")).text()).count("\n") == 1
            assert "A-1" in await (await client.get("/live.csv?since=2026-11-20T10:00")).text()
            assert "A-1" not in await (await client.get("/live.csv?q=SKU-7")).text()
            board.add_event(orjson.dumps(
                {"event_id": "p1", "order_id": "A-1", "type": "order.placed", "occurred_at": "2026-11-20T10:00:00Z",
                 "store_id": "store-a", "items": [{"sku": "SKU-7"}], "buyer": {"name": "never kept"}}
            ))  # fmt: skip
            by_sku = await (await client.get("/live.csv?q=SKU-7")).text()
            assert "A-1" in by_sku and "B-1" not in by_sku
            assert "never kept" not in str(board.orders["A-1"])  # no customer data is indexed
            orders = await (await client.get("/orders.csv?q=SKU-7")).text()
            assert orders.splitlines()[1].startswith("A-1,store-a,SKU-7,,1,")
            needs = await (await client.get("/needs.csv")).text()
            assert "held refund" in needs and "A-1" in needs
            assert "held refund" not in await (await client.get("/needs.csv?since=2026-11-20T10:02")).text()
            assert "held refund" in await (await client.get("/needs.csv?since=2026-11-20T10:00")).text()
            stores = await (await client.get("/stores.csv?store=store-a")).text()
            assert stores.splitlines()[1].startswith("store-a,48,36,200,14,0.0700")
        finally:
            await close(closers)

    asyncio.run(go())


def test_a_csv_cell_is_never_a_formula() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("-1") == "'-1" and csv_cell("@x") == "'@x" and csv_cell("plain") == "plain"
    assert csv_cell(None) == ""


def test_the_live_stream_sends_new_rows_for_the_viewer_only(tmp_path: Path) -> None:
    result = engine_run()
    users = accounts(sam=("tok-sam", "store-b"))

    async def go() -> None:
        board = Board()
        client, closers = await console_client(tmp_path, board, worker_app(result), users)
        try:
            stream = await client.get("/live/stream", headers={"Authorization": "Bearer tok-sam"})
            assert stream.headers["Content-Type"] == "text/event-stream"
            assert await stream.content.readline() == b"retry: 2000\n"
            await stream.content.readline()
            for a in result.actions:
                board.add_action(a.model_dump_json().encode())
            assert (await asyncio.wait_for(stream.content.readline(), 5)).startswith(b"id: ")
            line = await stream.content.readline()
            message = orjson.loads(line.removeprefix(b"data: "))
            orders = {r["order"] for r in message["rows"]}
            assert orders == {"B-1"}  # store-a's decisions are not sent to store-b's manager
            assert all(set(r) == {"id", "at", "order", "store", "rule", "what", "why"} for r in message["rows"])
            stream.close()
        finally:
            await close(closers)

    asyncio.run(go())


def _action(i: int, template: Action) -> bytes:
    return template.model_copy(update={"action_id": f"act-{i:024x}"}).model_dump_json().encode()


def test_memory_is_bounded_and_a_slow_viewer_loses_rows_not_the_reader() -> None:
    template = engine_run().actions[0]
    board = Board(feed_size=100, orders_indexed=100)
    from streams.console.board import QUEUE_MAX, Filter
    from streams.console.settings import ANONYMOUS

    sub = board.subscribe(ANONYMOUS, Filter())
    for i in range(QUEUE_MAX + 500):
        board.add_action(_action(i, template))
    assert len(board.actions) == 100
    assert sub.queue.qsize() == QUEUE_MAX and sub.dropped == 500
    board.add_action(_action(1, template))  # a repeat of a decision is shown once
    assert sum(1 for a in board.actions if a["action_id"] == f"act-{1:024x}") <= 1
    for i in range(300):
        board.add_event(orjson.dumps({"event_id": f"e{i}", "order_id": f"O{i}", "type": "order.paid",
                                      "occurred_at": "2026-11-20T10:00:00Z"}))  # fmt: skip
    assert len(board.orders) == 100


def test_a_reconnecting_live_page_gets_what_it_missed(tmp_path: Path) -> None:
    result = engine_run()

    async def go() -> None:
        board = Board()
        client, closers = await console_client(tmp_path, board, worker_app(result))
        try:
            first, rest = result.actions[:1], result.actions[1:]
            feed(board, first)
            seen = board.seq
            feed(board, rest)  # decided while the page was away
            stream = await client.get("/live/stream", headers={"Last-Event-ID": str(seen)})
            assert await stream.content.readline() == b"retry: 2000\n"
            await stream.content.readline()
            event_id = await asyncio.wait_for(stream.content.readline(), 5)
            data = await stream.content.readline()
            assert event_id == f"id: {board.seq}\n".encode()
            rows = orjson.loads(data.removeprefix(b"data: "))["rows"]
            assert [r["id"] for r in rows] == [a.action_id for a in rest]  # oldest first, nothing twice
            stream.close()
        finally:
            await close(closers)

    asyncio.run(go())


def test_without_sign_in_it_answers_loopback_names_only(tmp_path: Path) -> None:
    board, result = _board()

    async def go() -> None:
        client, closers = await console_client(tmp_path, board, worker_app(result))
        try:
            assert (await client.get("/live")).status == 200
            assert (await client.get("/live", headers={"Host": "localhost:6070"})).status == 200
            rebound = await client.get("/live", headers={"Host": "attacker.example:6070"})
            assert rebound.status == 421
        finally:
            await close(closers)

    asyncio.run(go())
