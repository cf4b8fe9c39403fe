"""Standard Webhooks headers for one delivery, signed through the `standardwebhooks` package.

`webhook-id` is the action id, so a receiver's replay protection and its
idempotency both key on the decision; it is also sent as `Idempotency-Key`
for receivers (payment APIs) that look for that header instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import floor

from standardwebhooks import Webhook


def webhook_headers(secret: str, action_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """Headers of one attempt. `now` (aware) is the signing time; each attempt is signed anew, so a retry
    an hour later is not refused as too old, while the id stays the same."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # The package formats `timestamp.replace(tzinfo=UTC)`: hand it UTC, or a +08:00 time would be shifted.
    at = now.astimezone(UTC)
    signature = Webhook(secret).sign(msg_id=action_id, timestamp=at, data=body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": action_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": signature,
        "idempotency-key": action_id,
    }
