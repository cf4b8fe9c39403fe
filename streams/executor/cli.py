"""Typer commands of the executor: `postsale execute` and `postsale actions list|release|drop`.

Parse, load settings and config, hand over to the executor or a command,
render. Standalone: `python -m streams.executor.cli execute …`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from streams.commandline import PlainGroup
from streams.executor.config import ConfigError, ExecutorConfig, all_dry_run, load_config, resolve_secrets
from streams.executor.routing import misrouted_entries
from streams.executor.settings import ExecutorSettings, load_executor_settings
from streams.kafka.probe import unreachable
from streams.logconfig import configure_logging
from streams.settings import SettingsError
from streams.terminal import cell, line

execute_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
actions_app = typer.Typer(
    help="Refunds held by the executor's circuit breaker: list, release or drop them.",
    cls=PlainGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line, whatever the width
T = TypeVar("T")

if TYPE_CHECKING:
    from streams.executor.commands import Done, Who

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="executor.yaml (POSTSALE_EXECUTOR_CONFIG_FILE).", show_default=False),
]
BrokerOpt = Annotated[
    list[str] | None,
    typer.Option("--broker", "-b", metavar="URL", help="Broker URL (repeat for several); POSTSALE_BROKERS."),
]


def _settings(broker: list[str] | None, **overrides: object) -> ExecutorSettings:
    """The settings, and a broker that answers: either is one line and exit 2 when wrong."""
    try:
        settings = load_executor_settings({"brokers": broker or None}, **overrides)
    except SettingsError as exc:
        err.print(line(str(exc)))
        raise typer.Exit(2) from exc
    problem = unreachable(settings.kafka)
    if problem is not None:
        err.print(problem, markup=False)
        raise typer.Exit(2)
    return settings


def _config(settings: ExecutorSettings) -> ExecutorConfig:
    if settings.config_file is None:
        return all_dry_run()
    try:
        config = load_config(settings.config_file)
    except ConfigError as exc:
        err.print(line(str(exc)))
        raise typer.Exit(2) from exc
    for problem in misrouted_entries(config):
        err.print(line(f"{settings.config_file}: {problem}"))
        raise typer.Exit(2)
    return config


def _secrets(config: ExecutorConfig) -> dict[str, SecretStr]:
    try:
        return resolve_secrets(config, os.environ)
    except ConfigError as exc:
        err.print(line(str(exc)))
        raise typer.Exit(2) from exc


def _logging(settings: ExecutorSettings) -> None:
    k = settings.kafka
    configure_logging(k.log_level, k.log_format, service="postsale-executor", app_id=settings.group_id)
    logging.getLogger("postsale.executor").setLevel(min(logging.WARNING, logging.getLogger().level))


@execute_app.command()
def execute(
    config: ConfigOpt = None,
    broker: BrokerOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Log each action and where it would go; call, write, commit nothing.")
    ] = False,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="With --dry-run: read the actions topic from its start.")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Port of /metrics (POSTSALE_EXECUTOR_METRICS_PORT).")
    ] = None,
    without_metrics: Annotated[bool, typer.Option("--without-metrics", help="No metrics server.")] = False,
) -> None:
    """Deliver actions to the store's endpoints (executor.yaml): signed webhooks, retries, outcome events."""
    settings = _settings(
        broker,
        config_file=config,
        dry_run=True if dry_run else None,
        metrics_port=metrics_port,
        metrics_enabled=False if without_metrics else None,
    )
    _logging(settings)
    cfg = _config(settings)
    if settings.dry_run:
        from streams.executor.dry_run import run_dry

        asyncio.run(_until_signal(lambda stop: run_dry(settings, cfg, stop, from_beginning)))
        return
    secrets = _secrets(cfg)

    async def main(stop: asyncio.Event) -> None:
        from streams.executor.consumer import Executor
        from streams.executor.metrics import ExecutorMetrics
        from streams.executor.metrics_server import start_metrics_server

        registry = CollectorRegistry()
        metrics = ExecutorMetrics.create(registry, settings.stores_max)
        runner = None
        if settings.metrics_enabled:
            runner = await start_metrics_server(registry, settings.metrics_host, settings.metrics_port)
        try:
            await Executor(settings, cfg, secrets, metrics).run(stop)
        finally:
            if runner is not None:
                await runner.cleanup()

    asyncio.run(_until_signal(main))


async def _until_signal(body: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await body(stop)


ActionIdArg = Annotated[str, typer.Argument(help="The held action's id (act-…).")]
OperatorOpt = Annotated[
    str | None,
    typer.Option("--operator", help="Who decides (recorded in the audit topic); default: the login name."),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit topic).")]


def _who(operator: str | None, reason: str) -> Who:
    import getpass

    from streams.executor.commands import Who

    if not operator:
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):  # a uid with no name (some containers)
            operator = f"uid {os.getuid()}"
    try:
        return Who(operator=operator, reason=reason)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc


JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object on standard output, for scripts.")]


def _print_json(value: object) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(value) + b"\n")
    sys.stdout.flush()


@actions_app.command("list")
def list_cmd(config: ConfigOpt = None, broker: BrokerOpt = None, as_json: JsonOpt = False) -> None:
    """Refunds held by the breaker, oldest first (reads only: no topic is created, nothing is written)."""
    from streams.executor.commands import list_held

    settings = _settings(broker, config_file=config, dry_run=True if config is None else None)
    _config(settings)  # a bad configuration is refused by every command that is given it
    held = asyncio.run(list_held(settings))
    if as_json:
        _print_json({"held": [h.model_dump(mode="json", exclude_none=True) for h in held]})
        return
    table = Table(title=f"{len(held)} held refund{'s' if len(held) != 1 else ''}")
    for col in ("action_id", "type", "store", "order", "amount", "held at", "why"):
        table.add_column(col)
    for h in held:
        a = h.action
        table.add_row(
            *(cell(v) for v in (a.action_id, a.type, a.store_id, a.order_id, f"{a.amount} {a.currency}")),
            h.held_at.isoformat(),
            cell(h.reason),
        )
    Console(width=200).print(table)


def _decided(done: Done, who: Who, decision: str, as_json: bool) -> None:
    if as_json:
        _print_json(
            {
                "action_id": done.action_id,
                "decision": decision,
                "status": done.status,
                "operator": who.operator,
                "reason": who.reason,
            }
        )
    else:
        Console().print(line(f"{done.action_id}: {done.status}"))


@actions_app.command()
def release(
    action_id: ActionIdArg,
    reason: ReasonOpt = "released from the command line",
    operator: OperatorOpt = None,
    config: ConfigOpt = None,
    broker: BrokerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deliver a held refund now (a person's decision: the breaker is not asked again)."""
    from streams.executor.commands import NotHeld
    from streams.executor.commands import release as do_release

    who = _who(operator, reason)
    settings = _settings(broker, config_file=config)
    _logging(settings)
    cfg = _config(settings)
    try:
        done = asyncio.run(do_release(settings, cfg, _secrets(cfg), action_id, who))
    except NotHeld as exc:
        err.print(line(f"{action_id} is not held (unknown, or already released or dropped)"))
        raise typer.Exit(1) from exc
    _decided(done, who, "release", as_json)
    if done.status not in ("done", "dry_run"):
        raise typer.Exit(1)


@actions_app.command()
def drop(
    action_id: ActionIdArg,
    reason: ReasonOpt = "dropped from the command line",
    operator: OperatorOpt = None,
    config: ConfigOpt = None,
    broker: BrokerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Never send a held refund; the engine gets `action.failed` ("dropped by a person")."""
    from streams.executor.commands import NotHeld
    from streams.executor.commands import drop as do_drop

    who = _who(operator, reason)
    settings = _settings(broker, config_file=config, dry_run=True if config is None else None)
    _logging(settings)
    try:
        done = asyncio.run(do_drop(settings, _config(settings), action_id, who))
    except NotHeld as exc:
        err.print(line(f"{action_id} is not held (unknown, or already released or dropped)"))
        raise typer.Exit(1) from exc
    _decided(done, who, "drop", as_json)


def main() -> None:
    """Standalone entry point until `postsale` wires these commands in."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    app.add_typer(execute_app)
    app.add_typer(actions_app, name="actions")
    app()


if __name__ == "__main__":
    main()
