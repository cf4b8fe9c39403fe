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
        pytest.param([item(weight_kg=10.0, quantity=3)], [], id="exactly 30 kg in total is within"),
        pytest.param(
            [item(weight_kg=10.0, quantity=3), item(sku="B", weight_kg=0.5)],
            REORDER_AT_PLACEMENT,
            id="30.5 kg over two lines",
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
