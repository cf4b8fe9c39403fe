"""`rules/` and `models/` are pure: no broker, metrics, OS, network or clock. Checked on the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import models
import rules

FORBIDDEN_MODULES = {"faust", "aiokafka", "prometheus_client", "os", "time", "socket", "requests"}
FORBIDDEN_CALLS = {"datetime.now", "datetime.utcnow", "datetime.today", "date.today", "time.time", "open"}

SOURCES = sorted(path for package in (rules, models) for path in Path(package.__file__).parent.glob("*.py"))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _calls(tree: ast.Module) -> set[str]:
    calls = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            # `datetime.datetime.now()` and `dt.datetime.now()` count as `datetime.now`
            parts = name.split(".")
            calls |= {".".join(parts[i:]) for i in range(len(parts))}
    return calls


def test_the_packages_are_found():
    names = {p.stem for p in SOURCES}
    assert {"engine", "base", "no_stock", "promotion", "events", "policy"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_io_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert not _imports(tree) & FORBIDDEN_MODULES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_clock_or_file_calls(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert not _calls(tree) & FORBIDDEN_CALLS


def test_the_checker_would_catch_a_violation():
    bad = ast.parse("import os\nfrom time import monotonic\nimport datetime as dt\nx = dt.datetime.now()\nopen('f')\n")
    assert _imports(bad) & FORBIDDEN_MODULES == {"os", "time"}
    assert _calls(bad) & FORBIDDEN_CALLS == {"datetime.now", "open"}
