"""`postsale` command line: parse arguments, call the work, render the result. Nothing here decides."""

from __future__ import annotations

import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

import streams
from models.policy import Policy
from models.policy_file import PolicyError, load_policy
from streams.commandline import PlainGroup, plain_help
from streams.terminal import cell, line

app = typer.Typer(
    name="postsale",
    help="Streaming after-sales engine: order, parcel and dispute events in; after-sales actions out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=PlainGroup,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line, whatever the width
_TIME = TypeAdapter(datetime)

# Bounds of the numeric flags: far beyond any real use, well inside what the clock and the simulator can compute.
MAX_LATENESS_SECONDS = 365 * 86_400
MAX_DURATION_SECONDS = 365 * 86_400
MAX_SPEED = 1_000_000
MAX_ORDERS = 10_000_000
MAX_ORDERS_PER_HOUR = 1_000_000
MAX_SEED = 2**63 - 1
MAX_VIEW_BYTES = 64 << 20

PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="Policy YAML file (default: the shipped playbook policy).", show_default=False),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="TIME",
        help="After the last event, advance the clock to this RFC 3339 time (deadlines before it fire).",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print one red line, shown literally (it may quote what the user typed or a file holds); the exit to raise."""
    err.print(line(message, "red"))
    return typer.Exit(code)


def _number(flag: str, value: float, low: float, high: float, unit: str = "", *, above_low: bool = False) -> None:
    """Refuse a flag that is not a finite number in [low, high] (or (low, high]): one line, exit 2."""
    inside = low < value <= high if above_low else low <= value <= high
    if math.isfinite(value) and inside:
        return
    bounds = f"more than {low:g} and at most {high:g}" if above_low else f"from {low:g} to {high:g}"
    raise _fail(f"{flag}: must be a number {bounds}{unit}, not {value!r}")


def _policy(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise _fail(str(exc)) from exc


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = _TIME.validate_python(value)
    except ValidationError as exc:
        raise _fail(f"{name}: not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise _fail(f"{name}: give a time zone offset, e.g. {value}+08:00")
    return parsed


def _events_file(path: Path) -> Path:
    if not path.is_file():
        raise _fail(f"no such events file: {path}")
    return path


def _known_variables() -> set[str]:
    """Every `POSTSALE_` variable a setting reads: the worker's, the executor's and the console's (one environment
    may configure all three)."""
    from streams.console.settings import PREFIX as CONSOLE_PREFIX
    from streams.console.settings import ConsoleSettings
    from streams.executor.settings import PREFIX as EXECUTOR_PREFIX
    from streams.executor.settings import ExecutorSettings
    from streams.settings import Settings

    return (
        {f"POSTSALE_{name}".upper() for name in Settings.model_fields}
        | {f"{EXECUTOR_PREFIX}{name}".upper() for name in ExecutorSettings.model_fields if name != "kafka"}
        | {f"{CONSOLE_PREFIX}{name}".upper() for name in ConsoleSettings.model_fields if name != "executor"}
    )


def _version(value: bool) -> None:
    if value:
        from streams.build import package_version

        typer.echo(f"postsale {package_version()}")
        raise typer.Exit()


@app.callback()
def _start(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Before any command: a `POSTSALE_` variable that no setting reads is refused, one line each, exit 2."""
    from streams.settings import unknown_variables

    problems = unknown_variables(_known_variables())
    for problem in problems:
        err.print(line(problem, "red"))
    if problems:
        raise typer.Exit(2)


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

    _number("--lateness", lateness, 0, MAX_LATENESS_SECONDS, " seconds")
    pol = _policy(policy)
    until_at = _time(until, "--until")
    path = _events_file(events)
    sink = out.open("wb") if out is not None else sys.stdout.buffer

    def bad(bad_line: object) -> None:
        err.print(line(f"line {bad_line.line}: {bad_line.reason}"))  # type: ignore[attr-defined]

    def rejected(n: int, event: object, reason: str) -> None:
        err.print(line(f"event {event.event_id}: {reason}"))  # type: ignore[attr-defined]

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
        typer.Option(
            "--url", metavar="URL", help="Ask a live worker instead (http://HOST:6066); it routes to the order's owner."
        ),
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
        raise _fail("give an events file, or --url of a live worker")
    pol = _policy(policy)
    tl = explain_order(_events_file(events), order_id, pol, _time(until, "--until"))
    if not tl.entries:
        raise _fail(f"no events for order {order_id} in {events}", 1)
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
        raise _fail("--url must be http:// or https://")
    request = urllib.request.Request(target, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - the user's own worker
            body = orjson.loads(resp.read(MAX_VIEW_BYTES + 1))
    except urllib.error.HTTPError as exc:
        raise _fail(f"{target}: HTTP {exc.code} {exc.read(200).decode(errors='replace')}", 1) from exc
    except (OSError, ValueError) as exc:
        raise _fail(f"{target}: {exc}", 1) from exc
    if not isinstance(body, dict):
        raise _fail(f"{target}: the answer is not an order view", 1)
    return body


@app.command()
def diff(
    events: Annotated[Path, typer.Argument(help="Events file (JSON lines).")],
    against: Annotated[Path, typer.Option("--against", metavar="FILE", help="The policy to compare with (B).")],
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="The policy in force (A); default: the shipped playbook policy.", show_default=False
        ),
    ] = None,
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
    table = Table(title=cell(f"policy {pol.version}"), show_header=False)
    table.add_row("marketplace overrides", cell(", ".join(pol.marketplaces) or "-"))
    table.add_row("region overrides", cell(", ".join(pol.regions) or "-"))
    table.add_row("promotions", cell(", ".join(p.name for p in pol.promotions) or "-"))
    Console().print(table)


@app.command()
def worker(
    broker: Annotated[
        list[str] | None,
        typer.Option("--broker", "-b", metavar="URL", help="Broker URL (repeat for several); POSTSALE_BROKERS."),
    ] = None,
    policy: PolicyOpt = None,
    store: Annotated[str | None, typer.Option("--store", help="memory:// or rocksdb://")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where RocksDB state lives.")] = None,
    web_host: Annotated[str | None, typer.Option("--web-host", help="Bind address of the web endpoints.")] = None,
    web_port: Annotated[int | None, typer.Option("--web-port", help="Port of /metrics, health and /orders.")] = None,
    without_web: Annotated[bool, typer.Option("--without-web", help="No web server.")] = False,
) -> None:
    """Run a worker against the configured Kafka cluster (settings from POSTSALE_* and these flags)."""
    import signal

    # Stopped before anything has started (settings, policy, the broker probe): nothing to stop, exit 0 (set
    # already in `streams/__init__.py` when `worker` is the first argument). From the app's start on,
    # streams.worker.run keeps the signal for the worker's graceful stop.
    signal.signal(signal.SIGTERM, streams.stopped_before_start)
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
        raise _fail(str(exc)) from exc
    unguarded = settings.order_view_unguarded()
    if unguarded is not None:
        raise _fail(unguarded)
    pol = _policy(settings.policy_file)
    from streams.kafka.probe import unreachable

    problem = unreachable(settings)
    if problem is not None:
        raise _fail(problem)
    run_worker(settings, pol)


@app.command()
def demo(
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after this many seconds.")] = None,
    speed: Annotated[float, typer.Option("--speed", help="Simulated seconds per wall second.")] = 14400.0,
    orders: Annotated[int, typer.Option("--orders", help="Orders the simulated store receives.")] = 3000,
    orders_per_hour: Annotated[float, typer.Option("--orders-per-hour", help="In simulated time.")] = 10.0,
    seed: Annotated[
        int, typer.Option("--seed", help="Which simulated store: the same seed, the same orders and what goes wrong.")
    ] = 11,
    web_port: Annotated[int, typer.Option("--web-port", help="Worker's web port (a free one if taken).")] = 6066,
    broker: Annotated[
        list[str] | None,
        typer.Option("--broker", "-b", metavar="URL", help="Use this broker instead of the embedded one."),
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
    if duration is not None:
        _number("--duration", duration, 0, MAX_DURATION_SECONDS, " seconds", above_low=True)
    _number("--speed", speed, 0, MAX_SPEED, above_low=True)
    _number("--orders", orders, 1, MAX_ORDERS)
    _number("--orders-per-hour", orders_per_hour, 0, MAX_ORDERS_PER_HOUR, above_low=True)
    _number("--seed", seed, 0, MAX_SEED)
    _number("--web-port", web_port, 0, 65535)  # 0: a free port
    _number("--prometheus-port", prometheus_port, 0, 65535)
    _number("--console-port", console_port, 0, 65535)
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
        list[str] | None,
        typer.Option("--broker", "-b", metavar="URL", help="Broker URL (repeat for several); POSTSALE_BROKERS."),
    ] = None,
    orders: Annotated[int, typer.Option("--orders", help="How many orders.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed (and options), same events, byte for byte.")] = 1,
    start: Annotated[
        str,
        typer.Option(
            "--start",
            metavar="TIME",
            help="Simulated start (RFC 3339). A fixed default, so that a seed always gives the same events:"
            " Singles' Day, inside the double11 sale.",
        ),
    ] = "2026-11-11T00:00:00+08:00",
    orders_per_hour: Annotated[float, typer.Option("--orders-per-hour", help="In simulated time.")] = 120.0,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            help="Simulated seconds per wall second, to Kafka or a file; 0 = as fast as possible. It changes when"
            " events are written, never which.",
        ),
    ] = 0.0,
    ticks: Annotated[
        bool,
        typer.Option("--ticks/--no-ticks", help="Send the simulated time to workers on the events clock (Kafka only)."),
    ] = False,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="TIME",
            help="With --ticks: after the last event, send a last tick at this RFC 3339 time.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the events to this JSON-lines file instead of Kafka; - for standard output."),
    ] = None,
    faults: Annotated[
        float,
        typer.Option(
            "--faults",
            min=0.0,
            max=1.0,
            help="Share of events also sent truncated, twice, or to a wrong partition (an imperfect producer)."
            " In a file: a truncated line before the record, or the record twice; there are no partitions.",
        ),
    ] = 0.0,
) -> None:
    """A simulated store's orders, parcels and disputes, to Kafka (or a file): load and staging data."""
    _number("--orders", orders, 1, MAX_ORDERS)
    _number("--seed", seed, 0, MAX_SEED)
    _number("--orders-per-hour", orders_per_hour, 0, MAX_ORDERS_PER_HOUR, above_low=True)
    _number("--speed", speed, 0, MAX_SPEED)
    _number("--faults", faults, 0, 1)
    import asyncio

    begin = _time(start, "--start")
    assert begin is not None  # the option has a default
    last_tick = _time(until, "--until")
    # Options that would mean nothing here are refused rather than dropped.
    problem = None
    if out is not None and ticks:
        problem = "--ticks sends simulated time to the tick topic, which a file does not have: leave out one of them"
    elif out is not None and last_tick is not None:
        problem = "--until is the time of the last tick sent to Kafka; a file's reader sets its own (replay --until)"
    elif last_tick is not None and not ticks:
        problem = "--until is the time of the last tick: give --ticks with it"
    elif ticks and speed <= 0 and last_tick is None:
        problem = "--ticks at --speed 0 would send no tick: give a --speed, or --until for one last tick"
    if problem is not None:
        raise _fail(problem)

    from streams.simulator import generate, write_lines

    events = generate(seed=seed, orders=orders, start=begin, orders_per_hour=orders_per_hour)
    if out is not None:
        if str(out) == "-":
            stats = write_lines(sys.stdout.buffer, events, speed=speed, faults=faults, seed=seed)
            sys.stdout.buffer.flush()
            where = "standard output"
        else:
            with out.open("wb") as target:
                stats = write_lines(target, events, speed=speed, faults=faults, seed=seed)
            where = str(out)
        err.print(line(f"{stats.events} events written to {where}"))
        if stats.faults:
            err.print(line("faults: " + ", ".join(f"{n} {kind}" for kind, n in sorted(stats.faults.items()))))
        return
    from streams.settings import SettingsError, load_settings
    from streams.simulator import produce

    try:
        settings = load_settings(brokers=broker or None)
    except SettingsError as exc:
        raise _fail(str(exc)) from exc
    stats = asyncio.run(produce(settings, events, speed=speed, ticks=ticks, until=last_tick, faults=faults, seed=seed))
    err.print(f"{stats.events} events produced, simulated time reached {stats.sim_time}")
    if stats.faults:
        err.print(line("faults: " + ", ".join(f"{n} {kind}" for kind, n in sorted(stats.faults.items()))))


@app.command("console")
def console_cmd(
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (POSTSALE_CONSOLE_HOST; 127.0.0.1 unless sign-in).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (POSTSALE_CONSOLE_PORT, 6070).")] = None,
    workers: Annotated[
        list[str] | None,
        typer.Option("--worker", "-w", metavar="URL", help="A worker's web URL (repeat); POSTSALE_CONSOLE_WORKERS."),
    ] = None,
    broker: Annotated[
        list[str] | None,
        typer.Option("--broker", "-b", metavar="URL", help="Broker URL (repeat for several); POSTSALE_BROKERS."),
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

    app.add_typer(plain_help(execute_app))
    app.add_typer(plain_help(actions_app), name="actions")


_add_executor_commands()
plain_help(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
