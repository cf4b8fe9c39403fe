"""What `postsale demo` shows while it runs: the live action table, routine notices counted, actions per rule.

Laid out for a terminal of 120 columns: the time, the full order id, the rule
and the action (with the party and the amount of money actions) always fit;
the reason takes what is left of the line and is cut with an ellipsis. A
message to the buyer (`notify_customer`, `send_guidance`) is routine: the
engine decides it and the executor sends it with no money and no person
involved, and a shop sends many (every wholesale order gets the return-cap
notice at placement). Those are counted per rule on one line rather than
listed, so the rows keep the refunds, reorders, claims and escalations.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from streams.terminal import cell

ROUTINE = frozenset({"notify_customer", "send_guidance"})
"""Action types counted per rule in the live view instead of listed: messages to the buyer."""


@dataclass
class ActionFeed:
    """The actions seen so far: the latest ones worth a row, and counts."""

    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=18))
    notices: Counter[str] = field(default_factory=Counter)  # routine notices per rule
    by_rule: Counter[str] = field(default_factory=Counter)
    total: int = 0
    events: int = 0
    sim_time: datetime | None = None

    def add(self, action: dict[str, Any]) -> None:
        self.by_rule[action["rule"]] += 1
        self.total += 1
        if action["type"] in ROUTINE:
            self.notices[action["rule"]] += 1
        else:
            self.recent.append(action)


def what(action: dict[str, Any]) -> str:
    """The action, with who gets how much for money: `refund customer 129.00 CNY`."""
    out = str(action["type"])
    if action.get("amount") is not None:
        out += f" {action.get('party') or ''} {action['amount']} {action.get('currency') or ''}".rstrip()
    return out


def _style(action: dict[str, Any]) -> str:
    if action["type"] == "escalate":
        return "bold red"
    if action.get("amount") is not None:
        return "yellow"
    return ""


def actions_table(feed: ActionFeed, rows: int | None = None) -> Table:
    """The latest actions, newest first: at most `rows` of them (all the feed holds when None)."""
    table = Table(
        title="actions as they are decided (newest first; notices to buyers counted below)",
        expand=True,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("sim time", no_wrap=True)
    table.add_column("order", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("action", no_wrap=True)
    # The only flexible column: it gets what the others leave, and is cut, never the ids.
    table.add_column("why", no_wrap=True, overflow="ellipsis", ratio=1)
    latest = list(feed.recent)[::-1]
    for a in latest if rows is None else latest[:rows]:
        at = str(a["decided_at"])[5:16].replace("T", " ")  # MM-DD HH:MM, in the order's own offset
        table.add_row(
            cell(at), cell(a["order_id"]), cell(a["rule"]), cell(what(a), _style(a)), cell(a["reason"], "dim")
        )
    return table


@dataclass(frozen=True)
class CountsLine:
    """`title: rule n · rule n · …`, most first; wrapped at the width it is given, never inside `rule n`."""

    title: str
    counts: Counter[str]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        text = Text(f"{self.title}: ", style="bold")
        if not self.counts:
            text.append("none yet")
        used = text.cell_len
        for i, (rule, n) in enumerate(self.counts.most_common()):
            item = cell(f"{rule} {n}")
            sep = " · " if i else ""
            if i and used + len(sep) + item.cell_len > width:
                yield text
                text, used, sep = Text("  "), 2, ""
            text.append(sep)
            text.append(item)
            used += len(sep) + item.cell_len
        yield text


def render(
    feed: ActionFeed,
    head: str,
    *,
    rows: int | None = None,
    executor: RenderableType | None = None,
) -> Group:
    """The whole live view: a header, the action table, routine notices and actions per rule, the executor."""
    parts: list[RenderableType] = [
        Text(head),
        actions_table(feed, rows),
        CountsLine("notices to buyers, by rule", feed.notices),
        CountsLine(f"all {feed.total:,} actions, by rule", feed.by_rule),
    ]
    if executor is not None:
        parts.append(executor)
    return Group(*parts)


def fit(console: Console | None, build: Callable[[int | None], Group], rows: int) -> Group:
    """`build(None)`, or on a terminal too short for it, `build(n)` with the fewest action rows left out."""
    view = build(None)
    if console is None or not console.is_terminal:
        return view
    room = console.size.height - 1  # the live display keeps the cursor's line
    used = len(console.render_lines(view, console.options, pad=False))
    if used <= room:
        return view
    return build(max(3, rows - (used - room)))
