"""postsale's rules as a Quix Streams stateful step: what a store engineer would build with the peer instead of
postsale's worker.

`OrderRules` is the function given to `StreamingDataFrame.apply(..., stateful=True, expand=True)` in
`benchmarks/quix_peer.py` (`BENCH_WORK=rules`). Per record, keyed by order id:

1. the event decoded as postsale decodes it (`models.events.parse_event`, pydantic);
2. the order's state read from Quix's per-key RocksDB state (changelogged by Quix) and decoded with the
   worker's codec (`streams.worker.codec`: the same stored bytes as the worker's table);
3. the order's deadlines due before the event's time fired (`rules.engine.advance`), then the event refused
   or applied as replay does (`rules.intake.refusal`, `rules.engine.handle_event`);
4. the new state written back (deleted once the order is retired), each action serialized
   (`models.actions.dump_action`) and returned, one output record per action.

The simplifications against postsale (documented with the figure in benchmarks/README.md):

- deadlines fire only when the order's next event comes: there is no index of the open orders' deadlines and
  no clock, so an order that goes quiet never gets the actions its deadlines decide (postsale's worker and
  replay fire them from an index as the partition's event-time clock passes them);
- events are taken in the order Quix delivers them, with no alignment of the three input topics in event
  time, and an event of an order not placed yet is refused (replay and the worker hold it until its
  `order.placed` comes, within the policy's grace);
- the intake check of events dated ahead of the clock is left out (`now=None`, as a replay without
  `--until` does); no dead letters, metrics, store ledgers or console.

Pure and importable without Quix Streams: `state` is anything with `get_bytes`, `set_bytes` and `delete`.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import ValidationError

from models.actions import Action, dump_action
from models.events import parse_event
from models.policy import Policy
from rules.engine import advance, handle_event, next_due
from rules.intake import refusal
from streams.worker.codec import decode_state, encode_state

#: the one state key per message key (the order id)
STATE_KEY = b"order"


class KeyState(Protocol):
    """The part of Quix's `State` used: raw bytes in and out (no serializer of Quix's in the way)."""

    def get_bytes(self, key: Any, default: bytes | None = None) -> bytes | None: ...
    def set_bytes(self, key: Any, value: bytes) -> None: ...
    def delete(self, key: Any) -> None: ...


class OrderRules:
    """The stateful step. Counts what it did in `counts` (read by the peer's end marker and the tests)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.counts = {"events": 0, "invalid": 0, "refused": 0, "deadline_advances": 0, "actions": 0}

    def decide(self, raw: bytes, state: KeyState) -> list[Action]:
        counts = self.counts
        counts["events"] += 1
        try:
            event = parse_event(raw)
        except ValidationError:
            counts["invalid"] += 1
            return []
        stored = state.get_bytes(STATE_KEY)
        order = decode_state(stored) if stored is not None else None
        before = order
        actions: list[Action] = []
        if order is not None:
            due = next_due(order)
            if due is not None and due < event.occurred_at:
                counts["deadline_advances"] += 1
                fired = advance(order, event.occurred_at, self.policy)
                actions += fired.actions
                order = fired.state
        placed_at = order.placed_at if order is not None else None
        why = refusal(event.occurred_at, placed_at, None, self.policy.intake)
        if why is None:
            decision = handle_event(order, event, self.policy)
            if decision.rejected is not None:
                counts["refused"] += 1
            actions += decision.actions
            order = decision.state
        else:
            counts["refused"] += 1
        if order is not before:
            if order is None:
                if before is not None:
                    state.delete(STATE_KEY)
            else:
                state.set_bytes(STATE_KEY, encode_state(order))
        counts["actions"] += len(actions)
        return actions

    def __call__(self, raw: bytes, state: KeyState) -> list[bytes]:
        return [dump_action(a) for a in self.decide(raw, state)]
