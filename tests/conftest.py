"""Session-wide hooks: the reliability figures, filed by tests in whichever process ran them, in the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

FIGURES_FILE = Path(__file__).resolve().parents[1] / "build" / "reliability-figures.jsonl"


def pytest_configure(config: Any) -> None:
    if not hasattr(config, "workerinput"):  # the controlling process (or the only one): a fresh file
        FIGURES_FILE.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES_FILE.exists():
        return
    terminalreporter.section("reliability figures (docs/reliability.md)")
    for line in FIGURES_FILE.read_bytes().splitlines():
        entry = orjson.loads(line)
        figures = entry["figures"]
        terminalreporter.write_line(f"{entry['test']}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
