"""`postsale demo` end to end, and issue #5's promise checked the way a person would: every number on the
dashboard moves while the demo runs.

The demo starts its own Prometheus (the machine's `prometheus`, with the shipped alert rules) scraping the
worker. While the simulated store runs, every metric the Grafana dashboard plots is read back through
Prometheus's HTTP API, and each must have at least one series whose value changed. The demo's executor sends
the refunds to its built-in receiver (retried, some held for a person) and the outcomes reach the worker. The
demo must then stop on its own after `--duration`, report what it produced, decided and delivered, and leave no
process behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from streams.demo.prometheus import PrometheusAPI

ROOT = Path(__file__).resolve().parents[2]
POSTSALE = [str(ROOT / ".venv" / "bin" / "python"), "-m", "streams.cli"]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
METRIC = re.compile(r"\bpostsale_[a-z_]+")
DURATION = 45
SPEED = 43200  # 12 simulated hours a second: 22 days in the run, so disputes and penalty points happen
# Health figures that a healthy worker keeps at zero: the panel must show them (the series exists), not move.
# Backlog gauges (held events) go above zero only for the instant a scrape may miss.
ZERO_WHEN_HEALTHY = {
    "postsale_deadlines_overdue",
    "postsale_oldest_overdue_deadline_age_seconds",
    "postsale_held_events",
    "postsale_rebalancing",  # 1 only while a rebalance is under way (at start-up, for a moment)
}


def dashboard_metrics() -> set[str]:
    return set(METRIC.findall(DASHBOARD.read_text()))


def panel_queries() -> dict[str, str]:
    """Each panel target's PromQL as Grafana would send it: every store, a one-minute rate interval."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "1m").replace("$store", ".*")
            queries[f"{panel['title']} / {target.get('legendFormat', target.get('refId', ''))}"] = expr
    return queries


class Lines:
    """The demo's output, read in the background (it redraws a live table: no blocking reads in the test)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.text += line

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text)
            if found:
                return found
            time.sleep(0.2)
        pytest.fail(f"the demo never printed {pattern!r}:\n{self.text[-3000:]}")


@pytest.mark.broker
def test_every_number_on_the_dashboard_moves_during_the_demo() -> None:
    metrics = dashboard_metrics()
    assert len(metrics) >= 15, metrics
    proc = subprocess.Popen(
        [
            *POSTSALE,
            "demo",
            *("--duration", str(DURATION), "--speed", str(SPEED), "--web-port", "0", "--prometheus-port", "0"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = Lines(proc)
    try:
        url = lines.wait_for(r"prometheus (http://127\.0\.0\.1:\d+) scrapes", timeout=120).group(1)
        prometheus = PrometheusAPI(url)
        still: set[str] = set(metrics)
        deadline = time.monotonic() + DURATION - 5
        while still and time.monotonic() < deadline:
            time.sleep(3)
            for name in sorted(still):
                # Moved: a series changed value, or appeared with a value other than zero (a counter's first count).
                promql = f"count(changes({name}[5m]) > 0 or {name} != 0)"
                if name in ZERO_WHEN_HEALTHY:
                    promql = f"count({name})"
                try:
                    moved = prometheus.query(promql)
                except OSError:
                    break  # not listening yet
                if moved and float(moved[0]["value"][1]) > 0:
                    still.discard(name)
        assert not still, f"numbers on the dashboard that never moved during the demo: {sorted(still)}"
        empty = [title for title, promql in panel_queries().items() if not prometheus.query(promql)]
        assert not empty, f"dashboard panels Prometheus has no data for: {empty}"
        # The only records dead-lettered are the ones the simulated producer truncated: a simulated store
        # running ahead of the wall clock is not "from the future".
        reasons = prometheus.by("sum by (reason) (postsale_invalid_records_total)", "reason")
        assert reasons.get("invalid_json", 0) > 0, reasons
        assert {r: n for r, n in reasons.items() if n and r != "invalid_json"} == {}, reasons
        groups = prometheus.get("/api/v1/rules")["groups"]
        assert groups and all(r["health"] == "ok" for g in groups for r in g["rules"]), groups
        # The executor's loop: refunds delivered to the built-in receiver, and their outcomes (done, held for a
        # person) read back by the worker as events.
        while True:
            delivered = prometheus.by("sum by (outcome) (postsale_executor_deliveries_total)", "outcome")
            consumed = prometheus.by('sum by (type) (postsale_events_consumed_total{type=~"action.*"})', "type")
            if (delivered.get("done", 0) and consumed.get("action.held", 0)) or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert delivered.get("done", 0) > 0 and delivered.get("held", 0) > 0, delivered
        assert consumed.get("action.held", 0) > 0, consumed
        proc.wait(DURATION + 60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 0, lines.text[-3000:]
    assert "worker ready" in lines.text and "metrics: http://127.0.0.1:" in lines.text
    produced = int(lines.text.split("stopped: ")[1].split(" events")[0])
    decided = int(lines.text.split("events produced, ")[1].split(" actions")[0])
    assert produced > 1000 and decided > 100, lines.text.strip().splitlines()[-2:]
    executor = re.search(
        r"executor: (\d+) refunds done, (\d+) retries, (\d+) held for a person, (\d+) failed; "
        r"receiver: (\d+) calls, (\d+) refunds made, (\d+) repeats answered without refunding again, "
        r"(\d+) bad signatures",
        " ".join(lines.text.split()),  # the console wraps long lines
    )
    assert executor, lines.text[-2000:]
    done, retries, held, _, calls, made, repeats, bad = map(int, executor.groups())
    assert done > 10 and retries > 0 and held > 0, executor.group(0)
    assert calls > done and made >= done and repeats > 0 and bad == 0, executor.group(0)
    leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"processes left behind (Prometheus?): {leftovers}"
