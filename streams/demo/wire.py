"""One set of postsale topics on a local broker, and the worker environment that points at them.

The demo, the benchmarks and the broker tests all run real workers against the embedded broker; each run gets
its own topic names and consumer group (a `Wire`), so several share one broker without seeing each other's
records. The worker is tuned for a local broker here: a short session timeout (the embedded broker completes
a JoinGroup only after half of it), half-second ticks, time from the events.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from dataclasses import dataclass

from streams.demo.broker import EmbeddedBroker
from streams.kafka.admin import create_topics

LOGICAL = ("orders", "shipments", "disputes", "actions", "dead_letter", "ticks")
INPUTS = ("orders", "shipments", "disputes")
_counter = itertools.count(1)


@dataclass
class Wire:
    broker: EmbeddedBroker
    prefix: str
    partitions: int = 8
    log_level: str = "warning"

    @property
    def topics(self) -> dict[str, str]:
        return {name: f"{self.prefix}-{name.replace('_', '-')}" for name in LOGICAL}

    @property
    def inputs(self) -> list[str]:
        return [self.topics[t] for t in INPUTS]

    def create(self) -> None:
        asyncio.run(create_topics(self.broker.bootstrap, list(self.topics.values()), self.partitions))

    def env(self, **extra: str) -> dict[str, str]:
        """`POSTSALE_*` variables of a worker on these topics; `extra` adds or overrides."""
        t = self.topics
        env = {
            "POSTSALE_BROKERS": self.broker.url,
            "POSTSALE_APP_ID": self.prefix,
            "POSTSALE_PARTITIONS": str(self.partitions),
            "POSTSALE_TOPIC_ORDERS": t["orders"],
            "POSTSALE_TOPIC_SHIPMENTS": t["shipments"],
            "POSTSALE_TOPIC_DISPUTES": t["disputes"],
            "POSTSALE_TOPIC_ACTIONS": t["actions"],
            "POSTSALE_TOPIC_DEAD_LETTER": t["dead_letter"],
            "POSTSALE_TOPIC_TICKS": t["ticks"],
            "POSTSALE_CLOCK_MODE": "events",
            "POSTSALE_SESSION_TIMEOUT_SECONDS": "6",
            "POSTSALE_HEARTBEAT_INTERVAL_SECONDS": "1",
            "POSTSALE_TICK_INTERVAL_SECONDS": "0.5",
            "POSTSALE_WEB_ENABLED": "false",
            "POSTSALE_LOG_LEVEL": self.log_level,
            "POSTSALE_STANDBY_REPLICAS": "0",
        }
        env.update(extra)
        return env


def new_wire(
    broker: EmbeddedBroker, name: str, partitions: int = 8, tag: str = "w", log_level: str = "warning"
) -> Wire:
    """A fresh set of topics, created on `broker`, named `<tag><n>-<name>-<pid>-…`."""
    wire = Wire(broker, f"{tag}{next(_counter)}-{name}-{os.getpid()}", partitions, log_level)
    wire.create()
    return wire
