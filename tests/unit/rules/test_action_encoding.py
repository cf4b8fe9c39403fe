"""Actions the engine decides: built without validation (`Action.of`) and written with orjson (`dump_action`), they
are the actions validation would build and the bytes pydantic would write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from pydantic_core import TzInfo

from models.actions import ACTION_ADAPTER, Action, dump_action
from models.events import parse_event
from models.policy_file import load_policy
from streams.offline.replay import Replayer
from streams.simulator import generate

SAMPLE = Path(__file__).resolve().parents[3] / "streams" / "samples" / "day.jsonl"
UNTIL = datetime(2026, 12, 31, tzinfo=timezone(timedelta(hours=8)))


def _replayed(events: list[bytes]) -> list[Action]:
    replayer = Replayer(load_policy(), now=UNTIL)
    actions: list[Action] = []
    for raw in events:
        actions += replayer.feed(parse_event(raw))[1]
    return actions + replayer.finish(UNTIL)


@pytest.fixture(scope="module")
def decided() -> list[Action]:
    """Every action of the shipped sample and of a simulated month of 600 orders (every scenario)."""
    simulated = [
        orjson.dumps(event)
        for event in generate(20261111, 600, datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=8))))
    ]
    return _replayed(SAMPLE.read_bytes().splitlines()) + _replayed(simulated)


def test_the_replays_decide_every_kind_of_action(decided: list[Action]) -> None:
    assert len(decided) > 200
    assert {a.type for a in decided} >= {"refund", "reorder", "expedite", "notify_customer", "escalate"}
    assert any(a.amount is not None for a in decided) and any(a.due_by is not None for a in decided)


def test_an_unchecked_action_is_the_validated_one(decided: list[Action]) -> None:
    for action in decided:
        validated = Action.model_validate(action.model_dump(exclude_unset=True))
        assert validated == action
        assert list(validated.__dict__) == list(action.__dict__)  # the same fields in the same order
        assert validated.model_fields_set == action.model_fields_set


def test_an_action_is_written_as_pydantic_writes_it(decided: list[Action]) -> None:
    for action in decided:
        assert dump_action(action) == ACTION_ADAPTER.dump_json(action, exclude_none=True)


def _action(**changes: object) -> Action:
    base = Action(
        action_id="act-1",
        order_id="TM-1",
        store_id="store-1",
        type="refund",
        rule="no_stock",
        policy_version="v1",
        decided_at=datetime(2026, 11, 11, 10, 0, tzinfo=timezone(timedelta(hours=8))),
        caused_by=("evt-1", "evt-2"),
        reason="why",
        party="customer",
        amount=Decimal("25.00"),
        currency="CNY",
        cause="order",
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"decided_at": datetime(2026, 11, 11, 2, 0, tzinfo=UTC)},
        {"decided_at": datetime(2026, 11, 11, 2, 0, tzinfo=TzInfo(0))},
        {"decided_at": datetime(2026, 11, 11, 2, 0, tzinfo=TzInfo(-3 * 3600))},
        {"decided_at": datetime(2026, 11, 11, 2, 0, 0, 500, tzinfo=timezone(timedelta(hours=-9, minutes=-30)))},
        {"decided_at": datetime(2026, 11, 11, 2, 0, tzinfo=timezone(timedelta(hours=5, minutes=45, seconds=30)))},
        {"due_by": datetime(2026, 11, 14, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=14)))},
        {"amount": Decimal("1E+2")},
        {"amount": Decimal("0.10"), "quantity": 3, "attempt": 2, "notice": "refund_blocked"},
        {"reason": 'quote " backslash \\ tab \t newline \n nul \x00 del \x7f — 退款 \u2028 😀'},
        {"caused_by": ()},
        {"party": None, "amount": None, "currency": None, "cause": None},
        {"quantity": 2**70},
    ],
)
def test_edge_values_are_written_as_pydantic_writes_them(changes: dict[str, object]) -> None:
    action = _action(**changes)
    assert dump_action(action) == ACTION_ADAPTER.dump_json(action, exclude_none=True)
