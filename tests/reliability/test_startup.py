"""A worker never starts half-configured: a bad policy file or setting stops `postsale worker` at once.

The broker address is a socket this test listens on: the worker must exit
non-zero, name the field (and the line, for the policy), and never connect.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.kafka import ROOT

POLICY_CASES = [
    # (case, policy text, what the output must name)
    ("yaml syntax", 'version: "x"\ndefaults:\n  evidence_wait_days: [7,\n', ["line"]),
    (
        "wrong type",
        'version: "bad-1"\ndefaults:\n  handling_time_hours: 72\n  evidence_wait_days: soon\n',
        ["line 4", "evidence_wait_days"],
    ),
    ("unknown field", 'version: "bad-2"\ndefaults:\n  evidnce_wait_days: 7\n', ["line 3", "evidnce_wait_days"]),
    (
        "inconsistent window",
        'version: "bad-3"\ndefaults:\n  verification_min_working_days: 40\n  verification_max_working_days: 30\n',
        ["verification_m"],
    ),
    (
        "inconsistent override",
        'version: "bad-4"\nmarketplaces:\n  tmall:\n    verification_min_working_days: 45\n',
        ["marketplaces", "tmall", "verification_m"],
    ),
    ("negative number", 'version: "bad-5"\ndefaults:\n  overdue_expedite_after_days: -2\n', ["line 3"]),
    ("not a mapping", "- just\n- a list\n", ["policy"]),
]

SETTINGS_CASES = [
    ("no partitions", {"POSTSALE_PARTITIONS": "0"}, ["POSTSALE_PARTITIONS"]),
    ("partitions not a number", {"POSTSALE_PARTITIONS": "eight"}, ["POSTSALE_PARTITIONS"]),
    (
        "sasl without password",
        {
            "POSTSALE_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "POSTSALE_SASL_MECHANISM": "PLAIN",
            "POSTSALE_SASL_USERNAME": "u",
        },
        ["SASL", "sasl_password"],
    ),
    ("mechanism without sasl", {"POSTSALE_SASL_MECHANISM": "SCRAM-SHA-256"}, ["sasl_mechanism"]),
    ("unknown mechanism", {"POSTSALE_SECURITY_PROTOCOL": "SASL_SSL", "POSTSALE_SASL_MECHANISM": "MD5"}, ["MECHANISM"]),
    ("bad store", {"POSTSALE_STORE": "redis://x"}, ["POSTSALE_STORE"]),
    ("bad broker url", {"POSTSALE_BROKERS": "http://127.0.0.1:9"}, ["POSTSALE_BROKERS"]),
    ("heartbeat too slow", {"POSTSALE_HEARTBEAT_INTERVAL_SECONDS": "5"}, ["heartbeat_interval_seconds"]),
    ("bad web port", {"POSTSALE_WEB_PORT": "70000"}, ["POSTSALE_WEB_PORT"]),
]


def run_refused(tmp_path: Path, env_extra: dict[str, str]) -> tuple[int, str, float, int]:
    """Run `postsale worker` against a listening socket; (exit code, output, seconds, connections accepted)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.05)
        port = listener.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSALE_")}
        env.update(
            {
                "POSTSALE_BROKERS": f"kafka://127.0.0.1:{port}",
                "POSTSALE_SESSION_TIMEOUT_SECONDS": "6",
                "POSTSALE_HEARTBEAT_INTERVAL_SECONDS": "1",
                "POSTSALE_WEB_ENABLED": "false",
                "POSTSALE_DATA_DIR": str(tmp_path / "data"),
            }
        )
        env.update(env_extra)
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        connections = 0
        try:
            while proc.poll() is None and time.monotonic() - started < 30:
                try:
                    conn, _ = listener.accept()
                    conn.close()
                    connections += 1
                except TimeoutError:
                    pass
        finally:
            if proc.poll() is None:
                proc.kill()
            out = proc.communicate(timeout=10)[0].decode(errors="replace")
        return int(proc.returncode), out, time.monotonic() - started, connections


@pytest.mark.parametrize(("case", "text", "named"), POLICY_CASES, ids=[c[0] for c in POLICY_CASES])
def test_a_bad_policy_file_stops_the_worker_before_it_connects(
    tmp_path: Path, case: str, text: str, named: list[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    code, out, seconds, connections = run_refused(tmp_path, {"POSTSALE_POLICY_FILE": str(policy)})
    assert code != 0, out
    assert connections == 0, f"connected to the broker before refusing the policy ({case})"
    for word in named:
        assert word in out, f"{case}: {word!r} not in:\n{out}"
    assert "Traceback" not in out, out
    assert seconds < 20, f"{case}: took {seconds:.1f} s"


@pytest.mark.parametrize(("case", "env", "named"), SETTINGS_CASES, ids=[c[0] for c in SETTINGS_CASES])
def test_a_bad_setting_stops_the_worker_before_it_connects(
    tmp_path: Path, case: str, env: dict[str, str], named: list[str]
) -> None:
    code, out, seconds, connections = run_refused(tmp_path, env)
    assert code != 0, out
    assert connections == 0, f"connected to the broker before refusing the settings ({case})"
    for word in named:
        assert word in out, f"{case}: {word!r} not in:\n{out}"
    assert "Traceback" not in out, out
    assert seconds < 20, f"{case}: took {seconds:.1f} s"
