"""Reading a policy file: YAML in, a validated `Policy` out, or a `PolicyError` naming line and field.

A store edits this file by hand; an error must point at the line to fix, not
at a Python traceback. Nothing half-valid gets through: the worker and the
replay refuse to start on any error.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from models.policy import Policy

DEFAULT_POLICY_RESOURCE = "default_policy.yaml"


class PolicyError(ValueError):
    """A policy file that cannot be used; `problems` lists (line or None, field path, message)."""

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"policy {source} is invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
        for line, field, message in problems:
            where = f"line {line}, " if line is not None else ""
            lines.append(f"  {where}{field or '(top level)'}: {message}")
        super().__init__("\n".join(lines))


def _line_of(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """1-based line of the deepest YAML node that `loc` reaches (the key's line for a mapping entry)."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(source, [(None if mark is None else mark.line + 1, "", f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise PolicyError(source, [(1, "", "a policy file is a mapping with at least `version`")])
    try:
        policy = Policy.model_validate(data, context={"defer_consistency": True})
    except ValidationError as exc:
        problems = [
            (_line_of(root, tuple(err["loc"])), ".".join(str(p) for p in err["loc"]), err["msg"])
            for err in exc.errors()
        ]
        raise PolicyError(source, problems) from exc
    contradictions = policy.inconsistencies()
    if contradictions:
        raise PolicyError(source, [(_line_of(root, loc), ".".join(map(str, loc)), msg) for loc, msg in contradictions])
    return policy


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at `path`, or the shipped default policy (the playbook's numbers) when `path` is None."""
    if path is None:
        text = resources.files("models").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")
        return parse_policy(text, source=f"(default) {DEFAULT_POLICY_RESOURCE}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(p), [(None, "", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(str(p), [(None, "", f"not UTF-8 text: {exc.reason}")]) from exc
    return parse_policy(text, source=str(p))
