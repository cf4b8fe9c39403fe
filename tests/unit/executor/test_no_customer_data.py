"""Customer data never leaves the executor through a log line, a dead letter's reason, an event it publishes or an
error message: on every path, a record carrying a buyer's name, phone, e-mail and address (`models.events.Buyer`)
is described by its fields and error types only."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from models.actions import dump_action
from streams.executor.config import ConfigError, all_dry_run, parse_config, resolve_secrets
from streams.executor.consumer import Executor, utcnow
from streams.executor.delivery import Deliverer
from streams.executor.dry_run import describe
from streams.executor.journal import Journal, JournalError
from streams.executor.metrics import ExecutorMetrics
from streams.executor.settings import ExecutorSettings
from streams.settings import Settings
from tests.unit.executor.factories import SECRET, refund

BUYER = {
    "name": "Zhang Weimarker",
    "phone": "+86 138 0000 1234",
    "email": "weimarker@example.cn",
    "address": "88 Markerstreet, Pudong, Shanghai",
}
TRACES = [*BUYER.values(), "Weimarker", "138 0000", "Markerstreet", "example.cn"]


def _valid() -> dict[str, Any]:
    return json.loads(dump_action(refund()))


def _with(**changes: Any) -> bytes:
    return json.dumps({**_valid(), **changes}).encode()


INVALID: dict[str, bytes] = {
    "buyer fields added to the action": _with(buyer=BUYER),
    "phone as order id": _with(order_id=BUYER["phone"]),
    "name as store id": _with(store_id=BUYER["name"]),
    "name as party": _with(party=BUYER["name"]),
    "e-mail as amount": _with(amount=BUYER["email"]),
    "buyer as reason": _with(reason=BUYER),
    "address as caused_by": _with(caused_by=BUYER["address"]),
    "address as type": _with(type=BUYER["address"]),
    "phone as a key": _with(**{BUYER["phone"]: BUYER["address"]}),
    "address as a time": _with(decided_at=BUYER["address"]),
    "not JSON": f"refund {BUYER['name']} at {BUYER['address']}, call {BUYER['phone']}".encode(),
    "cut JSON": _with(reason=BUYER["address"])[:-20],
    "not UTF-8": b'{"reason": "' + BUYER["phone"].encode() + b'\xff\xfe"}',
    "a list": json.dumps(list(BUYER.values())).encode(),
}


class Producer:
    """Records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, Any]] = []

    async def send_and_wait(self, topic: str, value: bytes | None = None, key: bytes | None = None, **kw: Any) -> None:
        self.sent.append((topic, value, key, kw.get("headers")))


def _leaks(text: str) -> list[str]:
    return [t for t in TRACES if t.lower() in text.lower()]


def _setup(cfg_text: str | None = None) -> tuple[Executor, Journal, Producer]:
    settings = ExecutorSettings(kafka=Settings(), dry_run=True)
    cfg = all_dry_run() if cfg_text is None else parse_config(cfg_text)
    metrics = ExecutorMetrics.create(CollectorRegistry())
    producer = Producer()
    journal = Journal(settings, cfg.breaker, metrics, producer)  # type: ignore[arg-type]
    executor = Executor(settings, cfg, {"S": SecretStr(SECRET)}, metrics, sleep=_no_sleep)
    return executor, journal, producer


async def _no_sleep(_: float) -> None:
    return None


def _letters(producer: Producer, topic: str) -> Iterator[dict[str, Any]]:
    for t, value, _, _ in producer.sent:
        if t == topic and value is not None:
            yield orjson.loads(value)


@pytest.mark.parametrize("raw", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_action_is_dead_lettered_and_logged_by_field_and_error_type(raw: bytes, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    executor, journal, producer = _setup()

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            deliverer = Deliverer(executor.config, executor.secrets, executor.metrics, session, clock=utcnow)
            await executor.handle(journal, deliverer, raw)

    asyncio.run(main())
    [letter] = _letters(producer, executor.settings.topic_failed)
    assert letter["status"] == "invalid" and letter["reason"]
    assert _leaks(letter["reason"]) == []
    assert letter["record"] == raw.decode(errors="replace")  # the record as it came, for a person to fix
    assert [h for *_, h in producer.sent if h] == []  # no headers at all
    assert "invalid action dead-lettered" in caplog.text and _leaks(caplog.text) == []
    line = describe(executor.config, raw)
    assert line.startswith("invalid action") and _leaks(line) == []


def test_the_reason_names_the_field_and_the_error_type() -> None:
    executor, journal, producer = _setup()

    async def main() -> None:
        for raw in (INVALID["phone as order id"], INVALID["buyer fields added to the action"]):
            await executor.handle(journal, None, raw)  # type: ignore[arg-type]

    asyncio.run(main())
    reasons = [letter["reason"] for letter in _letters(producer, executor.settings.topic_failed)]
    assert reasons == ["order_id: string_pattern_mismatch", "buyer: extra_forbidden"]


CONFIG = """\
endpoints:
  refund: {{kind: webhook, url: 'http://127.0.0.1:{port}/hook', secret_env: S, timeout_seconds: 2}}
retry: {{max_attempts: 2, base_seconds: 1, cap_seconds: 2}}
breaker: {{limits: {{USD: {{single: 100, per_hour: 1000}}}}}}
"""


@pytest.mark.parametrize(
    ("status", "amount", "outcome"),
    [(400, "25.00", "failed"), (422, "25.00", "rejected"), (503, "25.00", "failed"), (200, "500.00", "held")],
    ids=["setup fault", "refused", "given up", "held by the breaker"],
)
def test_an_action_whose_text_quotes_the_buyer_is_not_quoted_back(status, amount, outcome, caplog) -> None:
    """A rule's reason can quote an event's text; failures, holds and dry runs report the action by id."""
    caplog.set_level(logging.DEBUG)
    quoting = f"carrier said: deliver to {BUYER['name']}, {BUYER['address']}, {BUYER['phone']}, {BUYER['email']}"
    action = refund(amount=amount, reason=quoting)

    async def main() -> tuple[str, Producer, str]:
        async def hook(_: web.Request) -> web.Response:
            return web.Response(status=status, text=f"unknown customer {BUYER['email']}")

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            executor, journal, producer = _setup(CONFIG.format(port=runner.addresses[0][1]))
            async with aiohttp.ClientSession() as session:
                deliverer = Deliverer(
                    executor.config, executor.secrets, executor.metrics, session, clock=utcnow, sleep=_no_sleep
                )
                got = await executor.deliver(journal, deliverer, action, breaker=True)
            return got, producer, executor.settings.topic_failed
        finally:
            await runner.cleanup()

    got, producer, failed_topic = asyncio.run(main())
    assert got == outcome
    assert _leaks(caplog.text) == []
    for topic, value, _, headers in producer.sent:
        assert headers is None
        record = orjson.loads(value or b"null")
        if topic == failed_topic:
            assert _leaks(record["reason"]) == []
        elif isinstance(record, dict) and "reason" in record and "action" not in record:
            assert _leaks(record["reason"]) == [], topic  # outcome records and action.failed/held events


def test_a_dry_run_logs_the_action_without_its_text(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    action = refund(reason=f"deliver to {BUYER['address']}", notice="interception_failed")

    async def main() -> str:
        async with aiohttp.ClientSession() as session:
            d = Deliverer(all_dry_run(), {}, ExecutorMetrics.create(CollectorRegistry()), session, clock=utcnow)
            return (await d.deliver(action)).status

    assert asyncio.run(main()) == "dry_run"
    assert action.action_id in caplog.text and "customer 25.00 USD" in caplog.text
    assert _leaks(caplog.text) == [] and _leaks(describe(all_dry_run(), dump_action(action))) == []


@pytest.mark.parametrize("which", ["outcome", "held"])
def test_an_unreadable_record_of_the_executors_own_topics_stops_it_without_quoting_it(which: str) -> None:
    _, journal, _ = _setup()
    value = json.dumps({"action_id": "act-1", "reason": BUYER["address"], "status": BUYER["phone"]}).encode()
    read = journal._on_outcome if which == "outcome" else journal._on_held
    with pytest.raises(JournalError) as caught:
        read(b"act-1", value)
    assert "act-1" in str(caught.value) and _leaks(str(caught.value)) == []


@pytest.mark.parametrize(
    "secret",
    ["whsec_abcde", "whsec_" + BUYER["phone"], "whsec_", "whsec_QUJD", "whsec_" + "QUJD" * 30, "not-a-secret"],
    ids=["bad padding", "not base64", "empty", "3 bytes", "90 bytes", "no prefix, not base64"],
)
def test_a_malformed_webhook_secret_stops_the_start_naming_store_and_field_not_value(secret: str) -> None:
    cfg = parse_config(
        "endpoints:\n  refund: {kind: webhook, url: 'https://pay.example/x', secret_env: POSTSALE_SECRET}\n"
        "stores:\n  store-hz-01: {secret_env: POSTSALE_SECRET_HZ01}\n"
        "breaker: {limits: {USD: {single: 1, per_hour: 2}}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        resolve_secrets(cfg, {"POSTSALE_SECRET": SECRET, "POSTSALE_SECRET_HZ01": secret})
    message = str(caught.value)
    assert caught.value.problems == [(None, "stores.store-hz-01.secret_env", caught.value.problems[0][2])]
    assert "POSTSALE_SECRET_HZ01" in message and "\n" not in message
    body = secret.removeprefix("whsec_")
    assert not body or body not in message
    assert _leaks(message) == []


def test_a_well_formed_secret_with_or_without_its_prefix_is_accepted() -> None:
    cfg = parse_config(
        "endpoints:\n  refund: {kind: webhook, url: 'https://pay.example/x', secret_env: S}\n"
        "breaker: {limits: {USD: {single: 1, per_hour: 2}}}\n"
    )
    for secret in (SECRET, SECRET.removeprefix("whsec_"), "whsec_" + "QUJD" * 8):
        assert resolve_secrets(cfg, {"S": secret})["S"].get_secret_value() == secret
