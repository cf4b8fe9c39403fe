"""The shipped sample day as test data, and the two event types only the executor writes (absent from it): one
event of every type, for tests that go over every type the decoder knows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streams

SAMPLE_LINES: list[bytes] = [
    line for line in (Path(streams.__file__).parent / "samples" / "day.jsonl").read_bytes().splitlines() if line.strip()
]
SAMPLE: list[dict[str, Any]] = [json.loads(line) for line in SAMPLE_LINES]
EXECUTOR_EVENTS: list[dict[str, Any]] = [
    {"event_id": "out-act-1", "order_id": "store-hz-01-11-0000000", "type": "action.failed",
     "occurred_at": "2026-11-11T10:00:00+08:00", "action_id": "act-1", "action_type": "refund",
     "reason": "HTTP 422", "outcome": "rejected"},
    {"event_id": "held-act-1", "order_id": "store-hz-01-11-0000000", "type": "action.held",
     "occurred_at": "2026-11-11T10:00:00+08:00", "action_id": "act-1", "action_type": "refund",
     "party": "customer", "amount": "25.00", "currency": "USD", "reason": "above the single-refund limit"},
]  # fmt: skip
ONE_OF_EACH_TYPE: list[dict[str, Any]] = list({e["type"]: e for e in [*SAMPLE, *EXECUTOR_EVENTS]}.values())
