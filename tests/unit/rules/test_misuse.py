"""misuse: the buyer misuses a working product → send usage guidance; no refund."""

from __future__ import annotations

import pytest

from tests.factories import DAY, T0, briefs, customer_refunds, delivered, dispute, placed, run, shipped


@pytest.mark.parametrize(
    "marketplace",
    ["tmall", "aliexpress", "shopify"],
    ids=["guidance on tmall", "guidance on aliexpress", "guidance on shopify"],
)
def test_misuse_gets_guidance_and_no_refund(marketplace):
    events = [
        placed(order_id="M1", marketplace=marketplace),
        shipped(order_id="M1", at=T0 + DAY),
        delivered(order_id="M1", at=T0 + 3 * DAY),
        dispute("misuse", order_id="M1", at=T0 + 5 * DAY),
    ]
    actions = run(events, until=T0 + 90 * DAY)
    assert briefs([a for a in actions if a.decided_at >= T0 + 5 * DAY]) == [
        ("send_guidance", "misuse", None, None, None)
    ]
    assert not customer_refunds(actions)
