"""The order view of real workers on a real broker: tokens scoped to stores, the same 404 for an order outside
the caller's stores as for a missing one, the scope kept when a worker forwards a request to the partition's
owner, and requests no client should send refused in one log line."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.demo.broker import EmbeddedBroker
from streams.kafka.partitioning import partition_for
from tests.integration.kafka import free_port, new_wire, produce_events, send_clock, start_worker
from tests.integration.reference import replay_actions
from tests.integration.test_worker import simulated, wait_for_actions

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ADMIN = "ops-all-stores-7f3a"  # noqa: S105 - test tokens
ONE_STORE = "one-store-19be"  # noqa: S105


def get(port: int, path: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(  # noqa: S310 - a local worker
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:  # noqa: S310
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, orjson.loads(body) if body.startswith(b"{") else {"raw": body.decode(errors="replace")}


def raw_http(port: int, request: bytes) -> int:
    """Send bytes as they are (no client library would); the status of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as resp:  # noqa: S310
            return bool(orjson.loads(resp.read())["ready"])
    except (OSError, ValueError):
        return False


def test_tokens_see_their_stores_through_any_worker_and_bad_requests_cost_one_line(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    events, _ = simulated(seed=23, orders=60)
    until = datetime.fromisoformat(events[-1]["occurred_at"]) + timedelta(days=1)  # orders still open
    expected = replay_actions(events, until)
    store_of = {e["order_id"]: e["store_id"] for e in events if e["type"] == "order.placed"}
    stores = sorted(set(store_of.values()))
    assert len(stores) >= 2, stores
    mine, other = stores[0], stores[1]
    tokens = tmp_path / "order-view-tokens"
    tokens.write_text(f"# the order view's tokens per store\n{mine}:{ONE_STORE}\n")
    wire = new_wire(broker, "view-scope")
    ports = [free_port(), free_port()]
    workers = [
        start_worker(
            wire,
            tmp_path,
            f"w{i}",
            POSTSALE_WEB_ENABLED="true",
            POSTSALE_WEB_PORT=str(port),
            POSTSALE_ORDER_VIEW_TOKEN=ADMIN,
            POSTSALE_ORDER_VIEW_TOKENS_FILE=str(tokens),
        )
        for i, port in enumerate(ports)
    ]
    try:
        produce_events(wire, events)
        send_clock(wire, until)
        wait_for_actions(wire, expected)
        deadline = time.monotonic() + 60
        while not all(ready(p) for p in ports):
            assert time.monotonic() < deadline, "both workers ready, each owning partitions"
            time.sleep(0.2)
        open_orders = [o for o in sorted(store_of) if get(ports[0], f"/orders/{o}", ADMIN)[0] == 200]
        sample = [o for o in open_orders if store_of[o] == mine][:8] + [o for o in open_orders if store_of[o] == other][
            :8
        ]
        assert len({partition_for(o.encode(), wire.partitions) for o in sample}) >= 4, "orders of both workers"
        missing = {p: get(p, "/orders/NO-SUCH-ORDER", ONE_STORE) for p in ports}
        answers = {(o, p): get(p, f"/orders/{o}", ONE_STORE) for o in sample for p in ports}
        # Requests no client should send: bytes that are not UTF-8 in the token, a 100 KB URL, a 20 KB header.
        not_utf8 = raw_http(
            ports[0],
            b"GET /orders/"
            + sample[0].encode()
            + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\xc0\r\n\r\n",
        )
        long_url = raw_http(ports[0], b"GET /orders/" + b"A" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        long_header = raw_http(ports[0], b"GET /orders/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n")
        # A caller with a good token and a header that is not UTF-8: answered here, or by the owner, or 502.
        junk_header = [
            raw_http(
                port,
                f"GET /orders/{o} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n".encode()
                + b"X-Junk: \xff\xfe\r\n\r\n",
            )
            for o in sample
            for port in ports
        ]
        faust_table = get(ports[0], f"/table/{wire.prefix}-orders/{sample[0]}/")[0]
        no_token = get(ports[1], f"/orders/{sample[0]}")
        wrong = get(ports[1], f"/orders/{sample[0]}", "ops-all-stores-7f3")
    finally:
        for w in workers:
            w.stop()
    for (order, port), (status, body) in answers.items():
        if store_of[order] == mine:
            assert status == 200 and body["order_id"] == order and body["store_id"] == mine, (order, port, body)
        else:  # another store's order: exactly what a missing order answers, whichever worker owns it
            assert (status, body) == (404, dict(missing[port][1], order_id=order)), (order, port, body)
    assert missing[ports[0]][0] == 404 and missing[ports[0]] == missing[ports[1]]
    assert no_token[0] == 401 and wrong[0] == 401
    assert (not_utf8, long_url, long_header) == (401, 414, 431)
    assert set(junk_header) <= {200, 502}, junk_header
    assert faust_table == 404, "Faust's /table pages would serve the orders table past the token"
    for w in workers:
        text = w.log_text()
        assert "Traceback" not in text and "Error handling request" not in text, text[-3000:]
    log = workers[0].log_text()
    refused = [line for line in log.splitlines() if "refused a request" in line]
    assert len(refused) == 2 and "HTTP 414" in refused[0] and "HTTP 431" in refused[1], refused
