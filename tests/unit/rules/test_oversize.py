"""oversize: caught at placement against the carrier limits (no supplier refund: nothing bought yet),
or reported by logistics (the no_stock path)."""

from __future__ import annotations

import pytest

from tests.factories import DAY, HOUR, T0, briefs, item, oversize_rejected, placed, run, supplier_ordered

REORDER_AT_PLACEMENT = [("reorder", "oversize", "supplier", None, None)]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param([item(weight_kg=2.0)], [], id="a normal parcel: nothing"),
        pytest.param([item(weight_kg=31.0)], REORDER_AT_PLACEMENT, id="31 kg over the 30 kg limit"),
        pytest.param([item(weight_kg=30.0)], [], id="a unit of exactly 30 kg is within"),
        pytest.param([item(weight_kg=10.0, quantity=3)], [], id="exactly 30 kg in total is within"),
        pytest.param(
            [item(weight_kg=10.0, quantity=3), item(sku="B", weight_kg=0.5)],
            [],
            id="30.5 kg over two lines, no unit over 30 kg: within (the limit is per unit)",
        ),
        pytest.param([item(weight_kg=12.0, quantity=10)], [], id="120 kg in total from 12 kg units: within (per unit)"),
        pytest.param(
            [item(weight_kg=2.0, quantity=5), item(sku="B", weight_kg=30.5)],
            REORDER_AT_PLACEMENT,
            id="one 30.5 kg unit among light ones: over",
        ),
        pytest.param(
            [item(weight_kg=31.0, quantity=3)], REORDER_AT_PLACEMENT, id="three 31 kg units: over (one unit is)"
        ),
        pytest.param([item(dims=(121, 10, 10))], REORDER_AT_PLACEMENT, id="a side of 121 cm over 120"),
        pytest.param([item(dims=(120, 10, 10))], [], id="a side of exactly 120 cm is within"),
        pytest.param([item(dims=(100, 60, 50))], REORDER_AT_PLACEMENT, id="length + girth 320 cm over 300"),
        pytest.param([item(dims=(100, 50, 50))], [], id="length + girth exactly 300 cm is within"),
    ],
)
def test_carrier_limits_checked_at_placement(items, expected):
    actions = [a for a in run([placed(marketplace="jd", items=items)]) if a.rule == "oversize"]
    assert briefs(actions) == expected
    for action in actions:
        assert action.attempt == 0 and action.decided_at == T0


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        pytest.param([item(weight_kg=31.0, quantity=2)], "a unit weighs 31 kg > 30 kg", id="the unit's weight, not 62"),
        pytest.param(
            [item(weight_kg=1.0, quantity=40), item(sku="B", weight_kg=30.5)],
            "a unit weighs 30.5 kg > 30 kg",
            id="the heaviest unit is named",
        ),
    ],
)
def test_the_reason_names_the_unit_weight(items, problem):
    (action,) = [a for a in run([placed(marketplace="jd", items=items)]) if a.rule == "oversize"]
    assert problem in action.reason
    assert "longest side" not in action.reason and "girth" not in action.reason


def test_logistics_rejection_takes_the_no_stock_path():
    events = [
        placed(marketplace="jd", order_id="O1"),
        supplier_ordered(order_id="O1", at=T0 + HOUR, cost="55.00"),
        oversize_rejected(order_id="O1", at=T0 + DAY, detail="over 2 m"),
        oversize_rejected(order_id="O1", at=T0 + DAY + HOUR),
    ]
    actions = run(events)
    assert briefs(actions) == [
        ("refund", "oversize", "supplier", "55.00", None),
        ("reorder", "oversize", "supplier", None, None),
    ]
    assert "adjusted or alternative product" in actions[1].reason
