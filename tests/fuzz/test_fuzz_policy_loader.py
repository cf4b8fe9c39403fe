"""The loaders of the files a store writes by hand (the policy, executor.yaml) under arbitrary bytes, YAML-ish
text, and the shipped policy bent out of shape: nothing escapes but the documented refusal (`PolicyError`,
`ConfigError`), every refusal names a line of the file, a policy that is accepted runs the engine without an
exception, and memory stays bounded at the size limit and beyond it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import streams
from models.common import KNOWN_MARKETPLACES
from models.events import parse_event
from models.policy import MAX_OVERRIDES, Policy
from models.policy_file import DEFAULT_POLICY_RESOURCE, PolicyError, load_policy, parse_policy
from models.yaml_file import MAX_BYTES, MAX_NODES, FileError
from streams.executor.config import ConfigError, parse_config
from streams.offline.replay import Replayer
from tests.fuzz.strategies import FUZZ, json_values, peak_bytes

DEFAULT_TEXT = resources.files("models").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")
DEFAULT: dict[str, Any] = yaml.safe_load(DEFAULT_TEXT)
EVENTS = [
    parse_event(line)
    for line in (Path(streams.__file__).parent / "samples" / "day.jsonl").read_bytes().splitlines()[:120]
    if line.strip()
]
YAML_CHARS = st.sampled_from(list("abcdefxyz019 \t\n:-,.[]{}&*!|>'\"#%@`?\\~") + ["\r", "\x00", "\xff", "é", "\ufeff"])


def _check_refusal(exc: FileError, text: str | bytes) -> None:
    decoded = text.decode(errors="replace") if isinstance(text, bytes) else text
    lines = len(re.split("\r\n|[\r\n\x85\u2028\u2029]", decoded))  # as YAML counts them
    assert exc.problems
    for line, _field, message in exc.problems:
        assert isinstance(line, int) and 1 <= line <= lines, (line, exc)
        assert message
    for row in str(exc).splitlines():
        assert row.isprintable(), row
    if len(exc.problems) == 1:
        assert "\n" not in str(exc)


def _load(text: str | bytes) -> Policy | None:
    try:
        return parse_policy(text, source="store.yaml")
    except PolicyError as exc:
        _check_refusal(exc, text)
        return None


def _runs(policy: Policy) -> None:
    """An accepted policy decides the sample's first orders, and their deadlines a year out, without an exception."""
    replayer = Replayer(policy)
    for event in EVENTS:
        replayer.feed(event)
    replayer.finish(datetime(2028, 1, 1, tzinfo=UTC))


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_refused_with_a_line(raw: bytes) -> None:
    _load(raw)
    try:
        parse_config(raw, source="executor.yaml")
    except ConfigError as exc:
        _check_refusal(exc, raw)


@FUZZ
@given(st.text(YAML_CHARS, max_size=400))
def test_yaml_like_text_is_refused_with_a_line(text: str) -> None:
    for doc in (text, 'version: "x"\ndefaults:\n  ' + text):
        _load(doc)
        try:
            parse_config(doc)
        except ConfigError as exc:
            _check_refusal(exc, doc)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, -1, 1e-300, 1e9, 8760, 8761, 365, 366, 260, 261, 10, 10.5, 1000, 1001, 3650, 3651]),
)


@st.composite
def bent_policies(draw: st.DrawFn) -> str:
    """The shipped policy with one to four values replaced (mostly by numbers at and past their bounds), removed,
    or added under a known or unknown name."""
    doc = json.loads(json.dumps(DEFAULT, default=str))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["number", "number", "value", "delete", "add"]))
        if op == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == "add" and isinstance(parent, dict):
            name = draw(st.sampled_from(["handling_time_hours", "max_reorder_attempts", "unknown", "FR", "jd"]))
            parent[name] = draw(numbers | json_values)
        else:
            parent[path[-1]] = draw(numbers if op == "number" else json_values)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@FUZZ
@given(bent_policies())
def test_a_bent_policy_is_refused_with_line_and_field_or_runs_the_engine(text: str) -> None:
    policy = _load(text)
    if policy is not None:
        _runs(policy)


@FUZZ
@given(st.integers(0, DEFAULT_TEXT.count("\n")), st.sampled_from(["repeat", "drop", "indent", "cut"]))
def test_a_line_repeated_dropped_indented_or_cut_is_refused_with_its_line(at: int, op: str) -> None:
    lines = DEFAULT_TEXT.splitlines(keepends=True)
    at = min(at, len(lines) - 1)
    if op == "repeat":
        lines.insert(at, lines[at])
    elif op == "drop":
        del lines[at]
    elif op == "indent":
        lines[at] = "   " + lines[at]
    else:
        lines[at] = lines[at][: len(lines[at]) // 2]
    policy = _load("".join(lines))
    if policy is not None:
        _runs(policy)


def _nodes(text: str) -> int:
    return sum(
        1
        for e in yaml.parse(text, Loader=yaml.CSafeLoader)
        if isinstance(e, yaml.ScalarEvent | yaml.CollectionStartEvent)
    )


def _fits(text: str) -> bool:
    return len(text.encode()) <= MAX_BYTES and _nodes(text) <= MAX_NODES


def _worst(make: Any) -> str:
    """The largest document of a shape within the size and node limits."""
    n = 1
    while _fits(make(n * 2)):
        n *= 2
    step = n // 2
    while step:
        if _fits(make(n + step)):
            n += step
        step //= 2
    text: str = make(n)
    return text


_FULL = yaml.safe_dump({"handling_time_hours": 8760.0, **{k: v for k, v in DEFAULT["defaults"].items()}})


def _full_overrides(n: int) -> str:
    """Every known marketplace and `n` regions, each setting every threshold the shipped defaults set."""
    block = "".join("    " + line + "\n" for line in _FULL.splitlines())
    regions = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"][:n]
    return (
        "version: x\nmarketplaces:\n"
        + "".join(f"  '{m}':\n{block}" for m in KNOWN_MARKETPLACES)
        + "regions:\n"
        + "".join(f"  {r}:\n{block}" for r in regions)
    )


SHAPES = {
    "many unknown keys": lambda n: "version: x\ndefaults:\n" + "".join(f"  k{i}: 1\n" for i in range(n)),
    "a long flow list": lambda n: "version: x\npromotions: [" + "1," * n + "]\n",
    "a long string": lambda n: "version: '" + "x" * n + "'\n",
}


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_stays_bounded_at_the_size_limit(shape: str) -> None:
    text = _worst(SHAPES[shape])
    assert len(text.encode()) > MAX_BYTES // 2 or _nodes(text) > MAX_NODES // 2
    assert peak_bytes(lambda: _load(text)) < 64 * 1024 * 1024


def test_the_largest_policy_a_store_could_write_loads_within_bounds() -> None:
    """Every override allowed, each setting every threshold: accepted, in bounded memory."""
    text = _full_overrides(MAX_OVERRIDES)
    assert len(text.encode()) <= MAX_BYTES and _nodes(text) <= MAX_NODES
    loaded: list[Policy | None] = []
    assert peak_bytes(lambda: loaded.append(_load(text))) < 64 * 1024 * 1024
    assert loaded[0] is not None and len(loaded[0].regions) == MAX_OVERRIDES
    assert len(loaded[0].marketplaces) == len(KNOWN_MARKETPLACES)


def test_a_file_far_over_the_limit_is_refused_reading_no_more_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.write(b"version: x\n")
        f.seek(50 * 1024 * 1024)
        f.write(b"\n")
    caught: list[PolicyError] = []

    def load() -> None:
        try:
            load_policy(path)
        except PolicyError as exc:
            caught.append(exc)

    assert peak_bytes(load) < 2 * MAX_BYTES + 256 * 1024
    assert caught and "larger than 512 KiB" in str(caught[0])
