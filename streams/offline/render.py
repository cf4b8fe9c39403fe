"""Terminal rendering of the offline commands' results (rich tables; a progress bar on a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from models.ledger import StoreLedger
from models.policy import Policy
from streams.offline.commands import PolicyDiff, ReplayResult, Timeline, counter_table
from streams.terminal import cell

PROGRESS_MIN_BYTES = 5 * 1024 * 1024


@contextmanager
def progress_for(path: Path, console: Console) -> Iterator[Callable[[int], None] | None]:
    """A byte-progress callback for large files on a terminal, else None (no cost per line)."""
    size = path.stat().st_size
    if not console.is_terminal or size < PROGRESS_MIN_BYTES:
        yield None
        return
    with Progress(
        TextColumn("replay"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task("replay", total=size)
        pending = 0

        def advance(n: int) -> None:
            nonlocal pending
            pending += n
            if pending >= 1 << 20:
                progress.update(task, advance=pending)
                pending = 0

        yield advance


def replay_summary(console: Console, result: ReplayResult, policy: Policy) -> None:
    r = result.replayer
    s = r.stats
    head = Table(title=cell(f"replay summary (policy {policy.version})"), show_header=False)
    head.add_row("events read", f"{s.events + s.invalid}")
    head.add_row("invalid lines", f"{s.invalid}")
    head.add_row("repeated events (ignored)", f"{s.duplicates}")
    head.add_row("events for unknown orders", f"{s.rejected}")
    head.add_row("actions", f"{sum(s.actions_by_type.values())}")
    head.add_row("deadlines fired", f"{s.deadlines_fired}")
    head.add_row("open orders at the end", f"{len(r.orders)}")
    head.add_row("open orders at the peak", f"{s.peak_open_orders}")
    head.add_row("throughput", f"{result.events_per_second:,.0f} events/s ({result.seconds:.2f} s)")
    head.add_row("peak memory (RSS)", f"{result.peak_rss_mb:.0f} MB")
    for cur, amount in sorted(s.customer_refunds.items()):
        head.add_row(cell(f"customer refunds {cur}"), f"{amount}")
    console.print(head)
    by_type = Table(title="actions by type")
    by_type.add_column("type")
    by_type.add_column("count", justify="right")
    for name, n in counter_table(s.actions_by_type):
        by_type.add_row(cell(name), str(n))
    console.print(by_type)
    by_rule = Table(title="actions by rule")
    by_rule.add_column("rule")
    by_rule.add_column("count", justify="right")
    for name, n in counter_table(s.actions_by_rule):
        by_rule.add_row(cell(name), str(n))
    console.print(by_rule)
    console.print(stores_table(r.stores))


def stores_table(ledgers: Mapping[str, StoreLedger]) -> Table:
    """Each store's penalty points and dispute rate as of the replay's clock, saying which days the rate covers.

    A store with disputes but no order placed in the window (the disputes are about older orders) has no rate:
    it shows `n/a`, never 0.0%."""
    first = next(iter(ledgers.values()), None)
    window = first.window_days if first is not None else 0
    end = first.latest_day.isoformat() if first is not None and first.latest_day is not None else "-"
    stores = Table(title=f"stores: dispute rate = disputes opened / orders placed in the {window} days to {end} (UTC)")
    for col in (
        "store",
        "penalty points",
        "alert at",
        f"orders placed ({window} d)",
        f"disputes opened ({window} d)",
        "dispute rate",
        "alert at",
    ):
        stores.add_column(col, justify="right" if col != "store" else "left", no_wrap=col == "store")
    undefined = False
    for store_id, ledger in sorted(ledgers.items()):
        pts = cell(ledger.penalty_points, "red" if ledger.penalty_alert else "")
        orders, disputes = ledger.orders_in_window(), ledger.disputes_in_window()
        if orders:
            rate = cell(f"{ledger.dispute_rate():.1%}", "red" if ledger.dispute_rate_alert else "")
        else:
            rate, undefined = cell("n/a", "yellow" if disputes else ""), undefined or bool(disputes)
        stores.add_row(
            cell(store_id),
            pts,
            str(ledger.alert_at_points),
            str(orders),
            str(disputes),
            rate,
            f"{ledger.alert_at_rate:.0%}",
        )
    if undefined:
        stores.caption = "n/a: no order placed in the window; its disputes are about orders placed before it"
    return stores


HOUSEKEEPING = "retire"
"""The deadline that forgets a finished order's state: the engine's housekeeping, not a step of the playbook, so
the timelines people read leave it out (`--json` keeps it)."""


def _stage(tl: Timeline) -> str:
    return tl.state.stage if tl.state is not None else "finished (its state forgotten)"


def timeline_table(tl: Timeline, policy: Policy) -> Table:
    table = Table(title=cell(f"order {tl.order_id} · stage: {_stage(tl)} · policy {policy.version}"))
    table.add_column("time", no_wrap=True)
    table.add_column("what")
    table.add_column("rule")
    table.add_column("detail", overflow="fold")
    style = {
        "event": "bold",
        "deadline": "yellow",
        "action": "green",
        "note": "dim",
        "rejected": "red",
        "duplicate": "dim",
    }
    for e in tl.entries:
        if e.rule == HOUSEKEEPING:
            continue
        kind = e.action.type if e.action is not None else e.kind
        table.add_row(
            e.at.isoformat(timespec="minutes"), cell(kind, style[e.kind]), cell(e.rule), cell(e.text), end_section=False
        )
    if tl.state is not None:
        for d in sorted(tl.state.deadlines, key=lambda d: d.due):
            if d.rule == HOUSEKEEPING:
                continue
            table.add_row(
                d.due.isoformat(timespec="minutes"), cell("pending", "yellow"), cell(d.rule), cell(f"deadline {d.key}")
            )
    return table


def timeline_json(tl: Timeline) -> dict[str, Any]:
    return {
        "order_id": tl.order_id,
        "stage": tl.state.stage if tl.state is not None else None,
        "timeline": [
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "rule": e.rule,
                "text": e.text,
                **({"action": e.action.model_dump(mode="json", exclude_none=True)} if e.action else {}),
            }
            for e in tl.entries
        ],
        "pending_deadlines": [
            {"due": d.due.isoformat(), "rule": d.rule, "key": d.key} for d in (tl.state.deadlines if tl.state else ())
        ],
    }


def diff_tables(console: Console, d: PolicyDiff, a: Policy, b: Policy) -> None:
    head = Table(title=cell(f"policy diff: A = {a.version}, B = {b.version} ({d.events} events)"), show_header=False)
    head.add_row("decisions added in B", str(len(d.added)))
    head.add_row("decisions removed in B", str(len(d.removed)))
    head.add_row("decisions changed", str(len(d.changed)))
    head.add_row("unchanged", str(d.unchanged))
    for cur, moved in sorted(d.money_moved().items()):
        head.add_row(
            cell(f"customer refunds {cur}"),
            cell(f"A {d.refunds_a.get(cur, 0)} → B {d.refunds_b.get(cur, 0)} ({moved:+})"),
        )
    for store, points in d.penalty_moved().items():
        head.add_row(
            f"penalty points {store}", f"A {d.penalty_a.get(store, 0)} → B {d.penalty_b.get(store, 0)} ({points:+})"
        )
    console.print(head)
    table = Table(title="by rule and action type")
    for col in ("rule", "type", "added", "removed", "changed"):
        table.add_column(col, justify="left" if col in ("rule", "type") else "right")
    for rule, typ, added, removed, changed in d.by_rule_and_type():
        table.add_row(cell(rule), cell(typ), str(added), str(removed), str(changed))
    console.print(table)
    examples = d.example_orders()
    if examples:
        console.print(
            cell("example orders: " + ", ".join(examples) + "  (postsale explain ORDER_ID EVENTS --policy …)")
        )


def live_order_table(view: dict[str, Any]) -> Table:
    """A live worker's order view (GET /orders/{id}): its decisions and pending deadlines. Everything in it is
    shown literally: the answer comes over the network."""
    table = Table(title=cell(f"order {view.get('order_id')} · stage: {view.get('stage')} (live)"))
    table.add_column("time", no_wrap=True)
    table.add_column("what")
    table.add_column("rule")
    table.add_column("detail", overflow="fold")
    for d in _dicts(view.get("decisions")):
        table.add_row(
            cell(str(d.get("decided_at"))[:16]),
            cell(d.get("type"), "green"),
            cell(d.get("rule")),
            cell(f"{d.get('reason')} (policy {d.get('policy_version')})"),
        )
    for d in _dicts(view.get("pending_deadlines")):
        if d.get("rule") == HOUSEKEEPING:
            continue
        table.add_row(
            cell(str(d.get("due"))[:16]),
            cell("pending", "yellow"),
            cell(d.get("rule")),
            cell(f"deadline {d.get('key')}"),
        )
    return table


def _dicts(value: object) -> list[dict[str, Any]]:
    return [d for d in value if isinstance(d, dict)] if isinstance(value, list) else []
