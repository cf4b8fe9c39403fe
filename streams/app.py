"""The one Faust app, wired in one place: settings → app, topics, tables, clock, metrics, agents, web.

`build(settings, policy)` returns a `Runtime` holding everything a worker
process owns. Nothing is created at import time, so tests can build as many
apps as they need, each with its own Prometheus registry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from models.policy import Policy
from rules.store_ledger import StoreTotals
from streams.alignment import PartitionAligner
from streams.clock import LiveClock
from streams.faust_fixes import PostsaleApp, PostsaleTableManager
from streams.metrics import Metrics
from streams.replay import DeadlineIndex
from streams.settings import Settings


def credentials(settings: Settings) -> faust.auth.Credentials | None:
    """Faust credentials for the configured TLS/SASL; None for plaintext."""
    ctx = settings.ssl_context()
    if settings.security_protocol.startswith("SASL"):
        assert settings.sasl_password is not None
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.get_secret_value(),
            ssl_context=ctx,
            mechanism=settings.sasl_mechanism,
        )
    if ctx is not None:
        return faust.SSLCredentials(ctx)
    return None


def make_faust_app(settings: Settings) -> faust.App:
    app = PostsaleApp(
        settings.app_id,
        broker=settings.broker_string(),
        broker_credentials=credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
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
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        logging_config=None,
        TableManager=PostsaleTableManager,
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    app: faust.App
    metrics: Metrics
    clock: LiveClock | None
    topics: dict[str, faust.TopicT]
    orders: Any  # faust Table: order_id -> encoded OrderState
    aligners: dict[int, PartitionAligner[Any]] = field(default_factory=dict)
    deadlines: dict[int, DeadlineIndex] = field(default_factory=dict)
    store_totals: dict[int, StoreTotals] = field(default_factory=dict)
    index_ready: set[int] = field(default_factory=set)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("postsale"))

    def aligner(self, partition: int) -> PartitionAligner[Any]:
        a = self.aligners.get(partition)
        if a is None:
            s = self.settings
            lateness = timedelta(seconds=s.allowed_lateness_seconds)
            idle = s.topic_idle_seconds if self.clock is None else None  # only time from events needs it
            a = self.aligners[partition] = PartitionAligner(s.input_topics, lateness=lateness, idle_after=idle)
        return a

    def totals(self, partition: int) -> StoreTotals:
        t = self.store_totals.get(partition)
        if t is None:
            t = self.store_totals[partition] = StoreTotals()
        return t

    def index(self, partition: int) -> DeadlineIndex:
        idx = self.deadlines.get(partition)
        if idx is None:
            idx = self.deadlines[partition] = DeadlineIndex()
        return idx


def build(settings: Settings, policy: Policy, registry: CollectorRegistry | None = None) -> Runtime:
    app = make_faust_app(settings)
    metrics = Metrics.create(registry if registry is not None else CollectorRegistry(), settings)
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
    from streams import agents, web

    agents.install(rt)
    if settings.web_enabled:
        web.install(rt)
    return rt
