"""The one place the worker is wired: settings → Faust app, topics, tables, clock, metrics, agents, web.

`build(settings, policy)` returns a `Runtime` holding everything a worker
process owns. Nothing is created at import time, so tests can build as many
apps as they need, each with its own Prometheus registry.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import faust
from prometheus_client import CollectorRegistry

from models.policy import Policy
from streams.kafka.auth import credentials
from streams.kafka.faust_fixes import OwnedChangelogTable, PostsaleApp, PostsaleTableManager
from streams.kafka.partitioning import crc32_partitioner
from streams.settings import Settings
from streams.worker import agents, standing, web
from streams.worker.clock import LiveClock
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime
from streams.worker.sensors import FaustSensors


def _data_dir(settings: Settings) -> Path:
    """RocksDB state lives in `data_dir`; with the memory store nothing is kept, so Faust's directory is a
    temporary one removed at exit, and a worker never leaves `./postsale-data` behind."""
    if settings.store.startswith("rocksdb"):
        return settings.data_dir
    path = Path(tempfile.mkdtemp(prefix="postsale-worker-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def make_faust_app(settings: Settings) -> faust.App:
    app = PostsaleApp(
        settings.app_id,
        broker=settings.broker_string(),
        broker_credentials=credentials(settings),
        store=settings.store,
        datadir=str(_data_dir(settings)),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=settings.create_topics,
        table_standby_replicas=settings.standby_replicas,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=settings.heartbeat_interval_seconds,
        broker_rebalance_timeout=max(30.0, settings.session_timeout_seconds * 3),
        consumer_auto_offset_reset="earliest",
        # Held events (see alignment) are unacknowledged on purpose: a rebalance must not wait for them.
        stream_wait_empty=False,
        producer_acks=-1,
        producer_linger=settings.producer_linger_ms / 1000,
        broker_commit_interval=settings.commit_interval_seconds,
        web_enabled=settings.web_enabled,
        web_bind=settings.web_host,
        web_host=settings.web_advertised_host or settings.web_host,
        web_port=settings.web_port,
        # Faust's own pages would serve table values (/table: every order's state, past the order view's token),
        # the cluster's layout (/router) and internals; the worker serves only its own pages (streams/worker/web.py).
        # Forwarding an order-view request to the partition's owner does not use them.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        logging_config=None,
        TableManager=PostsaleTableManager,
        Table=OwnedChangelogTable,
        # Where the app itself routes a key (the order view's forwarding): as the producers partition.
        producer_partitioner=crc32_partitioner if settings.partitioner == "crc32" else None,
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app


def build(settings: Settings, policy: Policy, registry: CollectorRegistry | None = None) -> Runtime:
    app = make_faust_app(settings)
    metrics = Metrics.create(registry if registry is not None else CollectorRegistry(), settings, policy.version)
    app.monitor = FaustSensors(metrics, (*settings.input_topics, settings.topic_ticks))
    clock = None
    if settings.clock_speed != 1.0 or settings.clock_origin is not None:
        origin = datetime.fromisoformat(settings.clock_origin) if settings.clock_origin else None
        clock = LiveClock(settings.clock_speed, origin)
    elif settings.clock_mode == "wall":
        clock = LiveClock()
    topics = {
        name: app.topic(name, partitions=settings.partitions, key_type=bytes, value_type=bytes)
        for name in (*settings.input_topics, settings.topic_ticks)
    }
    topics["actions"] = app.topic(
        settings.topic_actions, partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    topics["dead_letter"] = app.topic(
        settings.topic_dead_letter, partitions=settings.partitions, key_type=bytes, value_type=bytes
    )
    orders = app.Table("orders", default=None, partitions=settings.partitions, key_type=str, value_type=bytes)
    rt = Runtime(settings, policy, app, metrics, clock, topics, orders)
    agents.install(rt)
    standing.install(rt)
    if settings.web_enabled:
        web.install(rt)
    return rt
