"""deploy/ is tested code: the alert rules and the dashboard name only metrics the worker exports, every alert
carries what a person paged needs, and promtool proves the rules (and the Prometheus config) hold."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from streams.executor.metrics import ExecutorMetrics
from streams.settings import Settings
from streams.worker.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yaml"
ALERT_TESTS = PROMETHEUS / "alerts_tests.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
METRIC = re.compile(r"\bpostsale_[a-z_]+")


def exported_names() -> set[str]:
    """Every sample name a worker's /metrics shows, with one sample in each family (`_total`, `_bucket`, …)."""
    registry = CollectorRegistry()
    families = [Metrics.create(registry, Settings()), ExecutorMetrics.create(registry)]
    for metrics, field in ((m, f) for m in families for f in type(m).__dataclass_fields__):
        metric = getattr(metrics, field)
        if not isinstance(metric, MetricWrapperBase):
            continue
        child = metric.labels(*["x"] * len(metric._labelnames)) if metric._labelnames else metric
        if isinstance(child, Counter):
            child.inc()
        elif isinstance(child, Gauge):
            child.set(1)
        elif isinstance(child, Histogram):
            child.observe(0.1)
    text = generate_latest(registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        query = var.get("query")
        exprs.append(query["query"] if isinstance(query, dict) else str(query or ""))
    return exprs


def test_the_exported_names_include_every_suffix() -> None:
    names = exported_names()
    assert {
        "postsale_events_consumed_total",
        "postsale_processing_latency_seconds_bucket",
        "postsale_processing_latency_seconds_count",
        "postsale_store_penalty_points",
    } <= names


@pytest.mark.parametrize(
    ("source", "texts"),
    [
        ("alerts.yaml", lambda: [r["expr"] for r in alert_rules()]),
        (
            "alerts_tests.yaml series",
            lambda: [s["series"] for t in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for s in t["input_series"]],
        ),
        ("dashboard.json", dashboard_exprs),
    ],
)
def test_every_metric_named_is_exported(source: str, texts: Any) -> None:
    used = {name for text in texts() for name in METRIC.findall(text)}
    assert used, f"{source} names no postsale metric: the regex or the file is wrong"
    missing = sorted(used - exported_names())
    assert not missing, f"{source} uses metrics the worker does not export: {missing}"


def test_every_alert_says_how_bad_what_where_and_what_to_do() -> None:
    rules = alert_rules()
    assert len(rules) >= 12
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        for key in ("summary", "description", "runbook_url"):
            assert rule["annotations"].get(key), f"{name} has no {key}"
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}", name
        if "by (store)" in rule["expr"]:
            assert "$labels.store" in rule["annotations"]["summary"], f"{name}: say which store"


def test_every_alert_has_a_firing_and_a_quiet_promtool_case() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for group in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for case in group.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - fires == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown staying quiet"


def markdown_anchors(text: str) -> set[str]:
    """The anchors a Markdown renderer gives the headings (GitHub's rule: lower case, spaces to hyphens, other
    punctuation dropped)."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", text, re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return anchors


def test_markdown_anchors_follow_the_renderer() -> None:
    assert markdown_anchors("# Top\n## PostsaleWorkerDown\n### What to do, now!\ntext # not a heading\n") == {
        "top",
        "postsaleworkerdown",
        "what-to-do-now",
    }


def test_every_runbook_url_points_to_a_runbook_section() -> None:
    rules = alert_rules()
    for rule in rules:
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        doc = ROOT / path
        assert doc.is_file(), f"{rule['alert']}: {path} does not exist"
        sections = markdown_anchors(doc.read_text())
        assert anchor in sections, f"{rule['alert']}: no section #{anchor} in {path}"
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for rule in rules:
        section = runbook.split(f"### {rule['alert']}\n", 1)[1].split("\n### ", 1)[0]
        assert "**What to do.**" in section, f"{rule['alert']}: its runbook section says what to do"


def test_dashboard_uses_a_datasource_variable_and_a_store_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 38
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["store"]["query"]["query"] == "label_values(postsale_store_orders_in_window, store)"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            if "postsale_store_" in target["expr"]:
                assert 'store=~"$store"' in target["expr"], f"{panel['title']}: store panels follow $store"


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: install Debian's 'prometheus' package (scripts/setup --with-system does)"
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["test", "rules", str(ALERT_TESTS)],
        ["check", "rules", str(ALERTS)],
        ["check", "config", str(PROMETHEUS / "prometheus.yml")],
    ],
    ids=["test-rules", "check-rules", "check-config"],
)
def test_promtool(args: list[str]) -> None:
    result = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
