"""The demo's built-in receiver behaves as docs/executor.md asks a store's endpoint to: it refuses a bad
signature, refunds once per Idempotency-Key, and its unreliable answers are the executor's to retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp

from models.actions import dump_action
from streams.demo.receiver import DemoReceiver, Odds
from streams.executor.signing import webhook_headers
from tests.unit.executor.factories import SECRET, refund

RELIABLE = Odds(busy=0, throttled=0, slow=0, down=0)


async def post(port: int, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}/refunds", data=body, headers=headers) as resp,
    ):
        return resp.status


def calls(receiver: DemoReceiver, *bodies: tuple[bytes, dict[str, str]]) -> list[int]:
    async def main() -> list[int]:
        runner, port = await receiver.serve()
        try:
            return [await post(port, body, headers) for body, headers in bodies]
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def signed(action_id: str, body: bytes) -> dict[str, str]:
    return webhook_headers(SECRET, action_id, body, datetime.now(UTC))


def test_refunds_once_per_idempotency_key_and_refuses_a_bad_signature() -> None:
    action = refund(amount="25.00")
    body = dump_action(action)
    receiver = DemoReceiver(SECRET, odds=RELIABLE)
    tampered = body.replace(b"25.00", b"2500.00")
    answers = calls(receiver, (body, signed(action.action_id, body)), (body, signed(action.action_id, body)),
                    (tampered, signed(action.action_id, body)))  # fmt: skip
    assert answers == [200, 200, 401]
    assert receiver.counts["refunds"] == 1 and receiver.counts["repeats"] == 1
    assert receiver.counts["bad_signature"] == 1
    assert [d.answer for d in receiver.recent] == ["200 refunded", "200 repeat: already refunded, not again"]
    assert receiver.recent[0].what == "refund customer 25.00 USD"


def test_an_endpoint_that_is_down_never_refunds() -> None:
    action = refund()
    body = dump_action(action)
    receiver = DemoReceiver(SECRET, odds=Odds(down=1.0))
    assert calls(receiver, *[(body, signed(action.action_id, body))] * 3) == [503, 503, 503]
    assert receiver.counts["refunds"] == 0


def test_the_odds_are_seeded_per_action_and_attempt() -> None:
    odds = Odds()
    draws = [odds.answer(11, f"act-{i}", 1) for i in range(2000)]
    assert draws == [odds.answer(11, f"act-{i}", 1) for i in range(2000)]
    share = {a: draws.count(a) / len(draws) for a in set(draws)}
    assert share["ok"] > 0.7 and 0 < share["down"] < 0.06 and share["busy"] > 0.05, share
