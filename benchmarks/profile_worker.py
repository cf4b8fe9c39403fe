"""Profile postsale's worker on the benchmark stream with py-spy (sampling, native-free, from outside).

    .venv/bin/python -m benchmarks.profile_worker [--events 50000] [--out-dir profile]

Starts the embedded broker and one worker exactly as `benchmarks.run` does, attaches
`py-spy record` once the worker is consuming, feeds the stream, and stops py-spy when the actions
and commits are complete. Writes `worker.txt` (collapsed stacks; with `--svg` also `worker.svg`, a
flame graph) and `stages.json`, and prints the CPU per event by stage (`benchmarks/stages.py`) and the top frames
by own time and by inclusive time, as percentages of the samples (CPU only: idle samples are not recorded, so
the percentages are of the time the worker was running Python). `benchmarks.run` takes the same stage table
in one extra, profiled worker run (`profile_run`).
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

import orjson

from benchmarks import brokered
from benchmarks.common import Stream, make_stream, reference_actions
from benchmarks.stages import stage_table
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


def thread_cpu(pid: int) -> dict[int, float]:
    """utime + stime of each thread of a process (`/proc/<pid>/task/<tid>/stat`), by thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def pyspy_path() -> str | None:
    """py-spy (postsale's `bench` extra), or None."""
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else None


def profile_run(
    broker: EmbeddedBroker,
    stream: Stream,
    expected: dict[str, Any],
    tmp: Path,
    partitions: int,
    out_dir: Path,
    rate: int = 250,
    svg: bool = False,
) -> dict[str, Any]:
    """One worker run as `benchmarks.run` measures it, with py-spy attached (from the end of the start-up probe
    to the last commit; `--nonblocking`: the worker is never paused, the sampler takes CPU of its own): the run's
    figures, the samples' stage table (`benchmarks.stages`) with the run's CPU, and, as a check of the sampling,
    the sampled seconds (samples / rate) against the worker's CPU seconds over the sampler's window."""
    pyspy = pyspy_path()
    if pyspy is None:
        raise FileNotFoundError("py-spy not found: pip install -e '.[bench]'")
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / "worker.txt"
    spies: list[subprocess.Popen[bytes]] = []
    window: dict[str, dict[int, float]] = {}  # CPU seconds per thread id, as the sampler starts and stops

    def ready(procs: list[subprocess.Popen[bytes]]) -> None:
        pid = str(procs[0].pid)
        common = ["record", "--pid", pid, "--rate", str(rate), "--nonblocking", "--threads"]
        spies.append(subprocess.Popen([pyspy, *common, "--format", "raw", "-o", str(raw)], stdout=subprocess.DEVNULL))
        if svg:
            flame = ["--format", "flamegraph", "-o", str(out_dir / "worker.svg")]
            spies.append(subprocess.Popen([pyspy, *common, *flame], stdout=subprocess.DEVNULL))
        window["start"] = thread_cpu(procs[0].pid)

    def done(procs: list[subprocess.Popen[bytes]]) -> None:
        for spy in spies:
            os.kill(spy.pid, signal.SIGINT)
        for spy in spies:
            spy.wait(60)
        window["stop"] = thread_cpu(procs[0].pid)

    timeout = max(120.0, stream.n / 200)
    result = brokered.worker(broker, stream, expected, tmp, 1, partitions, timeout, ready, done)
    used = {tid: cpu - window["start"].get(tid, 0.0) for tid, cpu in window["stop"].items()}
    table = stage_table(raw.read_text(), stream.n, used)
    table["rate"] = rate
    table["sampled_s"] = table["samples"] / rate
    return {"worker": result, "stages": table, "collapsed": str(raw)}


def print_stages(table: dict[str, Any]) -> None:
    print(
        f"\n-- CPU per event by stage: {table['us_per_event']:.0f} µs CPU/event over {table['events']:,} events "
        f"(the sampler's window); {table['samples']} samples at {table['rate']}/s ({table['sampled_s']:.1f} s); "
        + ", ".join(
            f"{t['name'] or t['tid']}: {t['samples']} samples, {t['cpu_s']:.1f} s CPU" for t in table["threads"]
        )
    )
    for row in table["stages"]:
        print(f"{row['stage']:>16}  {row['us_per_event']:7.1f} µs  {100 * row['share']:5.1f}%")
    print("   framework/other, top leaf frames: " + ", ".join(f"{n} {100 * s:.1f}%" for n, s in table["other_top"][:5]))


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_worker")
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--seed", type=int, default=20261111)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--out-dir", type=Path, default=Path("profile"))
    ap.add_argument("--svg", action="store_true", help="also a flame graph (a second sampler)")
    args = ap.parse_args()
    stream = make_stream(args.events, seed=args.seed)
    expected = reference_actions(stream.events, stream.until)
    tmp = brokered.tmpdir()
    try:
        with EmbeddedBroker() as broker:
            prof = profile_run(broker, stream, expected, tmp, args.partitions, args.out_dir, args.rate, args.svg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = prof["worker"]
    (args.out_dir / "stages.json").write_bytes(orjson.dumps(prof, option=orjson.OPT_INDENT_2))
    print(
        f"worker: {result['events_per_s']:,.0f} events/s ({result['events_per_s_actions']:,.0f} to the last action), "
        f"{result['cpu_ms_per_event']:.3f} ms CPU/event, CPU {result['cpu_s']:.1f} s over "
        f"{result['seconds_to_commit']:.1f} s"
    )
    print_stages(prof["stages"])
    raw = Path(prof["collapsed"])
    summary = summarize(raw)
    print(f"\n{summary['samples']} samples at {args.rate}/s (from {raw})")
    for title, key in (("own time", "own"), ("own time by line", "own_lines"), ("inclusive", "inclusive")):
        print(f"\n-- top frames, {title}")
        for name, pct in summary[key]:
            print(f"{pct:6.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
