"""The event digests and action ids are BLAKE2b of their inputs, whatever object computes them: they are stored."""

from __future__ import annotations

import hashlib

import pytest

from models.actions import action_id_for
from rules.engine import event_digest


@pytest.mark.parametrize("event_id", ["evt-1", "e", "evt-8f14e45f-0001", "订单-1", "x" * 128])
def test_an_event_digest_is_the_first_8_bytes_of_blake2b(event_id: str) -> None:
    expected = int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")
    assert event_digest(event_id) == expected
    assert event_digest(event_id) == expected  # the shared hasher is copied, never fed


def test_an_action_id_is_blake2b_of_order_rule_type_and_key() -> None:
    for args in [("TM-1", "no_stock", "refund", "supplier-attempt-0"), ("A", "promotion", "notify_customer", "k")]:
        digest = hashlib.blake2b("\x1f".join(args).encode(), digest_size=12).hexdigest()
        assert action_id_for(*args) == "act-" + digest
        assert action_id_for(*args) == "act-" + digest
