"""The `postsale` commands as a user runs them: real processes, real files, exit codes and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from models.actions import parse_action
from models.common import RULE_IDS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "streams" / "samples" / "day.jsonl"
POSTSALE = [sys.executable, "-m", "streams.cli"]
UNTIL = "2026-12-31T00:00:00+08:00"


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POSTSALE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, COLUMNS="200"),
    )


def test_replay_of_the_shipped_sample_decides_every_row(tmp_path: Path) -> None:
    broken = tmp_path / "with-bad-lines.jsonl"
    broken.write_bytes(SAMPLE.read_bytes() + b'{"event_id": "x", "order_id": "y"}\nnot json at all\n')
    out = run("replay", str(broken), "--until", UNTIL)
    assert out.returncode == 0, out.stderr
    actions = [parse_action(line) for line in out.stdout.splitlines()]
    rules = {a.rule for a in actions}
    assert set(RULE_IDS) - {"dispute_rate"} <= rules  # dispute_rate is a store figure, not an action
    assert len({a.action_id for a in actions}) == len(actions), "an action id is decided once"
    n = len(SAMPLE.read_bytes().splitlines())
    assert f"line {n + 1}: " in out.stderr and f"line {n + 2}: " in out.stderr  # bad lines named, run goes on
    for label in ("events read", "invalid lines", "actions by type", "penalty points", "dispute rate"):
        assert label in out.stderr
    again = run("replay", str(SAMPLE), "--until", UNTIL, "--quiet")
    assert again.stdout == run("replay", str(SAMPLE), "--until", UNTIL, "--quiet").stdout, "replay is deterministic"


def test_explain_tells_an_orders_story_with_rules_and_thresholds() -> None:
    actions = [orjson.loads(line) for line in run("replay", str(SAMPLE), "--until", UNTIL, "-q").stdout.splitlines()]
    switched = next(a for a in actions if a["rule"] == "overdue_switch")
    out = run("explain", switched["order_id"], str(SAMPLE), "--until", UNTIL, "--json")
    assert out.returncode == 0, out.stderr
    story = orjson.loads(out.stdout)
    kinds = [e["kind"] for e in story["timeline"]]
    assert "event" in kinds and "deadline" in kinds and "action" in kinds
    decided = [e["action"]["action_id"] for e in story["timeline"] if e["kind"] == "action"]
    assert switched["action_id"] in decided
    assert any("4 days after ship-by" in e["text"] for e in story["timeline"])  # the threshold behind it
    assert run("explain", "NO-SUCH-ORDER", str(SAMPLE)).returncode == 1


def test_diff_reports_what_a_threshold_change_would_have_done(tmp_path: Path) -> None:
    base = (ROOT / "models" / "default_policy.yaml").read_text()
    faster = tmp_path / "switch-after-3-days.yaml"
    faster.write_text(
        base.replace('version: "2026.11-default"', 'version: "switch-3d"').replace(
            "overdue_switch_after_days: 4", "overdue_switch_after_days: 3"
        )
    )
    out = run(
        "diff",
        str(SAMPLE),
        "--policy",
        str(ROOT / "models" / "default_policy.yaml"),
        "--against",
        str(faster),
        "--until",
        UNTIL,
        "--json",
    )
    assert out.returncode == 0, out.stderr
    report = orjson.loads(out.stdout)
    switch_rows = [r for r in report["by_rule_and_type"] if r["rule"] == "overdue_switch"]
    assert switch_rows and sum(r["changed"] + r["added"] + r["removed"] for r in switch_rows) > 0
    assert report["example_orders"]
    same = run("diff", str(SAMPLE), "--policy", str(faster), "--against", str(faster), "--json")
    assert orjson.loads(same.stdout)["changed"] == 0 and orjson.loads(same.stdout)["added"] == 0


def test_a_bad_policy_is_refused_with_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "x"\ndefaults:\n  overdue_expedite_after_days: -2\n  shipby_hours: 3\n')
    for args in (["policy-check", str(bad)], ["replay", str(SAMPLE), "--policy", str(bad)]):
        out = run(*args)
        assert out.returncode == 2
        assert "line 3, defaults.overdue_expedite_after_days" in out.stderr
        assert "line 4, defaults.shipby_hours" in out.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nobody listens once the socket is closed


def test_a_broker_that_cannot_be_reached_is_one_line_naming_the_address_and_setting(tmp_path: Path) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    for command in (["worker"], ["execute", "--dry-run"], ["actions", "list"]):
        out = subprocess.run(
            [*POSTSALE, *command, "--broker", f"kafka://{address}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        assert out.returncode == 2, (command, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, (command, out.stderr)
        assert address in lines[0] and "POSTSALE_BROKERS" in lines[0], lines[0]
        assert "Traceback" not in out.stderr and "[red]" not in out.stderr
    assert list(tmp_path.iterdir()) == [], "a failed command leaves nothing in the current directory"
