"""Topic administration that depends on nothing above it: create the topics postsale needs, check their partitions.

Used by the worker's and the executor's start-up (when the settings allow creating topics), the demo and the
tests. Plain Kafka admin API: nothing here is specific to a broker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

# aiokafka ships no type information.
from aiokafka.admin import (  # type: ignore[import-untyped,unused-ignore]
    AIOKafkaAdminClient,
    NewTopic,
)

_T = TypeVar("_T")

#: Kafka error code TOPIC_ALREADY_EXISTS; creating an existing topic is fine.
_TOPIC_ALREADY_EXISTS = 36
#: Kafka's own defaults, written explicitly because Tansu's DescribeConfigs
#: only reports configs that were set when the topic was created.
_DEFAULT_TOPIC_CONFIGS: Mapping[str, str] = {
    "retention.ms": "604800000",  # 7 days
    "retention.bytes": "-1",  # unbounded
}


class BrokerError(RuntimeError):
    """A broker is missing, did not come up, refused a topic, or misbehaved."""


def normalize_bootstrap(bootstrap: str) -> list[str]:
    """Turn ``"kafka://h1:9092;h2:9092"`` or ``"h1:9092,h2:9092"`` into hosts.

    Faust settings use ``kafka://`` URLs (several hosts separated by ``;`` or
    ``,``); aiokafka wants bare ``host:port`` strings.  Accept both so that a
    single configured broker address serves both libraries.
    """
    hosts: list[str] = []
    for raw in bootstrap.replace(";", ",").split(","):
        host = raw.strip()
        if "://" in host:
            host = host.split("://", 1)[1]
        host = host.rstrip("/")
        if host:
            hosts.append(host)
    if not hosts:
        raise ValueError(f"no broker address in {bootstrap!r}")
    return hosts


def run_blocking(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from synchronous code.

    ``asyncio.run`` refuses to run inside a running event loop (an async test,
    a Faust worker), so in that case the coroutine gets its own loop in a
    short-lived thread.  The caller blocks either way: that is the contract of
    the sync wrappers.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


async def create_topics(
    bootstrap: str,
    names: Sequence[str],
    partitions: int,
    configs: Mapping[str, str] | None = None,
    compacted: Sequence[str] = (),
    *,
    replication_factor: int = 1,
    admin_options: Mapping[str, Any] | None = None,
) -> None:
    """Create topics if missing; existing ones are accepted as they are.

    Every topic gets ``retention.ms``, ``retention.bytes`` and
    ``cleanup.policy`` written explicitly (Kafka's defaults unless ``configs``
    says otherwise): Tansu's DescribeConfigs only reports what was set at
    creation, and an explicit value documents intent on a real cluster too.
    Topics named in ``compacted`` get ``cleanup.policy=compact``.

    An existing topic with a different partition count is an error, because
    co-partitioning of ``orders``/``shipments``/``disputes`` depends on it.

    Args:
        bootstrap: ``host:port[,host:port]`` or a ``kafka://`` URL.
        names: Topics to create.
        partitions: Partition count of every topic.
        configs: Topic configs applied to every topic (strings, Kafka names).
        compacted: Subset of ``names`` to create compacted.
        replication_factor: 1 on the embedded broker; 3 on a real cluster.
        admin_options: Extra ``AIOKafkaAdminClient`` arguments (TLS, SASL).

    Raises:
        ValueError: ``compacted`` names a topic not in ``names``.
        BrokerError: the broker refused a topic, or an existing topic has a
            different partition count.
    """
    unknown = sorted(set(compacted) - set(names))
    if unknown:
        raise ValueError(f"compacted topics not in names: {unknown}")
    if partitions < 1:
        raise ValueError("partitions must be >= 1")
    base = {**_DEFAULT_TOPIC_CONFIGS, "cleanup.policy": "delete", **(configs or {})}
    new_topics = [
        NewTopic(
            name,
            partitions,
            replication_factor,
            topic_configs={**base, "cleanup.policy": "compact"} if name in compacted else base,
        )
        for name in dict.fromkeys(names)  # dedupe, keep order
    ]
    if not new_topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=normalize_bootstrap(bootstrap), **dict(admin_options or {}))
    await admin.start()
    try:
        response = await admin.create_topics(new_topics)
        failures = [
            f"{err[0]}: error {err[1]} {err[2] if len(err) > 2 else ''}".rstrip()
            for err in response.topic_errors
            if err[1] not in (0, _TOPIC_ALREADY_EXISTS)
        ]
        if failures:
            raise BrokerError("could not create topics: " + "; ".join(failures))
        described = await admin.describe_topics([t.name for t in new_topics])
        wrong = [f"{t['topic']} has {len(t['partitions'])}" for t in described if len(t["partitions"]) != partitions]
        if wrong:
            raise BrokerError(f"existing topics have a partition count other than {partitions}: " + ", ".join(wrong))
    finally:
        await admin.close()


def create_topics_sync(
    bootstrap: str,
    names: Sequence[str],
    partitions: int,
    configs: Mapping[str, str] | None = None,
    compacted: Sequence[str] = (),
    *,
    replication_factor: int = 1,
    admin_options: Mapping[str, Any] | None = None,
) -> None:
    """Blocking :func:`create_topics`, usable with or without a running loop."""
    run_blocking(
        lambda: create_topics(
            bootstrap,
            names,
            partitions,
            configs,
            compacted,
            replication_factor=replication_factor,
            admin_options=admin_options,
        )
    )
