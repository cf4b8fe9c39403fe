"""A Prometheus server on this machine, scraping local workers: for `postsale demo --prometheus` and the tests.

It runs the `prometheus` binary that the machine has (Debian's `prometheus`
package; `scripts/setup --with-system` installs it), with a configuration
written to a temporary directory: one scrape job, a 1 s scrape interval, and
the shipped alert rules (`deploy/prometheus/alerts.yaml`) so that the demo's
alerts page shows them pending and firing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from streams.demo.ports import free_port

# A link to deploy/prometheus/alerts.yaml in the source tree; the wheel carries a copy (package data).
ALERT_RULES = Path(__file__).with_name("alerts.yaml")
DEBIAN_BINARY = "/usr/bin/prometheus"


class PrometheusMissing(RuntimeError):
    pass


def prometheus_binary() -> str:
    binary = shutil.which("prometheus") or DEBIAN_BINARY
    if not os.access(binary, os.X_OK):
        raise PrometheusMissing(
            "the prometheus server is not installed: `sudo apt-get install prometheus` "
            "(or `bash scripts/setup --with-system`)"
        )
    return binary


class PrometheusAPI:
    """The HTTP API of a Prometheus server: instant queries, and any other GET (rules, alerts)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def get(self, path: str, **params: str) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as response:  # noqa: S310 - local
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus refused {path} {params}: {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=promql)["result"])

    def by(self, promql: str, label: str) -> dict[str, float]:
        """A `sum by (label)` query as {label value: value}; {} until the series exist or the server listens."""
        try:
            return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(promql)}
        except OSError:
            return {}


class LocalPrometheus(PrometheusAPI):
    """Start with `LocalPrometheus(workdir, ["127.0.0.1:6066"])`; stop with `.stop()` (or use it as a context)."""

    def __init__(
        self, workdir: Path, targets: list[str], port: int = 0, rules: bool = True, executors: list[str] | None = None
    ) -> None:
        binary = prometheus_binary()
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(port)
        config = workdir / "prometheus.yml"
        rule_files = f"rule_files:\n  - '{ALERT_RULES}'\n" if rules else ""
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            + rule_files
            + "scrape_configs:\n  - job_name: postsale\n    static_configs:\n"
            + f"      - targets: {json.dumps(targets)}\n"
            # The executor rules select job="postsale-executor", as in deploy/prometheus/prometheus.yml.
            + (
                f"  - job_name: postsale-executor\n    static_configs:\n      - targets: {json.dumps(executors)}\n"
                if executors
                else ""
            )
        )
        super().__init__(f"http://127.0.0.1:{self.port}")
        self.log = workdir / "prometheus.log"
        self.proc = subprocess.Popen(  # noqa: S603 - the machine's prometheus, our config
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> LocalPrometheus:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
