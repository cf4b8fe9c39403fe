"""The shared fields-sets of states built and changed without validation (models.unchecked)."""

from __future__ import annotations

from models.unchecked import interned, interned_with
from tests.factories import T0, placed, run_full


def test_a_wider_fields_set_is_the_shared_union() -> None:
    base = interned({"order_id", "store_id"})
    wider = interned_with(base, ("seen", "deadlines"))
    assert wider == {"order_id", "store_id", "seen", "deadlines"}
    assert wider is interned({"order_id", "store_id", "seen", "deadlines"})
    assert interned_with(base, ("seen", "deadlines")) is wider  # remembered
    assert base == {"order_id", "store_id"}  # the shared set is never changed


def test_a_fields_set_that_is_not_shared_is_widened_but_not_remembered() -> None:
    own = {"order_id", "store_id"}
    wider = interned_with(own, ("seen",))
    assert wider == {"order_id", "store_id", "seen"}
    assert wider is interned({"order_id", "store_id", "seen"})
    assert own == {"order_id", "store_id"}


def test_a_state_changed_in_new_fields_shares_one_fields_set_per_combination() -> None:
    state = run_full([placed("o-1", at=T0)]).state("o-1")
    first = state.evolve(last_status="in_transit", penalty_points=3)
    second = state.evolve(last_status="delivered", penalty_points=12)
    assert first.model_fields_set == state.model_fields_set | {"last_status", "penalty_points"}
    assert first.model_fields_set is second.model_fields_set
    assert state.model_fields_set.isdisjoint({"last_status", "penalty_points"})  # the state changed from: as it was
