"""Decoding events: µs per event of `models.events.parse_event` (msgspec, pydantic for what it is not sure of)
against `models.events.validate_event` (pydantic alone, the decoder before), over the lines of a JSON-lines
file, in one process.

    .venv/bin/python -m benchmarks.decode FILE [--rounds 7] [--check]

Each round decodes every line with one decoder then the other, alternately (the order swapped each round), so
that a machine shared with other work slows both alike; the figure is the CPU time of this process per event
(`time.process_time`, which waiting for a core does not count), each one's best round (the least disturbed),
and the median for comparison. It also counts the lines the fast decoder left to pydantic.
`--check` first compares both decoders on every line: the same object (value, type, fields set, repr) or the
same refusal (`validation_reason`); any difference is printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models import events
from models.events import parse_event, validate_event, validation_reason


def _outcome(decode: Callable[[bytes], Any], raw: bytes) -> tuple[str, Any]:
    try:
        event = decode(raw)
    except ValidationError as exc:
        return "refused", validation_reason(exc)
    return "accepted", (type(event), event.model_dump(), event.model_fields_set, repr(event))


def _round(decode: Callable[[bytes], Any], lines: list[bytes]) -> float:
    start = time.process_time()
    for raw in lines:
        try:
            decode(raw)
        except ValidationError:
            pass
    return (time.process_time() - start) / len(lines) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="compare both decoders on every line first")
    args = parser.parse_args(argv)
    lines = [line for line in args.file.read_bytes().splitlines() if line.strip()]
    left = sum(1 for raw in lines if events._fast_decode(raw) is None)
    print(f"{args.file}: {len(lines):,} events, {left:,} left to pydantic by the fast decoder")
    if args.check:
        differ = 0
        for number, raw in enumerate(lines, start=1):
            if _outcome(parse_event, raw) != _outcome(validate_event, raw):
                differ += 1
                print(f"  line {number}: the decoders differ")
        print(f"  check: {differ} line(s) differ")
        if differ:
            return 1
    timings: dict[str, list[float]] = {"pydantic (validate_event)": [], "fast (parse_event)": []}
    decoders = {"pydantic (validate_event)": validate_event, "fast (parse_event)": parse_event}
    for number in range(args.rounds):
        order = list(decoders) if number % 2 == 0 else list(reversed(decoders))
        for name in order:
            timings[name].append(_round(decoders[name], lines))
    for name, runs in timings.items():
        print(f"  {name:26} best {min(runs):6.2f} µs/event, median {statistics.median(runs):6.2f}")
    before, after = (min(runs) for runs in timings.values())
    medians = [statistics.median(runs) for runs in timings.values()]
    print(f"  fast / pydantic: {after / before:.2f}x best, {medians[1] / medians[0]:.2f}x median")
    return 0


if __name__ == "__main__":
    sys.exit(main())
