"""The executor's settings: its own (POSTSALE_EXECUTOR_*) next to the worker's broker and security settings.

Broker URLs, TLS and SASL are not repeated here: `kafka` is the same
`streams.settings.Settings` the worker reads (POSTSALE_BROKERS, …), so one
environment configures both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.settings import Settings, build_settings, load_settings

PREFIX = "POSTSALE_EXECUTOR_"


class ExecutorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    kafka: Settings = Field(description="Broker, topics and security: the worker's own settings (POSTSALE_*).")
    config_file: Path | None = Field(default=None, description="executor.yaml; required unless dry_run.")
    dry_run: bool = Field(default=False, description="Log every action; call nothing, write nothing, commit nothing.")
    group_id: str = Field(default="postsale-executor", pattern=r"^[A-Za-z0-9._-]+$")
    topic_failed: str = Field(default="actions.failed", description="Dead letters: actions given up on or rejected.")
    topic_outcomes: str = Field(default="postsale-executor-outcomes", description="Compacted, keyed by action id.")
    topic_held: str = Field(default="postsale-executor-held", description="Compacted: refunds held by the breaker.")
    topic_audit: str = Field(
        default="postsale-audit", description="Who released or dropped a held refund, and why (keyed by order id)."
    )
    metrics_enabled: bool = True
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=6067, ge=0, le=65535)
    stores_max: int = Field(default=100, ge=1, description="Store labels exported at most (the rest: `other`).")
    max_poll_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Longest a batch may take, retries included, before the group evicts us."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ExecutorSettings:
        if self.config_file is None and not self.dry_run:
            raise ValueError("config_file is required unless dry_run is set")
        k = self.kafka
        mine = {self.topic_failed, self.topic_outcomes, self.topic_held, self.topic_audit}
        if len(mine) != 4 or mine & {k.topic_actions, *k.input_topics, k.topic_dead_letter}:
            raise ValueError(
                "topic_failed, topic_outcomes, topic_held and topic_audit must differ from each other and the worker's"
            )
        return self


def load_executor_settings(kafka: dict[str, Any] | None = None, **overrides: Any) -> ExecutorSettings:
    """POSTSALE_* (via `load_settings`) and POSTSALE_EXECUTOR_* with flag overrides; `SettingsError` names each
    bad variable."""
    return build_settings(ExecutorSettings, PREFIX, kafka=load_settings(**(kafka or {})), **overrides)
