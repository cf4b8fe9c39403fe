"""The event decoder (`models.events.parse_event`; `streams.offline.replay.read_events` with `validation_reason`,
the worker and replay use on every raw record) under arbitrary bytes and under sample events bent out of shape:
nothing escapes but a refusal, a refusal names the line and the field and never echoes the record, and memory
stays bounded however large the record."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from models.events import EVENT_TYPES, MAX_RECORD_BYTES, dump_event, parse_event
from streams.offline.replay import BadLine, read_events
from tests.fuzz.strategies import BUYER, FUZZ, json_values, leaks, peak_bytes
from tests.sample_events import ONE_OF_EACH_TYPE, SAMPLE


def test_every_event_type_is_fuzzed() -> None:
    assert {e["type"] for e in ONE_OF_EACH_TYPE} == set(EVENT_TYPES)
    assert all(not isinstance(_decoded(json.dumps(e).encode()), BadLine) for e in ONE_OF_EACH_TYPE)


def _decoded(raw: bytes) -> BaseModel | BadLine | None:
    """What replay makes of one line (None for a blank one); any other exception fails the test."""
    results = list(read_events([raw]))
    assert len(results) <= 1
    return results[0] if results else None


def _check(result: BaseModel | BadLine | None) -> None:
    if isinstance(result, BadLine):
        assert result.line == 1
        assert result.reason and result.reason.isprintable(), result.reason
        assert leaks(result.reason) == [], result.reason
    elif result is not None:
        assert parse_event(dump_event(result)) == result  # what is accepted can be written back and read again


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_decoded_or_refused(raw: bytes) -> None:
    _check(_decoded(raw))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    for part in path[:-1]:
        doc = doc[part]
    if delete and isinstance(doc, dict):
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


@st.composite
def bent_events(draw: st.DrawFn) -> bytes:
    """A sample event with one to three fields replaced, removed or added, the buyer's data among the values."""
    event = json.loads(json.dumps(draw(st.sampled_from(ONE_OF_EACH_TYPE))))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        paths = _paths(event)
        if op == "add" or not paths:
            key = draw(st.sampled_from(["buyer", "note", BUYER["phone"], BUYER["address"], "Type", "occurred_at"]))
            event[key] = draw(json_values | st.sampled_from(list(BUYER.values())) | st.builds(lambda: dict(BUYER)))
        else:
            path = draw(st.sampled_from(paths))
            value = draw(json_values | st.sampled_from(list(BUYER.values())))
            _set(event, path, value, delete=op == "delete")
    return json.dumps(event, allow_nan=True).encode()


@FUZZ
@given(bent_events())
def test_events_bent_out_of_shape_are_refused_naming_the_field_never_the_value(raw: bytes) -> None:
    _check(_decoded(raw))


@FUZZ
@given(st.sampled_from(ONE_OF_EACH_TYPE), st.integers(0, 200), st.binary(min_size=1, max_size=8))
def test_cut_or_corrupted_records_are_refused(event: dict[str, Any], at: int, junk: bytes) -> None:
    raw = json.dumps(event).encode()
    at = min(at, len(raw))
    for broken in (raw[:at], raw[:at] + junk + raw[at:], raw[:at] + junk):
        _check(_decoded(broken))


def test_every_refusal_is_a_validation_error() -> None:
    """The documented refusal: `parse_event` raises `pydantic.ValidationError` and nothing else, even for a record
    the decoder will not read at all."""
    for raw in (b"", b"\xff", b"[" * 100_000, b"{" + b'"a":1,' * 50_000 + b'"b":1}', b" " * (MAX_RECORD_BYTES + 1)):
        with pytest.raises(ValidationError):
            parse_event(raw)


PLACED = next(e for e in SAMPLE if e["type"] == "order.placed")


@functools.cache
def _largest(shape: str) -> bytes:
    """The largest record of a shape under the size limit."""
    make = SHAPES[shape]
    n = 1
    while len(make(n * 2)) <= MAX_RECORD_BYTES:
        n *= 2
    step = n // 2
    while step:
        if len(make(n + step)) <= MAX_RECORD_BYTES:
            n += step
        step //= 2
    raw: bytes = make(n)
    return raw


SHAPES = {
    "many bad items": lambda n: json.dumps({**PLACED, "items": [{"sku": 1}] * n}).encode(),
    "many unknown keys": lambda n: json.dumps({**PLACED, **{f"k{i}": 1 for i in range(n)}}).encode(),
    "many numbers": lambda n: json.dumps({**PLACED, "items": [1] * n}).encode(),
    "a long name": lambda n: json.dumps({**PLACED, "buyer": {"name": "x" * n}}).encode(),
    "deep lists": lambda n: b"[" * n + b"]" * n,
}


@pytest.mark.parametrize("shape", SHAPES)
def test_memory_stays_bounded_for_the_largest_record_decoded(shape: str) -> None:
    raw = _largest(shape)
    assert MAX_RECORD_BYTES // 2 < len(raw) <= MAX_RECORD_BYTES
    assert peak_bytes(lambda: _check(_decoded(raw))) < 64 * 1024 * 1024


@pytest.mark.parametrize("shape", SHAPES)
def test_a_record_over_the_limit_is_refused_before_it_is_parsed(shape: str) -> None:
    raw = _largest(shape) + b" " * 10 * 1024 * 1024  # still JSON, ten megabytes of it
    result: list[object] = []
    assert peak_bytes(lambda: result.append(_decoded(raw))) < 1024 * 1024
    assert isinstance(result[0], BadLine) and result[0].reason.startswith("(record): ")
