"""Reading a policy file: YAML in, a validated `Policy` out, or a `PolicyError` naming line and field.

A store edits this file by hand; an error must point at the line to fix, not
at a Python traceback. Nothing half-valid gets through: the worker and the
replay refuse to start on any error. What the YAML itself may hold (size,
depth, duplicate keys, encoding, tags) is `models.yaml_file`'s, shared with
the executor's config.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from models.policy import Policy
from models.yaml_file import MAX_PROBLEMS, FileError, YamlDocument, field_path, parse_yaml, read_yaml

DEFAULT_POLICY_RESOURCE = "default_policy.yaml"


class PolicyError(FileError):
    """A policy file that cannot be used; `problems` lists (line or None, field path, message)."""

    kind = "policy"


def parse_policy(text: str | bytes, source: str = "<policy>") -> Policy:
    return _policy(parse_yaml(text, source, PolicyError), source)


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at `path`, or the shipped default policy (the playbook's numbers) when `path` is None."""
    if path is None:
        text = resources.files("models").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")
        return parse_policy(text, source=f"(default) {DEFAULT_POLICY_RESOURCE}")
    return _policy(read_yaml(path, PolicyError), str(path))


def _policy(doc: YamlDocument, source: str) -> Policy:
    if not isinstance(doc.data, dict):
        raise PolicyError(source, [(1, "", "a policy file is a mapping with at least `version`")])
    try:
        policy = Policy.model_validate(doc.data, context={"defer_consistency": True})
    except ValidationError as exc:
        problems = [
            (doc.line_of(tuple(err["loc"])), field_path(err["loc"]), err["msg"])
            for err in exc.errors(include_url=False, include_input=False)[:MAX_PROBLEMS]
        ]
        raise PolicyError(source, problems, more=exc.error_count() - len(problems)) from None
    contradictions = policy.inconsistencies()
    if contradictions:
        problems = [(doc.line_of(loc), field_path(loc), msg) for loc, msg in contradictions[:MAX_PROBLEMS]]
        raise PolicyError(source, problems, more=len(contradictions) - len(problems))
    return policy
