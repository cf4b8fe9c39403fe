"""The demo's live view at 120 columns: every listed action readable in full, buyer notices counted per rule."""

from __future__ import annotations

import io
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from models.common import ACTION_TYPES, RULE_IDS
from models.policy_file import load_policy
from streams.demo.run import DemoOptions, _render
from streams.demo.view import ROUTINE, ActionFeed, what
from streams.offline.commands import replay_file
from streams.simulator import generate, write_jsonl

START = datetime.fromisoformat("2026-12-03T09:00:00+08:00")


def demo_actions(tmp_path: Path) -> list[dict[str, Any]]:
    """What the demo's simulated store gets decided (its seed and rate), replayed offline."""
    path = tmp_path / "events.jsonl"
    write_jsonl(path, generate(seed=11, orders=400, start=START, orders_per_hour=10))
    out = io.BytesIO()
    replay_file(
        path,
        load_policy(None),
        out=out,
        on_bad=lambda _: None,
        until=datetime.fromisoformat("2027-02-01T00:00:00+08:00"),
    )
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def shown(feed: ActionFeed, *, height: int | None = None) -> list[str]:
    console = Console(width=120, height=height or 25, record=True, force_terminal=height is not None)
    console.print(_render(feed, DemoOptions(), 6066, None, None, "http://127.0.0.1:6070/", console))
    return console.export_text().splitlines()


def test_every_listed_action_shows_its_full_order_id_rule_and_action_at_120_columns(tmp_path: Path) -> None:
    actions = demo_actions(tmp_path)
    longest = dict(
        actions[0],
        order_id="store-cn-12-4294967295-0009999",
        rule=max(RULE_IDS, key=len),
        type="abandon_return",
        party="customer",
        amount="12999.00",
        currency="CNY",
        reason="a reason long enough to need cutting " * 5,
    )
    feed = ActionFeed(recent=deque(maxlen=len(actions) + 1))
    for action in [*actions, longest]:
        feed.add(action)
    lines = shown(feed)
    assert max(len(line) for line in lines) <= 120
    listed = [a for a in [*actions, longest] if a["type"] not in ROUTINE]
    assert len(listed) > 100 and any(a["type"] == "escalate" for a in listed)
    assert any(a.get("amount") for a in listed)
    for a in listed:
        row = [line for line in lines if a["order_id"] in line and f" {a['rule']} " in line and what(a) in line]
        assert row, f"no row shows {a['order_id']} {a['rule']} {what(a)} in full"
    assert any(line.rstrip().endswith("…") for line in lines)  # the reason is what gets cut


def test_notices_to_buyers_are_counted_per_rule_not_listed(tmp_path: Path) -> None:
    actions = demo_actions(tmp_path)
    feed = ActionFeed()
    for action in actions:
        feed.add(action)
    notices = [a for a in actions if a["type"] in ROUTINE]
    wholesale = sum(1 for a in notices if a["rule"] == "non_quality_return_cap")
    assert wholesale > 0
    text = "\n".join(shown(feed))
    assert "notify_customer" not in text
    assert f"non_quality_return_cap {wholesale}" in text.split("notices to buyers, by rule:")[1]
    assert f"all {len(actions):,} actions, by rule:" in text
    assert {"notify_customer", "send_guidance"} <= set(ACTION_TYPES)


def test_on_a_terminal_of_40_lines_the_view_fits(tmp_path: Path) -> None:
    feed = ActionFeed()
    for action in demo_actions(tmp_path):
        feed.add(action)
    lines = shown(feed, height=40)
    assert len(lines) <= 39
    assert any(line.startswith("all ") and "actions, by rule" in line for line in lines)
