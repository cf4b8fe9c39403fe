"""`postsale demo`: the whole loop on one machine, with nothing to install but the package.

Starts the embedded Kafka-protocol broker on a free local port (unless a
broker is configured), creates the topics, starts a worker process, and runs
the simulated store with simulated time running `speed` times faster than the
wall clock. Unless `--no-executor`, the executor runs too and sends the
refunds the engine decides to a built-in Standard Webhooks receiver, whose
answers come back to the engine as events (`streams/demo/executor.py`). The
actions and the receiver's deliveries appear in live tables; the worker's
metrics and the order view are on its web port. Ctrl-C or `--duration` stops
everything, and no process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from rich.console import Console, Group
from rich.live import Live

from models.policy_file import load_policy
from streams.demo.broker import EmbeddedBroker
from streams.demo.executor import DemoExecutor, SimClock
from streams.demo.ports import free_port
from streams.demo.prometheus import LocalPrometheus, PrometheusMissing
from streams.demo.view import ActionFeed, fit, render
from streams.kafka.admin import create_topics
from streams.settings import Settings
from streams.simulator import generate, keep_ticking, produce
from streams.terminal import cell

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DemoOptions:
    duration: float | None = None
    speed: float = 14400.0
    orders: int = 3000
    orders_per_hour: float = 10.0
    seed: int = 11
    web_port: int = 6066
    partitions: int = 8
    brokers: list[str] | None = None
    rows: int = 18
    prometheus: bool = True
    faults: float = 0.01  # a real store's integration is not perfect: the dead-letter and repeat counters move too
    prometheus_port: int = 9090
    executor: bool = True  # refunds to a built-in receiver, outcomes back to the engine
    console: bool = True  # the after-sales console on console_port (a free one if taken)
    console_port: int = 6070


def _worker_env(settings_env: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings_env)
    return env


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/health/ready"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - our own loopback endpoint
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the worker did not become ready in time")


def _render(
    feed: ActionFeed,
    opts: DemoOptions,
    port: int,
    prometheus: str | None = None,
    executor: DemoExecutor | None = None,
    console_url: str | None = None,
    console: Console | None = None,
) -> Group:
    """The live view; on a terminal, as many action rows as fit in its height (the rest always shows)."""
    sim = feed.sim_time.isoformat(timespec="minutes") if feed.sim_time else "-"
    head = (
        f"simulated time {sim} (×{opts.speed:g}) · {feed.events:,} events · {feed.total:,} actions · Ctrl-C stops\n"
        f"metrics http://127.0.0.1:{port}/metrics · why an order got its actions: "
        f"curl http://127.0.0.1:{port}/orders/ORDER_ID"
    )
    if console_url is not None:
        head += f"\nconsole {console_url} (live actions, held refunds, order timelines, stores, what-if)"
    if prometheus is not None:
        head += f"\nPrometheus {prometheus} (alerts: {prometheus}/alerts)"
    exec_table = executor.table() if executor is not None else None
    return fit(console, lambda rows: render(feed, head, rows=rows, executor=exec_table), len(feed.recent))


async def _follow_actions(
    settings: Settings, feed: ActionFeed, stop: asyncio.Event, executor: DemoExecutor | None
) -> None:
    consumer = AIOKafkaConsumer(
        settings.topic_actions,
        bootstrap_servers=settings.bootstrap_servers(),
        auto_offset_reset="earliest",
        group_id=None,
        **settings.client_auth(),
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=250)
            for records in batch.values():
                for r in records:
                    action = orjson.loads(r.value)
                    if executor is not None:
                        executor.saw_action(action)
                    feed.add(action)
    finally:
        await consumer.stop()


async def _run(
    settings: Settings,
    opts: DemoOptions,
    port: int,
    console: Console,
    prometheus: str | None,
    executor: DemoExecutor | None,
) -> ActionFeed:
    feed = ActionFeed(recent=deque(maxlen=opts.rows))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    start = datetime.now(UTC).replace(microsecond=0)
    events: Iterable[dict[str, Any]] = generate(
        seed=opts.seed, orders=opts.orders, start=start, orders_per_hour=opts.orders_per_hour
    )
    if executor is not None:
        events = executor.store_events(events)

    def seen(event: dict[str, Any]) -> None:
        feed.events += 1
        feed.sim_time = datetime.fromisoformat(event["occurred_at"])
        if executor is not None:
            executor.clock.saw(feed.sim_time)

    async def simulate() -> None:
        stats = await produce(
            settings, events, speed=opts.speed, ticks=True, stop=stop, on_event=seen, faults=opts.faults, seed=opts.seed
        )
        if not stop.is_set() and stats.sim_time is not None:
            await keep_ticking(settings, stats.sim_time, opts.speed, stop)

    async def stop_after() -> None:
        if opts.duration is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), opts.duration)
            stop.set()

    tasks = [
        asyncio.create_task(simulate()),
        asyncio.create_task(_follow_actions(settings, feed, stop, executor)),
        asyncio.create_task(stop_after()),
    ]
    if executor is not None:
        tasks.append(asyncio.create_task(executor.run(stop)))

    async with _console(settings, opts, port, executor) as console_url:
        if console_url is not None:
            console.print(f"console: {console_url}")

        def render() -> Group:
            return _render(feed, opts, port, prometheus, executor, console_url, console)

        with Live(render(), console=console, refresh_per_second=4, transient=not console.is_terminal) as live:
            while not stop.is_set():
                live.update(render())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.25)
                if any(t.done() and not t.cancelled() and t.exception() is not None for t in tasks):
                    stop.set()  # a part of the loop failed: stop and say so rather than show a frozen table
            live.update(render())
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, BaseException):
            console.print(f"demo task failed: {type(result).__name__}: {result}", markup=False)
    return feed


@contextlib.asynccontextmanager
async def _console(
    settings: Settings, opts: DemoOptions, worker_port: int, executor: DemoExecutor | None
) -> AsyncIterator[str | None]:
    """The after-sales console on the demo's topics, releasing refunds through the demo executor's config."""
    if not opts.console:
        yield None
        return
    from streams.console.run import serve
    from streams.console.settings import ConsoleSettings
    from streams.executor.settings import ExecutorSettings

    if executor is not None:
        exec_settings = ExecutorSettings(kafka=settings, config_file=executor.config_path, metrics_enabled=False)
    else:
        exec_settings = ExecutorSettings(kafka=settings, dry_run=True, metrics_enabled=False)
    console_settings = ConsoleSettings(
        executor=exec_settings,
        port=free_port(opts.console_port),
        workers=[f"http://127.0.0.1:{worker_port}"],
        work_dir=executor.workdir / "console" if executor is not None else None,
    )
    setup = executor.release_setup if executor is not None else (lambda: None)
    async with serve(console_settings, load_policy(None), setup) as running:
        yield running.url


@contextlib.contextmanager
def _broker(opts: DemoOptions) -> Iterator[str]:
    if opts.brokers:
        yield ",".join(opts.brokers)
        return
    with EmbeddedBroker() as broker:
        yield broker.url


@contextlib.contextmanager
def _prometheus(opts: DemoOptions, ports: list[int], workdir: Path, console: Console) -> Iterator[str | None]:
    """A Prometheus scraping the worker (and the executor), with the shipped alert rules, if this machine has one."""
    if not opts.prometheus:
        yield None
        return
    try:
        worker, *executors = (f"127.0.0.1:{p}" for p in ports)
        server = LocalPrometheus(workdir, [worker], port=opts.prometheus_port, executors=executors)
    except PrometheusMissing as exc:
        console.print(cell(f"no Prometheus: {exc}"))
        yield None
        return
    with server:
        console.print(
            f"prometheus {server.url} scrapes the worker{' and the executor' if len(ports) > 1 else ''} every "
            f"second, with the shipped alert rules (deploy/prometheus/alerts.yaml) · "
            f"Grafana: add it as a data source and import deploy/grafana/dashboard.json"
        )
        yield server.url


def run_demo(opts: DemoOptions, console: Console) -> int:
    port = free_port(opts.web_port)
    with _broker(opts) as brokers:
        env = {
            "POSTSALE_BROKERS": brokers,
            "POSTSALE_APP_ID": "postsale-demo",
            "POSTSALE_PARTITIONS": str(opts.partitions),
            "POSTSALE_CLOCK_MODE": "events",
            "POSTSALE_WEB_PORT": str(port),
            "POSTSALE_SESSION_TIMEOUT_SECONDS": "6",
            "POSTSALE_HEARTBEAT_INTERVAL_SECONDS": "1",
            "POSTSALE_STANDBY_REPLICAS": "0",
        }
        settings = Settings(**{k.removeprefix("POSTSALE_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
        topics = [*settings.input_topics, settings.topic_ticks, settings.topic_actions, settings.topic_dead_letter]
        console.print(cell(f"broker {brokers} · creating {len(topics)} topics with {opts.partitions} partitions"))
        asyncio.run(create_topics(",".join(settings.bootstrap_servers()), topics, opts.partitions))
        log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"postsale-demo-worker-{os.getpid()}.log"  # noqa: S108
        console.print(cell(f"starting a worker (log: {log_path}) …"))
        with log_path.open("wb") as log:
            proc = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", "streams.cli", "worker"],
                cwd=ROOT,
                env=_worker_env(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            executor = None
            scraped = [port]
            if opts.executor:
                executor = DemoExecutor(
                    settings, log_path.with_suffix(".executor"), SimClock(opts.speed), opts.seed, free_port()
                )
                scraped.append(executor.metrics_port)
            try:
                _wait_ready(port, proc)
                console.print(f"worker ready · metrics: http://127.0.0.1:{port}/metrics")
                if executor is not None:
                    console.print(
                        f"executor: customer and supplier refunds go to a built-in Standard Webhooks receiver "
                        f"(config {executor.config_path}, log {executor.log_path}) · metrics: "
                        f"http://127.0.0.1:{executor.metrics_port}/metrics"
                    )
                with _prometheus(opts, scraped, log_path.with_suffix(".prometheus"), console) as prometheus:
                    feed = asyncio.run(_run(settings, opts, port, console, prometheus, executor))
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(10)
        console.print(
            f"stopped: {feed.events} events produced, {feed.total} actions decided "
            f"({', '.join(f'{r} {n}' for r, n in feed.by_rule.most_common(6))})"
        )
        if executor is not None:
            console.print(executor.summary(), markup=False)
    return 0
