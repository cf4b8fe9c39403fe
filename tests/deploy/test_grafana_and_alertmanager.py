"""The Alertmanager config passes amtool; Grafana's provisioning points at what compose mounts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"


def test_alertmanager_config_passes_amtool() -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool is missing: apt-get install prometheus-alertmanager (scripts/setup --with-system does)"
    out = subprocess.run(
        [amtool, "check-config", str(ROOT / "deploy" / "compose" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_grafana_provisioning_matches_the_compose_mounts() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "postsale.yaml").read_text())
    assert datasources["apiVersion"] == 1 and providers["apiVersion"] == 1
    (ds,) = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    compose = yaml.safe_load(COMPOSE.read_text())
    assert "prometheus" in compose["services"], "the data source URL names the compose Prometheus service"
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    grafana = compose["services"]["grafana"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in grafana["volumes"] if ":" in str(v)}
    dashboards_dir = provider["options"]["path"]
    mounted = [target for target in mounts if target.startswith(dashboards_dir)]
    assert mounted, f"nothing is mounted under {dashboards_dir}, where the provider reads dashboards"
    for target in mounted:
        source = (COMPOSE.parent / mounts[target]).resolve()
        assert source.exists(), f"{source} (mounted at {target}) does not exist"
    dashboard = orjson.loads((GRAFANA / "dashboard.json").read_bytes())
    uses = {p.get("datasource", {}).get("uid") for p in dashboard["panels"] if isinstance(p.get("datasource"), dict)}
    assert uses <= {"${datasource}", ds["uid"], None}, uses
