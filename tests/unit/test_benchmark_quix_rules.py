"""The benchmark's Quix Streams peer with postsale's rules decides what replay decides, less the deadlines that no
later event of their order reaches (its documented simplification)."""

from __future__ import annotations

from typing import Any

import orjson

from benchmarks.common import make_stream, reference_actions
from benchmarks.quix_rules import STATE_KEY, OrderRules
from models.policy_file import load_policy
from streams.worker.codec import decode_state


class KeyState(dict[Any, bytes]):
    """Quix's per-key `State`, as far as the step uses it."""

    def get_bytes(self, key: Any, default: bytes | None = None) -> bytes | None:
        return self.get(key, default)

    def set_bytes(self, key: Any, value: bytes) -> None:
        self[key] = value

    def delete(self, key: Any) -> None:
        del self[key]


def test_the_peer_decides_a_subset_of_replay_and_stores_the_workers_bytes() -> None:
    stream = make_stream(1500)
    reference = reference_actions(stream.events, stream.until)
    step = OrderRules(load_policy())
    states: dict[str, KeyState] = {}
    decided: dict[str, Any] = {}
    for event in stream.events:
        for raw in step(orjson.dumps(event), states.setdefault(event["order_id"], KeyState())):
            action = orjson.loads(raw)
            decided[action["action_id"]] = action
    assert step.counts["events"] == stream.n and step.counts["invalid"] == 0
    assert step.counts["actions"] == len(decided) > 0
    assert step.counts["deadline_advances"] > 0
    assert all(reference.get(action_id) == action for action_id, action in decided.items())
    # replay fires the rest at the end-of-input clock; the peer has no clock
    assert len(decided) < len(reference)
    stored = [s[STATE_KEY] for s in states.values() if STATE_KEY in s]
    assert stored and all(decode_state(raw).order_id for raw in stored)


def test_an_invalid_record_is_counted_and_decides_nothing() -> None:
    step = OrderRules(load_policy())
    state = KeyState()
    assert step(b"not an event", state) == []
    assert step.counts["invalid"] == 1 and not state
