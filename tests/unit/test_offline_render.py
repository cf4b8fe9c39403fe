"""What `postsale explain` and `postsale replay` print: the order's stage without the engine's housekeeping, and
store figures that say which days they cover and never show a rate they do not have."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

from rich.console import Console

from models.ledger import StoreLedger
from models.policy_file import load_policy
from streams.offline.commands import explain_order, replay_file
from streams.offline.render import stores_table, timeline_json, timeline_table

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "streams" / "samples" / "day.jsonl"
UNTIL = datetime.fromisoformat("2026-12-31T00:00:00+08:00")
ORDER = "store-hz-01-11-0000006"  # the README's example: no stock twice, refunded, cancelled


def text(renderable: object) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_explain_shows_the_orders_stage_and_not_the_housekeeping_deadline() -> None:
    policy = load_policy(None)
    tl = explain_order(SAMPLE, ORDER, policy, UNTIL)
    assert tl.state is not None and any(d.rule == "retire" for d in tl.state.deadlines)
    shown = text(timeline_table(tl, policy))
    assert f"order {ORDER} · stage: cancelled" in shown
    assert "retire" not in shown
    assert "pending" not in shown  # its only pending deadline was the housekeeping one
    assert "order.placed" in shown and "no_stock" in shown
    assert {"rule": "retire"}.items() <= timeline_json(tl)["pending_deadlines"][0].items()  # --json keeps it


def test_a_store_with_disputes_but_no_order_in_the_window_has_no_rate_not_zero() -> None:
    ledgers = {
        "store-a": StoreLedger(store_id="store-a", days={"2026-12-30": (0, 1)}, latest_day=date(2026, 12, 31)),
        "store-b": StoreLedger(
            store_id="store-b", days={"2026-12-20": (40, 0), "2026-12-30": (10, 1)}, latest_day=date(2026, 12, 31)
        ),
    }
    shown = text(stores_table(ledgers))
    assert "the 30 days to 2026-12-31" in shown and "orders placed (30 d)" in shown
    [a] = [line for line in shown.splitlines() if "store-a" in line]
    assert "n/a" in a and "%" not in a.replace("5%", "")  # the alert threshold is the only percentage
    [b] = [line for line in shown.splitlines() if "store-b" in line]
    assert "2.0%" in b and " 50 " in b
    assert "n/a: no order placed in the window" in shown


def test_the_readme_replay_says_which_days_its_store_figures_cover() -> None:
    result = replay_file(SAMPLE, load_policy(None), out=io.BytesIO(), on_bad=lambda _: None, until=UNTIL)
    ledgers = result.replayer.stores
    shown = text(stores_table(ledgers))
    [end] = {ledger.latest_day for ledger in ledgers.values()}
    assert end is not None and f"the 30 days to {end.isoformat()} (UTC)" in shown
    assert "0.0%" not in shown
    disputed = [s for s, ledger in ledgers.items() if ledger.disputes_in_window() and not ledger.orders_in_window()]
    assert disputed, "the README's --until leaves a late dispute without an order in the window"
    for store in disputed:
        [row] = [line for line in shown.splitlines() if store in line]
        assert "n/a" in row
