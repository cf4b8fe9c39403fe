"""A line longer than the limit is refused with its number, read past without being held, and the run goes on."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from streams.offline.commands import iter_lines, replay_file
from streams.offline.replay import MAX_LINE_BYTES, BadLine, LongLine
from tests.factories import default_policy, placed


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"0123456789\n", [b"0123456789\n"]),  # exactly the limit: read
        (b"0123456789", [b"0123456789"]),  # at the limit, no newline at the end
        (b"0123456789A\n", [LongLine(11)]),  # one byte over
        (b"0123456789A", [LongLine(11)]),  # over, no newline at the end
        (b"short\n" + b"x" * 100_000 + b"\nafter\n", [b"short\n", LongLine(100_000), b"after\n"]),
        (b"\n\n", [b"\n", b"\n"]),
        (b"", []),
    ],
)
def test_lines_over_the_limit_are_measured_not_read(tmp_path: Path, content: bytes, expected: list[object]) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    seen: list[int] = []
    assert list(iter_lines(path, seen.append, limit=10)) == expected
    assert sum(seen) == len(content)  # the progress bar still counts every byte


def test_a_huge_line_is_refused_by_number_in_bounded_memory_and_the_replay_goes_on(tmp_path: Path) -> None:
    good = placed(order_id="L1").model_dump_json(exclude_none=True).encode()
    path = tmp_path / "events.jsonl"
    huge = 24 * MAX_LINE_BYTES
    with path.open("wb") as fh:
        fh.write(good + b"\n")
        fh.write(b'{"event_id": "' + b"A" * huge + b'"}\n')
        fh.write(placed(order_id="L2").model_dump_json(exclude_none=True).encode() + b"\n")
    bad: list[BadLine] = []
    result = replay_file(path, default_policy(), out=io.BytesIO(), on_bad=bad.append)
    tracemalloc.start()
    try:
        sizes = [len(line) if isinstance(line, bytes) else line.size for line in iter_lines(path)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sizes[1] == huge + 16
    assert [b.line for b in bad] == [2]
    assert "1 MiB" in bad[0].reason and f"{huge + 16:,} bytes" in bad[0].reason
    assert result.replayer.stats.events == 2  # the lines before and after were decided
    assert peak < 3 * MAX_LINE_BYTES, f"peak {peak / 2**20:.1f} MiB for a {huge / 2**20:.0f} MiB line"
