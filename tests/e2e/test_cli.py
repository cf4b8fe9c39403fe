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


NUMERIC_FLAGS = [
    ("replay", "--lateness", "nan"),
    ("replay", "--lateness", "inf"),
    ("replay", "--lateness", "-1"),
    ("replay", "--lateness", "1e12"),
    ("simulate", "--faults", "nan"),
    ("simulate", "--orders", "0"),
    ("simulate", "--orders-per-hour", "nan"),
    ("simulate", "--speed", "inf"),
    ("simulate", "--seed", "-1"),
    ("demo", "--speed", "nan"),
    ("demo", "--duration", "inf"),
    ("demo", "--orders-per-hour", "0"),
    ("demo", "--web-port", "70000"),
    ("worker", "--web-port", "70000"),
    ("execute", "--metrics-port", "-5"),
]


def test_every_numeric_flag_refuses_what_is_not_a_usable_number(tmp_path: Path) -> None:
    """One line naming the flag, exit 2, no traceback, nothing started."""
    for command, flag, value in NUMERIC_FLAGS:
        args = [command, flag, value]
        if command == "replay":
            args.insert(1, str(SAMPLE))
        if command == "simulate":
            args += ["--out", str(tmp_path / "never.jsonl")]
        out = run(*args, timeout=60)
        where = f"postsale {' '.join(args)}"
        assert out.returncode == 2, (where, out.stdout[-500:], out.stderr[-500:])
        assert "Traceback" not in out.stderr, where
        assert flag.lstrip("-").replace("-", "_") in out.stderr.replace("-", "_").lower(), (where, out.stderr)
        assert not (tmp_path / "never.jsonl").exists()
    ok = run("replay", str(SAMPLE), "--lateness", "3600", "--quiet")
    assert ok.returncode == 0 and ok.stdout, ok.stderr


def test_a_line_over_the_limit_is_named_and_the_replay_goes_on(tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "long.jsonl"
    path.write_bytes(lines[0] + b'{"event_id": "' + b"x" * (3 << 20) + b'"}\n' + b"".join(lines[1:]))
    out = run("replay", str(path), "--until", UNTIL)
    assert out.returncode == 0, out.stderr
    assert "line 2: line of 3,145,744 bytes is longer than the limit of 1 MiB: not read" in out.stderr
    assert out.stdout == run("replay", str(SAMPLE), "--until", UNTIL, "-q").stdout


def test_explain_prints_hostile_text_literally_and_refuses_in_one_line(tmp_path: Path) -> None:
    events = [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines()]
    over = next(e for e in events if e["type"] == "order.oversize")
    over["detail"] = "[/bogus] [link=http://evil.example]x[/link] \x1b]8;;http://evil.example\x07 \u202eevil"
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events if e["order_id"] == over["order_id"]))
    out = run("explain", over["order_id"], str(path))
    assert out.returncode == 0, out.stderr
    assert "[/bogus]" in out.stdout and "\\x1b]8;;http://evil.example\\x07" in out.stdout.replace("\n", "")
    assert "\x1b" not in out.stdout and "\u202e" not in out.stdout
    missing = run("explain", "[/bogus][link=http://evil.example]", str(path))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "no events for order [/bogus][link=http://evil.example]" in missing.stderr


def test_a_worker_off_loopback_without_an_order_view_token_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTSALE_")}
    env.update(POSTSALE_WEB_HOST="0.0.0.0", POSTSALE_BROKERS="kafka://127.0.0.1:1", COLUMNS="200")  # noqa: S104
    out = subprocess.run([*POSTSALE, "worker"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "POSTSALE_WEB_HOST=0.0.0.0" in line and "POSTSALE_ORDER_VIEW_TOKENS_FILE" in line
    (tmp_path / "tokens").write_text("store-a:sekret-token-1\nstore-b sekret-token-2\n")
    env.update(POSTSALE_ORDER_VIEW_TOKENS_FILE=str(tmp_path / "tokens"))
    bad = subprocess.run([*POSTSALE, "worker"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "sekret" not in bad.stderr
    assert "POSTSALE_ORDER_VIEW_TOKENS_FILE" in bad.stderr and "line 2" in bad.stderr
