"""promotion: during a big sale ship within 12 hours and tell the buyer before they ask; outside it, nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.factories import CST, DAY, HOUR, US, briefs, placed, run, run_full, shipped, status

D11 = datetime(2026, 11, 11, 0, 5, tzinfo=CST)
START = datetime(2026, 11, 1, 0, 0, tzinfo=CST)
END = datetime(2026, 11, 12, 0, 0, tzinfo=CST)
EST = timezone(timedelta(hours=-5))
R = "promotion"
SHIP_TIME = ("notify_customer", R, None, None, "promotion_shipping_time")


@pytest.mark.parametrize(
    ("marketplace", "at", "ship_by", "expected_ship_by", "notices"),
    [
        pytest.param(
            "tmall",
            D11,
            None,
            D11 + 12 * HOUR,
            [SHIP_TIME],
            id="double11 on tmall: ship-by placed + 12 h, told up front",
        ),
        pytest.param(
            "tmall",
            D11,
            D11 + 3 * DAY,
            D11 + 12 * HOUR,
            [SHIP_TIME],
            id="a longer ship-by on the order: the sale's 12 h wins",
        ),
        pytest.param(
            "tmall", D11, D11 + 6 * HOUR, D11 + 6 * HOUR, [SHIP_TIME], id="a shorter ship-by on the order is kept"
        ),
        pytest.param(
            "tmall", START, None, START + 12 * HOUR, [SHIP_TIME], id="placed at the first instant of the window"
        ),
        pytest.param(
            "tmall", END - US, None, END - US + 12 * HOUR, [SHIP_TIME], id="placed at the last instant of the window"
        ),
        pytest.param(
            "tmall", END, None, END + 72 * HOUR, [], id="placed when the window ends: normal 72 h, no notices"
        ),
        pytest.param("tmall", START - DAY, None, START - DAY + 72 * HOUR, [], id="before the sale: none"),
        pytest.param("aliexpress", D11, None, D11 + 12 * HOUR, [SHIP_TIME], id="double11 on aliexpress too"),
        pytest.param("shopify", D11, None, D11 + 72 * HOUR, [], id="double11 does not apply to shopify"),
        pytest.param(
            "shopify",
            datetime(2026, 11, 28, 9, 0, tzinfo=EST),
            None,
            datetime(2026, 11, 29, 9, 0, tzinfo=EST),
            [SHIP_TIME],
            id="black friday on shopify: 24 h",
        ),
    ],
)
def test_sale_window(marketplace, at, ship_by, expected_ship_by, notices):
    result = run_full([placed(order_id="S1", marketplace=marketplace, at=at, ship_by=ship_by)])
    assert result.state("S1").ship_by == expected_ship_by
    assert briefs([a for a in result.actions if a.rule == R]) == notices


@pytest.mark.parametrize(
    ("updates", "expected"),
    [
        pytest.param(
            [("in_transit", 6)],
            [SHIP_TIME, ("notify_customer", R, None, None, "shipped_tracking")],
            id="tracking number at shipment",
        ),
        pytest.param(
            [("in_transit", 6), ("out_for_delivery", 30)],
            [SHIP_TIME, ("notify_customer", R, None, None, "shipped_tracking")],
            id="tracking number once",
        ),
        pytest.param(
            [("in_transit", 6), ("failed_attempt", 40), ("exception", 50)],
            [
                SHIP_TIME,
                ("notify_customer", R, None, None, "shipped_tracking"),
                ("notify_customer", R, None, None, "parcel_issue"),
                ("notify_customer", R, None, None, "parcel_issue"),
            ],
            id="every tracking problem, before the buyer asks",
        ),
        pytest.param([("info_received", 2)], [SHIP_TIME], id="a printed label is not a shipment"),
    ],
)
def test_proactive_notices(updates, expected):
    events = [placed(order_id="S2", at=D11), *(status(s, order_id="S2", at=D11 + h * HOUR) for s, h in updates)]
    assert briefs([a for a in run(events) if a.rule == R]) == expected


def test_outside_the_sale_no_notices_at_all():
    events = [
        placed(order_id="S3"),
        shipped(order_id="S3", at=datetime(2026, 3, 2, 20, 0, tzinfo=CST)),
        status("exception", order_id="S3", at=datetime(2026, 3, 3, 20, 0, tzinfo=CST)),
    ]
    assert not [a for a in run(events) if a.rule == R]


def test_sale_ship_by_moves_the_overdue_checks():
    actions = run([placed(order_id="S4", at=D11, marketplace="aliexpress")], until=D11 + 12 * HOUR + 2 * DAY + US)
    assert [a.decided_at for a in actions if a.rule == "overdue_expedite"] == [D11 + 12 * HOUR + 2 * DAY]
