"""The demo's executor: `postsale execute` in the demo's process, delivering refunds to the built-in receiver.

The loop the demo shows: the engine decides a refund and a "refund done within
15 working days" deadline → the executor signs and sends it to the receiver
(retrying its 5xx, 429 and timeouts) or its breaker holds it → the outcome
(`order.refunded`, `action.failed`, `action.held`) goes back to the engine's
input → the deadline is settled, or escalated. Every other action type is a
dry run (logged to the executor's log file only).

The engine runs in simulated time, so the executor's clock (outcome times, the
breaker's hours) is the simulated one, extrapolated from the first event the
way the simulated producer's clock ticks are; webhook signatures carry the
wall clock, which the receiver checks.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from rich import box
from rich.table import Table

from models.actions import CUSTOMER_MONEY
from streams.demo.receiver import DemoReceiver
from streams.executor.config import ExecutorConfig, load_config, resolve_secrets
from streams.executor.consumer import Executor, utcnow
from streams.executor.metrics import ExecutorMetrics
from streams.executor.metrics_server import start_metrics_server
from streams.executor.settings import ExecutorSettings
from streams.settings import Settings
from streams.terminal import cell

SECRET_ENV = "POSTSALE_DEMO_WEBHOOK_SECRET"  # noqa: S105 - the name of a variable, not a secret
# Limits sized to the simulated store's refunds (USD: median 28, 95th percentile 110; CNY: 196 and 980): about
# one customer refund in twenty is above the single-refund limit and is held for a person.
CONFIG = """\
# The demo's executor.yaml (see docs/executor.md): refunds go to the built-in receiver, the rest is logged.
endpoints:
  default: {{kind: dry_run}}
  refund:
    kind: webhook
    url: http://127.0.0.1:{port}/refunds
    secret_env: POSTSALE_DEMO_WEBHOOK_SECRET
    timeout_seconds: 1
retry: {{max_attempts: 4, base_seconds: 0.2, cap_seconds: 1}}
breaker:
  limits:
    USD: {{single: 100, per_hour: 400, min_hourly_baseline: 100}}
    CNY: {{single: 900, per_hour: 3000, min_hourly_baseline: 700}}
"""


class SimClock:
    """Simulated time: the first event's time plus the wall time since, times the speed (wall time before).

    Never more than `ahead` past the latest decision seen on the actions topic: a worker that lags behind the
    simulated store would otherwise dead-letter an outcome as "from the future" (more than a day ahead of its
    clock: two wall seconds at 43,200x)."""

    def __init__(self, speed: float, ahead: timedelta = timedelta(hours=6)) -> None:
        self.speed = speed
        self.ahead = ahead
        self._origin: tuple[datetime, float] | None = None
        self._decided: datetime | None = None

    def saw(self, at: datetime) -> None:
        """An event the simulated store produced."""
        if self._origin is None:
            self._origin = (at, time.monotonic())

    def decided(self, at: datetime) -> None:
        """An action the worker decided at event time `at`."""
        if self._decided is None or at > self._decided:
            self._decided = at

    def now(self) -> datetime:
        if self._origin is None:
            return utcnow()
        at, mono = self._origin
        now = at + timedelta(seconds=(time.monotonic() - mono) * self.speed)
        if self._decided is not None:
            now = min(now, self._decided + self.ahead)
        return now


@dataclass
class DemoExecutor:
    settings: Settings
    workdir: Path
    clock: SimClock
    seed: int = 0
    metrics_port: int = 0
    receiver: DemoReceiver = field(init=False)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    receiver_port: int = 0
    # (order id, amount) of the customer refunds the engine decided: the executor reports those, so the
    # simulated store's own report of them is left out (the engine would count the refund twice).
    decided_refunds: set[tuple[str, Decimal]] = field(default_factory=set)

    def __post_init__(self) -> None:
        raw = secrets.token_bytes(24)
        self.secret = "whsec_" + base64.b64encode(raw).decode()
        self.receiver = DemoReceiver(self.secret, seed=self.seed)
        self.metrics = ExecutorMetrics.create(self.registry)
        self.config_path = self.workdir / "executor.yaml"
        self.log_path = self.workdir / "executor.log"

    def saw_action(self, action: dict[str, Any]) -> None:
        self.clock.decided(datetime.fromisoformat(action["decided_at"]))
        if action["type"] in CUSTOMER_MONEY and action.get("party") == "customer" and action.get("amount") is not None:
            self.decided_refunds.add((action["order_id"], Decimal(action["amount"])))

    def reported_by_executor(self, event: dict[str, Any]) -> bool:
        return (
            event["type"] == "order.refunded"
            and event.get("party") == "customer"
            and (event["order_id"], Decimal(event["amount"])) in self.decided_refunds
        )

    def store_events(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The simulated store's events, less its reports of refunds the executor carries out."""
        return (e for e in events if not self.reported_by_executor(e))

    async def run(self, stop: asyncio.Event) -> None:
        """Receiver, executor metrics server and executor, until `stop`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_to_file()
        runner, self.receiver_port = await self.receiver.serve()
        metrics_runner = await start_metrics_server(self.registry, "127.0.0.1", self.metrics_port)
        try:
            self.config_path.write_text(CONFIG.format(port=self.receiver_port))
            config: ExecutorConfig = load_config(self.config_path)
            settings = ExecutorSettings(
                kafka=self.settings,
                config_file=self.config_path,
                group_id=f"{self.settings.app_id}-executor",
                metrics_enabled=False,
            )
            executor = Executor(
                settings,
                config,
                resolve_secrets(config, {SECRET_ENV: self.secret}),
                self.metrics,
                clock=self.clock.now,
                signing_clock=utcnow,
            )
            await executor.run(stop)
        finally:
            await metrics_runner.cleanup()
            await runner.cleanup()

    def _log_to_file(self) -> None:
        # Every dry run and retry is a log line: to the file, not over the demo's live table.
        log = logging.getLogger("postsale.executor")
        handler = logging.FileHandler(self.log_path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

    def release_setup(self) -> tuple[ExecutorConfig, dict[str, SecretStr]] | None:
        """The config and secret a person's release delivers with (the console's), once the receiver is up."""
        if not self.config_path.exists():
            return None
        config = load_config(self.config_path)
        return config, resolve_secrets(config, {SECRET_ENV: self.secret})

    def count(self, outcome: str) -> int:
        """Deliveries of customer money (refunds and abandoned returns) with this outcome."""
        get = self.registry.get_sample_value
        return int(
            sum(
                get("postsale_executor_deliveries_total", {"action_type": t, "outcome": outcome}) or 0
                for t in CUSTOMER_MONEY
            )
        )

    def retries(self) -> int:
        get = self.registry.get_sample_value
        return int(sum(get("postsale_executor_retries_total", {"action_type": t}) or 0 for t in CUSTOMER_MONEY))

    def summary(self) -> str:
        return (
            f"executor: {self.count('done')} refunds done, {self.retries()} retries, "
            f"{self.count('held')} held for a person, {self.count('failed') + self.count('rejected')} failed; "
            f"{self.receiver.summary()}"
        )

    def table(self) -> Table:
        url = f"http://127.0.0.1:{self.receiver_port}/refunds"
        table = Table(
            title=f"refunds the executor sent to the built-in receiver ({url})",
            expand=True,
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        for col in ("at (UTC)", "order", "refund", "call"):
            table.add_column(col, no_wrap=True)
        table.add_column("receiver answered", no_wrap=True, overflow="ellipsis", ratio=1)
        for d in reversed(self.receiver.recent):
            table.add_row(d.at.strftime("%H:%M:%S"), cell(d.order_id), cell(d.what), f"#{d.attempt}", cell(d.answer))
        table.caption = self.summary()
        return table
