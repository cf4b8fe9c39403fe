"""Start the console: its Kafka reader and its web server, in the caller's event loop (`postsale console`, or
`postsale demo` next to its executor), until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from models.policy import Policy
from streams.console.board import Board
from streams.console.kafka_feed import KafkaFeed
from streams.console.server import ExecutorSetup, build_app
from streams.console.settings import Accounts, ConsoleSettings
from streams.console.whatif import WhatIf
from streams.console.workers import Workers
from streams.executor.config import ExecutorConfig, load_config, resolve_secrets


@dataclass
class Running:
    url: str
    board: Board
    feed: KafkaFeed
    app: web.Application


def executor_setup_from(settings: ConsoleSettings, environ: Mapping[str, str]) -> ExecutorSetup:
    """The executor.yaml and secrets a release delivers with, read when a release is asked for (so a fixed file
    applies without a restart); None without a config file (then the page offers drop only)."""

    def setup() -> tuple[ExecutorConfig, Mapping[str, SecretStr]] | None:
        path = settings.executor.config_file
        if path is None:
            return None
        config = load_config(path)
        return config, resolve_secrets(config, environ)

    return setup


@contextlib.asynccontextmanager
async def serve(
    settings: ConsoleSettings,
    policy: Policy,
    executor_setup: ExecutorSetup | None = None,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[Running]:
    """The console's reader and server, for the duration of the block."""
    env = dict(os.environ if environ is None else environ)
    board = Board(settings.feed_size, settings.orders_indexed)
    feed = KafkaFeed(settings.executor, board)
    workers = Workers(settings.workers, settings.worker_token)
    accounts = Accounts.from_settings(settings, env)
    with contextlib.ExitStack() as stack:
        work_dir = settings.work_dir
        if work_dir is None:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="postsale-console-")))
        work_dir.mkdir(parents=True, exist_ok=True)
        whatif = WhatIf(work_dir)
        app = build_app(
            settings,
            board,
            workers,
            policy,
            executor_setup or executor_setup_from(settings, env),
            whatif,
            accounts,
            feed_error=lambda: feed.error,
        )
        stop = asyncio.Event()
        reader = asyncio.create_task(feed.run(stop))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
            port = runner.addresses[0][1] if runner.addresses else settings.port
            host = settings.host if ":" not in settings.host else f"[{settings.host}]"
            yield Running(f"http://{host}:{port}/", board, feed, app)
        finally:
            stop.set()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await runner.cleanup()


async def run_until_stopped(settings: ConsoleSettings, policy: Policy, stop: asyncio.Event, announce: Any) -> None:
    """`postsale console`: serve until `stop`; `announce(url)` once listening."""
    async with serve(settings, policy) as running:
        announce(running.url)
        await stop.wait()
