"""Shared pieces of the fuzz tests: their Hypothesis budget, hostile values, and the memory a call peaks at."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("POSTSALE_FUZZ_EXAMPLES", "120"))
"""Examples per fuzz test: CI's budget keeps the folder under half a minute; set more to fuzz longer locally."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),  # one example, on a shared CI runner; a hang fails, a slow runner does not
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

BUYER = {
    "name": "Zhang Weimarker",
    "phone": "+86 138 0000 1234",
    "email": "weimarker@example.cn",
    "address": "88 Markerstreet, Pudong, Shanghai",
}
TRACES = ("Weimarker", "138 0000", "Markerstreet", "weimarker@")


def leaks(text: str) -> list[str]:
    return [t for t in TRACES if t.lower() in text.lower()]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "0", "-1", "1e999", "nan", "2026-11-11T10:00:00", "9999-12-31T23:59:59-14:00",
                     "0001-01-01T00:00:00+14:00", "x" * 300, "[/bogus]", "\x1b[2J", *BUYER.values()]),
    st.text(max_size=40),
)  # fmt: skip
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def peak_bytes(call: Callable[[], object]) -> int:
    """The most memory `call` had allocated at once (Python allocations, tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
