"""Reliability tests share the session's broker (tests/integration/conftest.py) and print their figures."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import broker  # noqa: F401 - the session fixture, re-exported
from tests.reliability.support import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures (docs/reliability.md)")
    for test, figures in FIGURES.items():
        terminalreporter.write_line(f"{test}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
