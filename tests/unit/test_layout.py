"""The layout's promises, checked on the source: no import cycle, and no import against the direction of use.

Imports inside functions count: a cycle hidden in a function is still a cycle. A module imports another when it
names it in `import x.y` or `from x.y import z` (then `x.y.z` too, when that is a module).
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "rules", "streams")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_models_rules_and_streams() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Who may not import whom: the production processes never import the demo, the simulator or the offline
# commands; Kafka plumbing depends on nothing above it; the core depends on no shell.
FORBIDDEN = {
    "models": ("rules", "streams"),
    "rules": ("streams",),
    "streams.kafka": (
        "streams.worker",
        "streams.executor",
        "streams.offline",
        "streams.demo",
        "streams.simulator",
        "streams.cli",
    ),
    "streams.orders": ("streams.worker", "streams.executor", "streams.offline", "streams.demo", "streams.simulator"),
    "streams.worker": (
        "streams.executor",
        "streams.offline",
        "streams.demo",
        "streams.simulator",
        "streams.cli",
        "streams.console",
    ),
    "streams.executor": (
        "streams.worker",
        "streams.offline",
        "streams.demo",
        "streams.simulator",
        "streams.cli",
        "streams.console",
    ),
    # The console reads Kafka and the workers' HTTP API; it runs the offline engine and the executor's commands.
    "streams.console": ("streams.worker", "streams.demo", "streams.simulator", "streams.cli"),
    "streams.offline": ("streams.worker", "streams.executor", "streams.demo", "streams.simulator"),
}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_no_import_against_the_direction_of_use() -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        for layer, banned in FORBIDDEN.items()
        if _under(name, layer)
        for target in targets
        if any(_under(target, b) for b in banned)
    )
    assert wrong == []


def test_the_rules_package_init_imports_nothing() -> None:
    tree = ast.parse((ROOT / "rules" / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    outside = ("../shared", "DESIGN.md", "PLAYBOOK.md", "STYLE.md")
    referring = sorted(
        path
        for path in tracked
        if path.endswith((".py", ".md", ".yaml", ".yml", ".toml", ".json", ".txt")) or path == "Dockerfile"
        if (ROOT / path).is_file() and path != "tests/unit/test_layout.py"
        if any(marker in (ROOT / path).read_text(errors="replace") for marker in outside)
    )
    assert referring == []


def test_every_module_imports() -> None:
    """An import of a module that moved or vanished fails here, not first in production (mypy is told to
    ignore missing imports for the untyped libraries, so it would not say)."""
    import importlib

    for name in sorted(_modules()):
        if not name.endswith("__main__"):
            importlib.import_module(name)


def test_paths_from_the_source_tree_point_at_files_that_exist() -> None:
    """A module that finds a file of the repository from its own place must still find it after a move."""
    from streams.demo import prometheus, run

    assert prometheus.ALERT_RULES.is_file()
    assert prometheus.ALERT_RULES.resolve() == (run.ROOT / "deploy" / "prometheus" / "alerts.yaml").resolve()
    assert (run.ROOT / "pyproject.toml").is_file()
