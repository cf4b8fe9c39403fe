"""Profile postsale's worker on the benchmark stream with py-spy (sampling, native-free, from outside).

    .venv/bin/python -m benchmarks.profile_worker [--events 50000] [--out-dir profile]

Starts the embedded broker and one worker exactly as `benchmarks.run` does, attaches
`py-spy record` once the worker is consuming, feeds the stream, and stops py-spy when the actions
and commits are complete. Writes `worker.txt` (collapsed stacks; with `--svg` also `worker.svg`, a
flame graph) and prints the top frames by own time and by inclusive time, as percentages of the samples (CPU only: idle
samples are not recorded, so the percentages are of the time the worker was running Python).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import brokered
from benchmarks.common import make_stream, reference_actions
from streams.demo.broker import EmbeddedBroker

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def _short(frame: str, lines: bool) -> str:
    m = _FRAME.match(frame)
    if m is None:
        return frame
    file = m["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m['func']} ({file}:{m['line']})" if lines and m["line"] else f"{m['func']} ({file})"


def summarize(collapsed: Path, top: int = 25) -> dict[str, Any]:
    """Own (leaf) and inclusive sample shares per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    own_lines: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f]
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        own[_short(frames[-1], False)] += n
        own_lines[_short(frames[-1], True)] += n
        for f in {_short(f, False) for f in frames}:
            incl[f] += n

    def share(c: Counter[str]) -> list[tuple[str, float]]:
        return [(k, 100.0 * v / total) for k, v in c.most_common(top)]

    return {"samples": total, "own": share(own), "own_lines": share(own_lines), "inclusive": share(incl)}


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_worker")
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--seed", type=int, default=20261111)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--out-dir", type=Path, default=Path("profile"))
    ap.add_argument("--svg", action="store_true", help="also a flame graph (a second sampler)")
    args = ap.parse_args()
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stream = make_stream(args.events, seed=args.seed)
    expected = reference_actions(stream.events, stream.until)
    tmp = brokered.tmpdir()
    spies: list[subprocess.Popen[bytes]] = []
    raw = args.out_dir / "worker.txt"
    svg = args.out_dir / "worker.svg"

    def ready(procs: list[subprocess.Popen[bytes]]) -> None:
        pid = str(procs[0].pid)
        common = ["record", "--pid", pid, "--rate", str(args.rate), "--nonblocking"]
        spies.append(subprocess.Popen([pyspy, *common, "--format", "raw", "-o", str(raw)]))
        if args.svg:
            spies.append(subprocess.Popen([pyspy, *common, "--format", "flamegraph", "-o", str(svg)]))

    def done(_procs: list[subprocess.Popen[bytes]]) -> None:
        for spy in spies:
            os.kill(spy.pid, signal.SIGINT)
        for spy in spies:
            spy.wait(60)

    try:
        with EmbeddedBroker() as broker:
            result = brokered.worker(
                broker, stream, expected, tmp, 1, args.partitions, max(120.0, stream.n / 200), ready, done
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"worker: {result['events_per_s']:,.0f} events/s ({result['events_per_s_actions']:,.0f} to the last action), "
        f"{result['cpu_ms_per_event']:.3f} ms CPU/event, CPU {result['cpu_s']:.1f} s over "
        f"{result['seconds_to_commit']:.1f} s"
    )
    summary = summarize(raw)
    print(f"{summary['samples']} samples at {args.rate}/s (from {raw})")
    for title, key in (("own time", "own"), ("own time by line", "own_lines"), ("inclusive", "inclusive")):
        print(f"\n-- top frames, {title}")
        for name, pct in summary[key]:
            print(f"{pct:6.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
