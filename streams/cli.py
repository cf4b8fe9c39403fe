"""`postsale` command line: parse arguments, call the work, render the result. Nothing here decides."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from models.policy import Policy
from models.policy_file import PolicyError, load_policy

app = typer.Typer(
    name="postsale",
    help="Streaming after-sales engine: order, parcel and dispute events in; after-sales actions out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
_TIME = TypeAdapter(datetime)

PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy YAML file (default: the shipped playbook policy).", show_default=False),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until", help="After the last event, advance the clock to this RFC 3339 time (deadlines before it fire)."
    ),
]


def _policy(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = _TIME.validate_python(value)
    except ValidationError as exc:
        err.print(f"[red]{name}: not an RFC 3339 time: {value!r}[/red]")
        raise typer.Exit(2) from exc
    if parsed.tzinfo is None:
        err.print(f"[red]{name}: give a time zone offset, e.g. {value}+08:00[/red]")
        raise typer.Exit(2)
    return parsed


def _events_file(path: Path) -> Path:
    if not path.is_file():
        err.print(f"[red]no such events file: {path}[/red]")
        raise typer.Exit(2)
    return path


@app.command()
def replay(
    events: Annotated[Path, typer.Argument(help="Events, one JSON object per line (the wire format).")],
    policy: PolicyOpt = None,
    until: UntilOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write actions here instead of stdout.")] = None,
    lateness: Annotated[
        float, typer.Option("--lateness", help="Seconds an event may arrive behind the latest one seen.")
    ] = 0.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Run a file of events through the rules in event time; actions as JSON lines."""
    from streams.offline.commands import replay_file
    from streams.offline.render import progress_for, replay_summary

    pol = _policy(policy)
    until_at = _time(until, "--until")
    path = _events_file(events)
    sink = out.open("wb") if out is not None else sys.stdout.buffer

    def bad(line: object) -> None:
        err.print(f"line {line.line}: {line.reason}", markup=False)  # type: ignore[attr-defined]

    def rejected(n: int, event: object, reason: str) -> None:
        err.print(f"event {event.event_id}: {reason}", markup=False)  # type: ignore[attr-defined]

    with progress_for(path, err) as on_progress:
        result = replay_file(
            path,
            pol,
            out=sink,
            on_bad=bad,
            on_rejected=rejected,
            until=until_at,
            lateness_seconds=lateness,
            on_progress=on_progress,
        )
    sink.flush()
    if out is not None:
        sink.close()
    if not quiet:
        replay_summary(err, result, pol)


@app.command()
def explain(
    order_id: Annotated[str, typer.Argument(help="The order to explain.")],
    events: Annotated[Path | None, typer.Argument(help="Events file (JSON lines); not with --url.")] = None,
    policy: PolicyOpt = None,
    until: UntilOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable timeline.")] = False,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Ask a live worker instead (http://HOST:6066); it routes to the order's owner."),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="POSTSALE_ORDER_VIEW_TOKEN", help="Order-view bearer token.")
    ] = None,
) -> None:
    """An order's timeline: each event, each deadline, each decision with the rule and threshold behind it."""
    from streams.offline.commands import explain_order
    from streams.offline.render import live_order_table, timeline_json, timeline_table

    if url is not None:
        view = _fetch_order_view(url, order_id, token)
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(view, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            Console().print(live_order_table(view))
        return
    if events is None:
        err.print("[red]give an events file, or --url of a live worker[/red]")
        raise typer.Exit(2)
    pol = _policy(policy)
    tl = explain_order(_events_file(events), order_id, pol, _time(until, "--until"))
    if not tl.entries:
        err.print(f"[red]no events for order {order_id} in {events}[/red]")
        raise typer.Exit(1)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(timeline_json(tl), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        Console().print(timeline_table(tl, pol))


def _fetch_order_view(url: str, order_id: str, token: str | None) -> dict[str, object]:
    import urllib.error
    import urllib.parse
    import urllib.request

    target = f"{url.rstrip('/')}/orders/{urllib.parse.quote(order_id, safe='')}"
    if not target.startswith(("http://", "https://")):
        err.print("[red]--url must be http:// or https://[/red]")
        raise typer.Exit(2)
    request = urllib.request.Request(target, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - the user's own worker
            body: dict[str, object] = orjson.loads(resp.read())
            return body
    except urllib.error.HTTPError as exc:
        err.print(f"[red]{target}: HTTP {exc.code} {exc.read().decode(errors='replace')[:200]}[/red]", markup=False)
        raise typer.Exit(1) from exc
    except OSError as exc:
        err.print(f"[red]{target}: {exc}[/red]", markup=False)
        raise typer.Exit(1) from exc


@app.command()
def diff(
    events: Annotated[Path, typer.Argument(help="Events file (JSON lines).")],
    policy: Annotated[Path, typer.Option("--policy", help="The policy in force (A).")],
    against: Annotated[Path, typer.Option("--against", help="The policy to compare with (B).")],
    until: UntilOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """What-if: replay the same history under two policies; decisions added, removed, changed, money moved."""
    from streams.offline.commands import diff_policies
    from streams.offline.render import diff_tables

    a, b = _policy(policy), _policy(against)
    result = diff_policies(_events_file(events), a, b, _time(until, "--until"))
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        diff_tables(Console(), result, a, b)


@app.command("policy-check")
def policy_check(path: Annotated[Path, typer.Argument(help="Policy YAML file.")]) -> None:
    """Validate a policy file; exit 2 with the line and field at fault."""
    pol = _policy(path)
    table = Table(title=f"policy {pol.version}", show_header=False)
    table.add_row("marketplace overrides", ", ".join(pol.marketplaces) or "-")
    table.add_row("region overrides", ", ".join(pol.regions) or "-")
    table.add_row("promotions", ", ".join(p.name for p in pol.promotions) or "-")
    Console().print(table)


@app.command()
def worker(
    broker: Annotated[
        list[str] | None, typer.Option("--broker", "-b", help="Broker URL (repeat for several); POSTSALE_BROKERS.")
    ] = None,
    policy: PolicyOpt = None,
    store: Annotated[str | None, typer.Option("--store", help="memory:// or rocksdb://")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where RocksDB state lives.")] = None,
    web_host: Annotated[str | None, typer.Option("--web-host", help="Bind address of the web endpoints.")] = None,
    web_port: Annotated[int | None, typer.Option("--web-port", help="Port of /metrics, health and /orders.")] = None,
    without_web: Annotated[bool, typer.Option("--without-web", help="No web server.")] = False,
) -> None:
    """Run a worker against the configured Kafka cluster (settings from POSTSALE_* and these flags)."""
    from streams.settings import SettingsError, load_settings
    from streams.worker.run import run_worker

    try:
        settings = load_settings(
            brokers=broker or None,
            policy_file=policy,
            store=store,
            data_dir=data_dir,
            web_host=web_host,
            web_port=web_port,
            web_enabled=False if without_web else None,
        )
    except SettingsError as exc:
        err.print(f"[red]{exc}[/red]", markup=False)
        raise typer.Exit(2) from exc
    pol = _policy(settings.policy_file)
    run_worker(settings, pol)


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after this many seconds.")] = None,
    speed: Annotated[float, typer.Option("--speed", help="Simulated seconds per wall second.")] = 14400.0,
    orders: Annotated[int, typer.Option("--orders", help="Orders the simulated store receives.")] = 3000,
    orders_per_hour: Annotated[float, typer.Option("--orders-per-hour", help="In simulated time.")] = 10.0,
    seed: Annotated[int, typer.Option("--seed")] = 11,
    web_port: Annotated[int, typer.Option("--web-port", help="Worker's web port (a free one if taken).")] = 6066,
    broker: Annotated[
        list[str] | None, typer.Option("--broker", "-b", help="Use this broker instead of the embedded one.")
    ] = None,
    prometheus: Annotated[
        bool,
        typer.Option(
            "--prometheus/--no-prometheus", help="Start a local Prometheus scraping the worker (if installed)."
        ),
    ] = True,
    prometheus_port: Annotated[int, typer.Option("--prometheus-port", help="Its port (a free one if taken).")] = 9090,
    executor: Annotated[
        bool,
        typer.Option(
            "--executor/--no-executor",
            help="Run the executor: refunds go to a built-in Standard Webhooks receiver, outcomes back to the engine.",
        ),
    ] = True,
    console: Annotated[
        bool, typer.Option("--console/--no-console", help="Serve the after-sales console and print its URL.")
    ] = True,
    console_port: Annotated[int, typer.Option("--console-port", help="Its port (a free one if taken).")] = 6070,
) -> None:
    """The whole loop on this machine: embedded broker, a worker, a simulated store, live actions, and the
    executor delivering refunds to a built-in receiver."""
    from streams.demo.run import DemoOptions, run_demo

    opts = DemoOptions(
        duration=duration,
        speed=speed,
        orders=orders,
        orders_per_hour=orders_per_hour,
        seed=seed,
        web_port=web_port,
        brokers=broker or None,
        prometheus=prometheus,
        prometheus_port=prometheus_port,
        executor=executor,
        console=console,
        console_port=console_port,
    )
    raise typer.Exit(run_demo(opts, Console()))


@app.command()
def simulate(
    broker: Annotated[
        list[str] | None, typer.Option("--broker", "-b", help="Broker URL (repeat for several); POSTSALE_BROKERS.")
    ] = None,
    orders: Annotated[int, typer.Option("--orders", help="How many orders.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same events.")] = 1,
    start: Annotated[str | None, typer.Option("--start", help="Simulated start time (RFC 3339); default now.")] = None,
    orders_per_hour: Annotated[float, typer.Option("--orders-per-hour", help="In simulated time.")] = 120.0,
    speed: Annotated[
        float, typer.Option("--speed", help="Simulated seconds per wall second; 0 = as fast as possible.")
    ] = 0.0,
    ticks: Annotated[
        bool, typer.Option("--ticks/--no-ticks", help="Send the simulated time to workers on the events clock.")
    ] = False,
    until: UntilOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the events to this JSON-lines file instead of Kafka.")
    ] = None,
    faults: Annotated[
        float,
        typer.Option(
            "--faults",
            min=0.0,
            max=1.0,
            help="Share of events also sent truncated, twice, or to a wrong partition (an imperfect producer).",
        ),
    ] = 0.0,
) -> None:
    """A simulated store's orders, parcels and disputes, to Kafka (or a file): load and staging data."""
    import asyncio
    from datetime import UTC

    from streams.simulator import generate, write_jsonl

    begin = _time(start, "--start") or datetime.now(UTC).replace(microsecond=0)
    events = generate(seed=seed, orders=orders, start=begin, orders_per_hour=orders_per_hour)
    if out is not None:
        n = write_jsonl(out, events)
        err.print(f"{n} events written to {out}")
        return
    from streams.settings import SettingsError, load_settings
    from streams.simulate import produce

    try:
        settings = load_settings(brokers=broker or None)
    except SettingsError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    stats = asyncio.run(
        produce(settings, events, speed=speed, ticks=ticks, until=_time(until, "--until"), faults=faults, seed=seed)
    )
    err.print(f"{stats.events} events produced, simulated time reached {stats.sim_time}")
    if stats.faults:
        err.print("faults: " + ", ".join(f"{n} {kind}" for kind, n in sorted(stats.faults.items())))


@app.command("console")
def console_cmd(
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (POSTSALE_CONSOLE_HOST; 127.0.0.1 unless sign-in).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (POSTSALE_CONSOLE_PORT, 6070).")] = None,
    workers: Annotated[
        list[str] | None,
        typer.Option("--worker", "-w", help="A worker's web URL (repeat); POSTSALE_CONSOLE_WORKERS."),
    ] = None,
    broker: Annotated[
        list[str] | None, typer.Option("--broker", "-b", help="Broker URL (repeat for several); POSTSALE_BROKERS.")
    ] = None,
    executor_config: Annotated[
        Path | None,
        typer.Option(
            "--executor-config", help="executor.yaml, to release held refunds (POSTSALE_EXECUTOR_CONFIG_FILE)."
        ),
    ] = None,
    users_file: Annotated[
        Path | None, typer.Option("--users-file", help="Accounts (POSTSALE_CONSOLE_USERS_FILE).")
    ] = None,
) -> None:
    """The after-sales console: live actions, refunds that need a person, order timelines, stores, what-if."""
    import asyncio
    import os
    import signal

    from streams.console.run import run_until_stopped
    from streams.console.settings import load_console_settings
    from streams.executor.settings import load_executor_settings
    from streams.settings import SettingsError

    try:
        has_config = executor_config is not None or bool(os.environ.get("POSTSALE_EXECUTOR_CONFIG_FILE"))
        executor = load_executor_settings(
            {"brokers": broker or None}, config_file=executor_config, dry_run=None if has_config else True
        )
        settings = load_console_settings(executor, host=host, port=port, workers=workers or None, users_file=users_file)
    except SettingsError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    pol = _policy(executor.kafka.policy_file)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_until_stopped(settings, pol, stop, lambda url: err.print(f"console: {url}", markup=False))

    asyncio.run(main())


def _add_executor_commands() -> None:
    from streams.executor.cli import actions_app, execute_app

    app.add_typer(execute_app)
    app.add_typer(actions_app, name="actions")


_add_executor_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
