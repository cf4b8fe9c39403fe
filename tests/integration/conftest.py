"""Integration tests speak Kafka to a real Kafka-protocol broker that this session starts (never skipped)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.embedded_broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b
