"""Text from events and from the network is shown, never interpreted: rich markup, emoji codes, terminal escape
sequences, C1 controls, line breaks and Unicode direction overrides, through every renderer that prints it."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from models.events import OrderOversize, parse_event
from models.text import visible
from streams.offline.commands import PolicyDiff, Timeline, TimelineEntry, explain_order
from streams.offline.render import diff_tables, live_order_table, timeline_table
from tests.factories import DAY, T0, default_policy, placed, shipped, supplier_ordered

# (hostile text, what must be seen literally on the screen, what must never reach the terminal)
HOSTILE: list[tuple[str, str, tuple[str, ...]]] = [
    ("[/bogus]", "[/bogus]", ()),
    ("[link=http://evil.example]click[/link]", "[link=http://evil.example]click[/link]", ("\x1b]8;",)),
    ("[bold red]loud[/]", "[bold red]loud[/]", ()),
    (":pile_of_poo: done", ":pile_of_poo: done", ("\U0001f4a9",)),
    ("\x1b[5mblink\x1b[0m", "\\x1b[5mblink", ("\x1b[5m",)),
    ("\x1b]8;;http://evil.example\x07link\x1b]8;;\x07", "\\x1b]8;;http://evil.example\\x07", ("\x1b]8;", "\x07")),
    ("\x1b]0;owned title\x07", "\\x1b]0;owned title\\x07", ("\x1b]0;",)),
    ("\x9b31mC1 CSI", "\\x9b31mC1 CSI", ("\x9b",)),
    ("abc\u202edcba", "abc\\u202edcba", ("\u202e",)),
    ("\u2066isolate\u2069", "\\u2066isolate\\u2069", ("\u2066", "\u2069")),
    ("ok\nINFO forged log line", "ok\\nINFO forged log line", ()),
    ("progress\rrewritten", "progress\\rrewritten", ("\r",)),
    ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f", ("\x07", "\x00", "\x7f")),
]
IDS = [repr(h[0])[:30] for h in HOSTILE]


def shown(renderable: Any, width: int = 400) -> str:
    """What a colour terminal receives, and the same text without rich's own styling."""
    raw = io.StringIO()
    Console(file=raw, force_terminal=True, color_system="truecolor", width=width, emoji=True).print(renderable)
    return raw.getvalue()


def plain(renderable: Any, width: int = 400) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=False, width=width, emoji=True).print(renderable)
    return out.getvalue()


def assert_safe(screen: str, forbidden: tuple[str, ...]) -> None:
    for bad in forbidden:
        assert bad not in screen, f"{bad!r} reached the terminal"
    for ch in screen:
        assert ch in "\n\x1b" or ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F, f"control {ch!r} on screen"


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_visible_shows_what_a_terminal_would_act_on(text: str, seen: str, forbidden: tuple[str, ...]) -> None:
    out = visible(text)
    assert seen in out
    assert not any(c in out for c in "\x1b\x07\x9b\u202e\u2066\u2069\n\r\x00\x7f")
    assert visible(out) == out  # nothing left to escape


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_free_text_of_an_event_is_made_visible_when_decoded(text: str, seen: str, forbidden: tuple[str, ...]) -> None:
    raw = orjson.dumps(
        {
            "event_id": "e1",
            "order_id": "O1",
            "type": "order.oversize",
            "occurred_at": "2026-11-11T00:00:00Z",
            "detail": text,
        }
    )
    event = parse_event(raw)
    assert isinstance(event, OrderOversize)
    assert event.detail == visible(text)


def _oversize_history(detail: str) -> list[Any]:
    return [
        placed(order_id="H1"),
        supplier_ordered(order_id="H1", at=T0 + timedelta(hours=1)),
        OrderOversize(event_id="evt-over", order_id="H1", occurred_at=T0 + DAY, detail=detail),
        shipped(order_id="H1", at=T0 + 2 * DAY),
    ]


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_explain_shows_an_events_text_literally(
    tmp_path: Path, text: str, seen: str, forbidden: tuple[str, ...]
) -> None:
    path = tmp_path / "events.jsonl"
    lines = [e.model_dump_json(exclude_none=True) for e in _oversize_history("x")]
    # The hostile text as the store sent it: raw in the file, decoded by explain itself.
    lines[2] = orjson.dumps(dict(orjson.loads(lines[2]), detail=text)).decode()
    path.write_text("\n".join(lines) + "\n")
    tl = explain_order(path, "H1", default_policy())
    assert any(e.action is not None and seen in e.action.reason for e in tl.entries), "the reason quotes the carrier"
    screen = shown(timeline_table(tl, default_policy()))
    assert_safe(screen, forbidden)
    assert seen in plain(timeline_table(tl, default_policy()))


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_every_cell_of_a_timeline_is_literal(text: str, seen: str, forbidden: tuple[str, ...]) -> None:
    """Entries and title carry text the renderer did not make (order ids from the command line, notes)."""
    tl = Timeline(order_id=text, entries=[TimelineEntry(T0, "note", text, rule=text)])
    table = timeline_table(tl, default_policy())
    assert_safe(shown(table), forbidden)
    assert visible(text) in plain(table).replace("\n", "") or seen in plain(table)


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_a_live_order_view_from_the_network_is_literal(text: str, seen: str, forbidden: tuple[str, ...]) -> None:
    view = {
        "order_id": text,
        "stage": text,
        "decisions": [
            {"decided_at": "2026-11-11T00:00", "type": text, "rule": text, "reason": text, "policy_version": text},
            "not a decision",
        ],
        "pending_deadlines": [{"due": text, "rule": text, "key": text}, 7],
    }
    table = live_order_table(view)
    assert_safe(shown(table), forbidden)
    assert seen in plain(table)
    assert_safe(shown(live_order_table({"decisions": "garbage", "pending_deadlines": None})), ())


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_a_diff_names_example_orders_literally(text: str, seen: str, forbidden: tuple[str, ...]) -> None:
    from tests.unit.executor.factories import refund

    order_id = "O-" + visible(text).replace(" ", "_")[:100]  # an order id is printable ASCII, brackets included
    d = PolicyDiff(added=[refund(order_id=order_id)], events=1)
    raw, out = io.StringIO(), io.StringIO()
    diff_tables(Console(file=raw, force_terminal=True, width=400), d, default_policy(), default_policy())
    diff_tables(Console(file=out, width=400), d, default_policy(), default_policy())
    assert_safe(raw.getvalue(), forbidden)
    assert order_id in out.getvalue()


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_the_executors_list_of_held_refunds_is_literal(
    monkeypatch: pytest.MonkeyPatch, text: str, seen: str, forbidden: tuple[str, ...]
) -> None:
    from streams.executor import cli as executor_cli
    from streams.executor import commands
    from streams.executor.outcomes import HeldRecord
    from tests.unit.executor.factories import refund

    held = HeldRecord(action=refund(action_id=text, reason=text), held_at=T0, reason=text)

    async def list_held(settings: object) -> list[HeldRecord]:
        return [held]

    monkeypatch.setattr(commands, "list_held", list_held)
    monkeypatch.setattr(executor_cli, "unreachable", lambda settings: None)  # what is listed is under test, no broker
    printed: list[str] = []
    real = executor_cli.Console

    def console(*args: Any, **kwargs: Any) -> Console:
        kwargs.update(file=io.StringIO(), force_terminal=True, color_system="truecolor")
        c = real(*args, **kwargs)
        original = c.print
        c.print = lambda *a, **k: (original(*a, **k), printed.append(c.file.getvalue()))  # type: ignore[method-assign,func-returns-value]
        return c

    monkeypatch.setattr(executor_cli, "Console", console)
    monkeypatch.delenv("POSTSALE_EXECUTOR_CONFIG_FILE", raising=False)
    result = CliRunner().invoke(executor_cli.actions_app, ["list"])
    assert result.exit_code == 0, result.output
    (screen,) = printed
    assert_safe(screen, forbidden)
    assert "refund" in screen and "25.00 USD" in screen


@pytest.mark.parametrize(("text", "seen", "forbidden"), HOSTILE, ids=IDS)
def test_a_replay_summary_names_a_policy_literally(
    tmp_path: Path, text: str, seen: str, forbidden: tuple[str, ...]
) -> None:
    from streams.offline.commands import replay_file
    from streams.offline.render import replay_summary

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(e.model_dump_json(exclude_none=True) for e in _oversize_history(text)) + "\n")
    policy = default_policy().model_copy(update={"version": text})
    result = replay_file(path, policy, out=io.BytesIO(), on_bad=lambda _b: None)
    raw, out = io.StringIO(), io.StringIO()
    replay_summary(Console(file=raw, force_terminal=True, width=400), result, policy)
    replay_summary(Console(file=out, width=400), result, policy)
    assert_safe(raw.getvalue(), forbidden)
    assert " ".join(f"policy {visible(text)}".split()) in " ".join(out.getvalue().split())  # titles wrap
