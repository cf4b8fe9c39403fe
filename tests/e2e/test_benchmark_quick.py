"""The benchmark works end to end in its quick mode and its report has every figure (not a timed test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]

FIGURES = [
    "ceiling_events_per_s",
    "naive_faust_events_per_s",
    "quix_events_per_s",
    "quix_rules_events_per_s",
    "quix_cpu_ms_per_event",
    "quix_rules_cpu_ms_per_event",
    "quix_rules_actions",
    "worker_events_per_s",
    "worker_cpu_ms_per_event",
    "worker_peak_rss_mb",
    "worker_stream_events_per_s",
    "worker_stream_cpu_ms_per_event",
    "replay_events_per_s",
    "replay_peak_rss_mb",
    "replay_simulated_events_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_floor_p50_ms",
    "latency_floor_p99_ms",
    "latency_50pct_rate",
    "latency_50pct_p99_ms",
    "latency_80pct_rate",
    "latency_80pct_p99_ms",
    "deadline_us_per_fired_10k",
    "deadline_us_per_fired_1m",
    "state_bytes_mean",
    "state_bytes_p95",
    "state_rocksdb_bytes_per_order",
    "state_decoded_bytes_per_order",
    "two_workers_events_per_s",
    "two_workers_cpu_ms_per_event",
    "cpu_count",
]


@pytest.mark.slow
@pytest.mark.broker
def test_quick_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "tmp.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = orjson.loads(out.read_bytes())
    machine = report["machine"]
    for key in ("platform", "cpu_count", "python", "faust_streaming", "aiokafka", "pydantic", "partitions", "events"):
        assert machine.get(key), key
    assert machine["partitions"] == 8
    figures = report["figures"]
    missing = [f for f in FIGURES if f not in figures]
    assert not missing, missing
    for name in FIGURES:
        fig = figures[name]
        assert fig["runs"], name
        assert fig["median"] > 0, (name, fig)
        assert all(r > 0 for r in fig["runs"]), (name, fig)
    assert report["ratios"] and all(v > 0 for v in report["ratios"].values()), report["ratios"]
    assert len(report["targets"]) == 8
    stages = report["worker_stages"]  # the stage table, or why not (no py-spy in the environment)
    if "stages" in stages:
        assert sum(row["us_per_event"] for row in stages["stages"]) > 0, stages
    else:
        assert stages["skipped"], stages
    worker = report["runs"][0]["worker"]
    assert worker["actions"] > 0 and "missing_actions" in worker and "extra_actions" in worker
    # both deliveries decide every action replay decides, and nothing else
    for run in ("worker", "worker_stream"):
        assert report["runs"][0][run]["missing_actions"] == 0 == report["runs"][0][run]["extra_actions"], run
