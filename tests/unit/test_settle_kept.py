"""The decoded states a worker keeps in memory between batches (`Settler.store`): always what the table holds,
the most recently stored ones, never more than the setting allows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from models.state import OrderState
from rules.engine import handle_event
from streams.worker.codec import decode_state
from streams.worker.settle import Batch, Settler
from tests.factories import default_policy, placed


class Record:
    """A record of the partition (the table writes go to its partition)."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition, topic="orders")


def state_of(order_id: str) -> OrderState:
    decision = handle_event(None, placed(order_id), default_policy())
    assert decision.state is not None
    return decision.state


def settler(table: dict[str, bytes], kept: dict[int, dict[str, Any]], most: int) -> Settler:
    return Settler(table, SimpleNamespace(), None, lambda _b: None, set(), kept=kept.get, keep_per_partition=most)  # type: ignore[arg-type]


def store(s: Settler, partition: int, states: dict[str, OrderState | None], in_table: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    batch = Batch(ticket=0)
    batch.writer[partition] = Record(partition)  # type: ignore[assignment]
    batch.changed[partition] = dict(states)
    batch.in_table |= in_table
    s.store(batch)


def test_kept_states_are_the_stored_ones_and_the_oldest_go_first() -> None:
    table: dict[str, bytes] = {}
    kept: dict[int, dict[str, Any]] = {0: {}, 1: {}}
    s = settler(table, kept, most=3)
    for name in ("A", "B", "C", "D"):
        store(s, 0, {name: state_of(name)})
    assert list(kept[0]) == ["B", "C", "D"]  # A, stored longest ago, went
    store(s, 0, {"B": state_of("B")})  # stored again: now the most recent
    store(s, 0, {"E": state_of("E")})
    assert list(kept[0]) == ["D", "B", "E"]
    for order_id, state in kept[0].items():
        assert decode_state(table[order_id]) == state  # what is kept is what the table holds
    store(s, 0, {"E": None}, in_table={"E"})  # a retired order leaves both
    assert "E" not in table and "E" not in kept[0]
    assert kept[1] == {}


def test_nothing_is_kept_for_a_partition_no_longer_owned_or_when_switched_off() -> None:
    table: dict[str, bytes] = {}
    kept: dict[int, dict[str, Any]] = {}
    store(settler(table, kept, most=10), 5, {"A": state_of("A")})
    assert "A" in table and kept == {}
    owned: dict[int, dict[str, Any]] = {0: {}}
    store(settler(table, owned, most=0), 0, {"B": state_of("B")})
    assert "B" in table and owned == {0: {}}
