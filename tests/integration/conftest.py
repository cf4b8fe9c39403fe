"""Integration tests speak Kafka to a real Kafka-protocol broker that this session starts (never skipped)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.demo.broker import EmbeddedBroker
from tests.integration.executor_support import Receiver, serve_receiver


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A store's refund endpoint (Standard Webhooks, idempotent on Idempotency-Key) on a free local port."""
    yield from serve_receiver()
