"""Headers that any Standard Webhooks receiver verifies with the off-the-shelf library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from models.actions import dump_action
from streams.executor.signing import webhook_headers
from tests.unit.executor.factories import SECRET, refund


def test_receiver_verifies_body_and_id() -> None:
    action = refund()
    body = dump_action(action)
    headers = webhook_headers(SECRET, action.action_id, body, datetime.now(UTC))
    assert headers["webhook-id"] == headers["idempotency-key"] == action.action_id
    assert Webhook(SECRET).verify(body, headers)["action_id"] == action.action_id


def test_a_non_utc_signing_time_still_verifies() -> None:
    body = dump_action(refund())
    now = datetime.now(timezone(timedelta(hours=8)))
    Webhook(SECRET).verify(body, webhook_headers(SECRET, "act-1", body, now))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda body, h: (body.replace(b"25.00", b"2500.00"), h), "No matching signature"),
        (lambda body, h: (body, {**h, "webhook-id": "act-other"}), "No matching signature"),
        (lambda body, h: (body, {k: v for k, v in h.items() if k != "webhook-signature"}), "Missing required"),
    ],
)
def test_tampering_is_refused(tamper, message) -> None:  # type: ignore[no-untyped-def]
    action = refund()
    body = dump_action(action)
    body2, headers = tamper(body, webhook_headers(SECRET, action.action_id, body, datetime.now(UTC)))
    with pytest.raises(WebhookVerificationError, match=message):
        Webhook(SECRET).verify(body2, headers)


def test_old_timestamp_is_refused_and_a_retry_is_signed_anew() -> None:
    action = refund()
    body = dump_action(action)
    old = webhook_headers(SECRET, action.action_id, body, datetime.now(UTC) - timedelta(minutes=6))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(body, old)
    fresh = webhook_headers(SECRET, action.action_id, body, datetime.now(UTC))
    assert fresh["webhook-id"] == old["webhook-id"] and fresh["webhook-signature"] != old["webhook-signature"]
    Webhook(SECRET).verify(body, fresh)


def test_wrong_secret_is_refused() -> None:
    body = dump_action(refund())
    headers = webhook_headers(SECRET, "act-1", body, datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(body, headers)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        webhook_headers(SECRET, "act-1", b"{}", datetime(2026, 1, 1))  # noqa: DTZ001
