"""What `postsale` says before any command runs: its version, its help, and the environment it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer.main

from streams.cli import app
from streams.settings import TOOLING_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "streams" / "samples" / "day.jsonl"
POLICY = ROOT / "models" / "default_policy.yaml"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POSTSALE_")}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.parametrize(
    ("variable", "closest"),
    [
        ("POSTSALE_BROKER", "POSTSALE_BROKERS"),
        ("POSTSALE_PARTITION", "POSTSALE_PARTITIONS"),
        ("POSTSALE_EXECUTOR_DRYRUN", "POSTSALE_EXECUTOR_DRY_RUN"),
        ("POSTSALE_CONSOLE_PORTS", "POSTSALE_CONSOLE_PORT"),
        ("POSTSALE_ORDERVIEW_TOKEN", "POSTSALE_ORDER_VIEW_TOKEN"),
    ],
)
def test_a_misspelt_setting_is_refused_in_one_line_with_the_closest_name(variable: str, closest: str) -> None:
    out = run("replay", str(SAMPLE), "--quiet", env={variable: "1"})
    assert out.returncode == 2, out.stderr
    assert out.stdout == "", "nothing was replayed"
    assert out.stderr.strip().splitlines() == [
        f"{variable}: no postsale setting has this name; did you mean {closest}? (every setting: docs/configuration.md)"
    ]


def test_a_name_like_no_setting_is_refused_without_a_guess() -> None:
    out = run("policy-check", str(POLICY), env={"POSTSALE_ZZZ": "1"})
    assert out.returncode == 2
    expected = "POSTSALE_ZZZ: no postsale setting has this name (every setting: docs/configuration.md)"
    assert out.stderr.strip() == expected


def test_settings_secrets_and_the_tools_variables_are_not_refused() -> None:
    env = dict.fromkeys(TOOLING_VARIABLES, "1")
    env.update(
        POSTSALE_BROKERS="kafka://127.0.0.1:9092",
        POSTSALE_EXECUTOR_DRY_RUN="true",
        POSTSALE_CONSOLE_PORT="6070",
        POSTSALE_WEBHOOK_SECRET="whsec_x",  # noqa: S106 - a name executor.yaml may give a secret
        POSTSALE_SECRET_HZ01="whsec_y",  # noqa: S106
    )
    out = run("policy-check", str(POLICY), env=env)
    assert out.returncode == 0, out.stderr


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"postsale {version('postsale')}"


def _commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    out = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        out += [[name, sub] for sub in subcommands] if subcommands else [[name]]
    return out


def test_every_help_names_values_as_a_person_would() -> None:
    """No `<bool>` after a flag, no Python types, no `{argument}` in the usage line."""
    commands = _commands()
    assert ["actions", "release"] in commands and ["demo"] in commands
    for command in [[], *commands]:
        out = run(*command, "--help")
        assert out.returncode == 0, (command, out.stderr)
        for bad in ("<bool>", "<int>", "<float>", "<str>", "<path>", "list[str]", "{"):
            assert bad not in out.stdout, (command, bad, out.stdout)
    assert "explain [OPTIONS] ORDER_ID [EVENTS]" in run("explain", "--help").stdout
    demo = run("demo", "--help").stdout
    assert "--seed" in demo and "same seed" in demo.split("--seed", 1)[1].split("--", 1)[0]


def test_diff_compares_with_the_shipped_policy_when_no_policy_is_given(tmp_path: Path) -> None:
    mine = tmp_path / "my_policy.yaml"
    mine.write_text(
        POLICY.read_text().replace("overdue_expedite_after_days: 2", "overdue_expedite_after_days: 1"), "utf-8"
    )
    until = "2026-12-31T00:00:00+08:00"
    implicit = run("diff", str(SAMPLE), "--against", str(mine), "--until", until, "--json")
    explicit = run("diff", str(SAMPLE), "--policy", str(POLICY), "--against", str(mine), "--until", until, "--json")
    assert implicit.returncode == 0, implicit.stderr
    assert implicit.stdout == explicit.stdout and '"overdue_expedite"' in implicit.stdout
