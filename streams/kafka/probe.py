"""Is the broker there? One metadata round trip before a process starts, so that a wrong address or a broker
that is down is one clear line naming the address and the setting, not a traceback from deep in a client."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.client import AIOKafkaClient  # type: ignore[import-untyped,unused-ignore]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped,unused-ignore]

from streams.kafka.auth import kafka_options
from streams.settings import Settings

BROKER_SETTING = "POSTSALE_BROKERS (or --broker)"


def unreachable(settings: Settings, timeout: float = 10.0) -> str | None:
    """None when a broker answered; else one line saying which address could not be reached and why."""
    return asyncio.run(_probe(settings, timeout))


async def _probe(settings: Settings, timeout: float) -> str | None:
    hosts = ", ".join(settings.bootstrap_servers())
    quiet = logging.getLogger("aiokafka")
    level, quiet.level = quiet.level, logging.CRITICAL  # its connection errors are what this function says, once
    client = AIOKafkaClient(**kafka_options(settings), request_timeout_ms=max(int(timeout * 1000), 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
    except (TimeoutError, KafkaError, OSError) as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        return f"cannot reach the Kafka broker at {hosts} ({why}); set {BROKER_SETTING}"
    finally:
        with contextlib.suppress(Exception):
            await client.close()
        quiet.setLevel(level)
    return None
