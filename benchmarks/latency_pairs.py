"""Event → action latency of the worker next to the broker floor, in alternating runs.

`python -m benchmarks.latency_pairs [--rate 1000] [--seconds 20] [--rounds 3] [--delivery batch,stream]`

A single latency run on a shared machine says more about the machine in those seconds than about the worker
(docs/performance.md, "The broker floor"). This runs, per round, the broker floor and then the worker with each
delivery given, one after the other, each on a fresh embedded broker with the same paced events as the full
benchmark's fixed-rate run (`benchmarks.run`), and prints every run, the medians and the p99 ratios of each
round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

import orjson

from benchmarks import brokered
from benchmarks.common import make_stream
from streams.demo.broker import EmbeddedBroker

FIXED_RATE_SEED_OFFSET = 2  # the full benchmark's fixed-rate stream: its seed + 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.latency_pairs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=1000.0, help="offered events per second")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--delivery", default="batch", help="comma-separated: batch, stream")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--seed", type=int, default=20261111)
    args = ap.parse_args(argv)
    deliveries = [d.strip() for d in args.delivery.split(",") if d.strip()]
    stream = make_stream(int(args.rate * args.seconds), seed=args.seed + FIXED_RATE_SEED_OFFSET)
    tmp = brokered.tmpdir()
    runs: dict[str, list[dict[str, Any]]] = {"floor": [], **{d: [] for d in deliveries}}
    for r in range(1, args.rounds + 1):
        with EmbeddedBroker() as broker:
            runs["floor"].append(brokered.broker_floor(broker, stream, args.rate, tmp, args.partitions))
        for delivery in deliveries:
            with EmbeddedBroker() as broker:
                runs[delivery].append(
                    brokered.latency(broker, stream, args.rate, tmp, args.partitions, POSTSALE_DELIVERY=delivery)
                )
        line = {
            name: {k: round(v[-1][k], 1) for k in ("p50_ms", "p99_ms", "achieved_rate")} for name, v in runs.items()
        }
        print(f"round {r}: {orjson.dumps(line).decode()}", flush=True)
    floor = [run["p99_ms"] for run in runs["floor"]]
    for name, got in runs.items():
        p50 = statistics.median(run["p50_ms"] for run in got)
        p99 = [run["p99_ms"] for run in got]
        each = ", ".join(f"{x:.0f}" for x in p99)
        print(f"{name}: p50 median {p50:.1f} ms, p99 median {statistics.median(p99):.1f} ms (runs {each})")
        if name != "floor":
            ratios = [w / f for w, f in zip(p99, floor, strict=True)]
            each = ", ".join(f"{x:.2f}" for x in ratios)
            print(f"  p99 / floor p99, each round: {each}; median {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
