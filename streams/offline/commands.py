"""The offline commands' work: replay a file, explain one order, diff two policies.

Kept apart from `cli` (argument parsing) so that tests and benchmarks call
the same functions the commands do.
"""

from __future__ import annotations

import gc
import io
import resource
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

from models.actions import Action, dump_action, parse_action
from models.events import Event, OrderPlaced
from models.policy import Policy
from models.state import OrderState
from rules.engine import advance, handle_event
from rules.intake import refusal
from streams.offline.replay import MAX_LINE_BYTES, BadLine, LongLine, Replayer, read_events


@dataclass
class ReplayResult:
    replayer: Replayer
    seconds: float
    bad_lines: int
    peak_rss_mb: float

    @property
    def events_per_second(self) -> float:
        return self.replayer.stats.events / self.seconds if self.seconds > 0 else 0.0


def iter_lines(
    path: Path, on_progress: Callable[[int], None] | None = None, limit: int = MAX_LINE_BYTES
) -> Iterator[bytes | LongLine]:
    """The file's lines; a line longer than `limit` bytes (newline not counted) is read past in pieces, never held
    whole, and given as a `LongLine`."""
    with path.open("rb") as fh:
        readline = fh.readline
        cap = limit + 1
        while line := readline(cap):
            if on_progress is not None:
                on_progress(len(line))
            if len(line) < cap or line[-1] == 0x0A:
                yield line
                continue
            size = len(line)
            while (piece := readline(1 << 16)) and piece[-1] != 0x0A:
                size += len(piece)
                if on_progress is not None:
                    on_progress(len(piece))
            if piece:
                size += len(piece) - 1
                if on_progress is not None:
                    on_progress(len(piece))
            yield LongLine(size)


def replay_file(
    path: Path,
    policy: Policy,
    *,
    out: IO[bytes] | None,
    on_bad: Callable[[BadLine], None],
    on_rejected: Callable[[int, Event, str], None] | None = None,
    until: datetime | None = None,
    lateness_seconds: float = 0.0,
    on_progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay `path`; actions go to `out` as JSON lines as they are decided."""
    now = datetime.now(UTC)  # events dated far beyond the time of the run are refused (rules.intake)
    replayer = Replayer(
        policy, lateness=timedelta(seconds=lateness_seconds), now=max(now, until) if until is not None else now
    )
    bad = 0
    write = out.write if out is not None else None
    started = time.perf_counter()
    line_no = 0
    # The states are long-lived and the replay makes no reference cycles (a collection after replaying 1M events
    # finds none), yet each young collection traverses every state changed since the last: even every 50,000
    # allocations that was a tenth of a 1M-event replay. The cyclic collector is off while the file is replayed;
    # what the replay leaves alive then goes to the oldest generation, not scanned again at the next young
    # collection (unless the process froze objects itself: then its freeze is left as it is).
    collecting = gc.isenabled()
    freeze = gc.get_freeze_count() == 0
    gc.disable()
    try:
        for item in read_events(iter_lines(path, on_progress)):
            if isinstance(item, BadLine):
                bad += 1
                on_bad(item)
                continue
            line_no += 1
            decision, actions = replayer.feed(item)
            if decision.rejected is not None and on_rejected is not None:
                on_rejected(line_no, item, decision.rejected)
            for refused, why in replayer.take_refused():
                if on_rejected is not None:
                    on_rejected(line_no, refused, why)
            if write is not None:
                for action in actions:
                    write(dump_action(action) + b"\n")
        for action in replayer.finish(until):
            if write is not None:
                write(dump_action(action) + b"\n")
        for refused, why in replayer.take_refused():
            if on_rejected is not None:
                on_rejected(line_no, refused, why)
    finally:
        if freeze:
            gc.freeze()
            gc.unfreeze()  # into the oldest generation
        if collecting:
            gc.enable()
    seconds = time.perf_counter() - started
    replayer.stats.invalid = bad
    return ReplayResult(replayer, seconds, bad, peak_rss_mb())


def peak_rss_mb() -> float:
    """This process's peak resident memory, MiB: `VmHWM` of /proc/self/status where there is one.

    Not `getrusage`'s `ru_maxrss`: Linux carries it over `execve`, so a process started by a big parent
    (a benchmark driver, a test runner) reports the parent's peak."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- explain -------------------------------------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # "event", "deadline", "action", "note", "rejected", "duplicate"
    text: str
    rule: str | None = None
    action: Action | None = None


@dataclass
class Timeline:
    order_id: str
    entries: list[TimelineEntry] = field(default_factory=list)
    state: OrderState | None = None


def _record_decision(tl: Timeline, at: datetime, decision: Any, kind_prefix: str = "") -> None:
    for action in decision.actions:
        detail = ""
        if action.amount is not None:
            detail = f" {action.party or ''} {action.amount} {action.currency}".rstrip()
        tl.entries.append(
            TimelineEntry(
                action.decided_at,
                "action",
                f"{detail.strip() + ': ' if detail else ''}{action.reason}",
                action.rule,
                action,
            )
        )
    for note in decision.notes:
        tl.entries.append(TimelineEntry(at, "note", note))


def explain_order(path: Path, order_id: str, policy: Policy, until: datetime | None = None) -> Timeline:
    """The order's timeline: each event, each deadline that fired, each decision with its rule and reason."""
    needle = orjson.dumps(order_id)
    events: list[Event] = []
    for item in read_events(line for line in iter_lines(path) if isinstance(line, bytes) and needle in line):
        if not isinstance(item, BadLine) and item.order_id == order_id:
            events.append(item)
    # As replay does: an event dated before its order's placement waits for it, then is checked (rules.intake).
    events.sort(key=lambda e: (not isinstance(e, OrderPlaced), e.occurred_at))
    placed = next((e for e in events if isinstance(e, OrderPlaced)), None)
    events = ([placed] if placed is not None else []) + sorted(
        (e for e in events if e is not placed), key=lambda e: e.occurred_at
    )
    tl = Timeline(order_id)
    state: OrderState | None = None
    for event in events:
        why = refusal(event.occurred_at, state.placed_at if state is not None else None, None, policy.intake)
        if why is not None:
            tl.entries.append(TimelineEntry(event.occurred_at, "event", f"{event.type} ({event.event_id})"))
            tl.entries.append(TimelineEntry(event.occurred_at, "rejected", why))
            continue
        if state is not None:
            before = {(d.rule, d.key, d.due) for d in state.deadlines}
            fired = advance(state, event.occurred_at, policy)
            _deadline_entries(tl, state, fired.state, before, event.occurred_at)
            _record_decision(tl, event.occurred_at, fired)
            state = fired.state
        tl.entries.append(TimelineEntry(event.occurred_at, "event", f"{event.type} ({event.event_id})"))
        decision = handle_event(state, event, policy)
        if decision.duplicate:
            tl.entries.append(TimelineEntry(event.occurred_at, "duplicate", f"repeat of {event.event_id}: no effect"))
        if decision.rejected:
            tl.entries.append(TimelineEntry(event.occurred_at, "rejected", decision.rejected))
        _record_decision(tl, event.occurred_at, decision)
        state = decision.state if decision.state is not None or decision.retired else state
    if state is not None and until is not None:
        before = {(d.rule, d.key, d.due) for d in state.deadlines}
        fired = advance(state, until, policy)
        _deadline_entries(tl, state, fired.state, before, until)
        _record_decision(tl, until, fired)
        state = fired.state
    tl.state = state
    tl.entries.sort(key=lambda e: (e.at, {"deadline": 0, "event": 1}.get(e.kind, 2)))
    return tl


def _deadline_entries(tl: Timeline, old: OrderState, new: OrderState | None, before: set[Any], now: datetime) -> None:
    for d in old.deadlines:
        if d.due < now and (
            new is None or (d.rule, d.key, d.due) not in {(x.rule, x.key, x.due) for x in new.deadlines}
        ):
            tl.entries.append(TimelineEntry(d.due, "deadline", f"deadline {d.rule}/{d.key} reached", d.rule))


# --- diff ----------------------------------------------------------------------------------------------------------


@dataclass
class PolicyDiff:
    added: list[Action] = field(default_factory=list)
    removed: list[Action] = field(default_factory=list)
    changed: list[tuple[Action, Action]] = field(default_factory=list)
    unchanged: int = 0
    refunds_a: dict[str, Decimal] = field(default_factory=dict)
    refunds_b: dict[str, Decimal] = field(default_factory=dict)
    events: int = 0
    penalty_a: dict[str, int] = field(default_factory=dict)  # store -> refusal-to-ship points at the end, under A
    penalty_b: dict[str, int] = field(default_factory=dict)

    def by_rule_and_type(self) -> list[tuple[str, str, int, int, int]]:
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for a in self.added:
            counts[(a.rule, a.type)][0] += 1
        for a in self.removed:
            counts[(a.rule, a.type)][1] += 1
        for a, _ in self.changed:
            counts[(a.rule, a.type)][2] += 1
        return sorted((r, t, *v) for (r, t), v in counts.items())  # type: ignore[misc]

    def money_moved(self) -> dict[str, Decimal]:
        return {
            c: self.refunds_b.get(c, Decimal(0)) - self.refunds_a.get(c, Decimal(0))
            for c in sorted(self.refunds_a.keys() | self.refunds_b.keys())  # sorted: the same report every run
        }

    def penalty_moved(self) -> dict[str, int]:
        """Per store, penalty points under B less those under A (stores where they differ)."""
        moved = {s: self.penalty_b.get(s, 0) - self.penalty_a.get(s, 0) for s in self.penalty_a.keys() | self.penalty_b}
        return {s: v for s, v in sorted(moved.items()) if v}

    def example_orders(self, n: int = 5) -> list[str]:
        seen: list[str] = []
        for a in [*self.added, *self.removed, *(x for x, _ in self.changed)]:
            if a.order_id not in seen:
                seen.append(a.order_id)
            if len(seen) >= n:
                break
        return seen

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "by_rule_and_type": [
                {"rule": r, "type": t, "added": a, "removed": rm, "changed": c}
                for r, t, a, rm, c in self.by_rule_and_type()
            ],
            "customer_refunds_a": {k: str(v) for k, v in sorted(self.refunds_a.items())},
            "customer_refunds_b": {k: str(v) for k, v in sorted(self.refunds_b.items())},
            "money_moved": {k: str(v) for k, v in self.money_moved().items()},
            "penalty_points_moved": self.penalty_moved(),
            "example_orders": self.example_orders(),
        }


_COMPARED = (
    "type",
    "rule",
    "party",
    "amount",
    "currency",
    "cause",
    "notice",
    "quantity",
    "decided_at",
    "due_by",
    "attempt",
)


def _actions_of(
    path: Path, policy: Policy, until: datetime | None, on_progress: Callable[[int], None] | None = None
) -> tuple[dict[str, Action], dict[str, Decimal], int, dict[str, int]]:
    buf = io.BytesIO()
    result = replay_file(path, policy, out=buf, on_bad=lambda _b: None, until=until, on_progress=on_progress)
    actions: dict[str, Action] = {}
    for line in buf.getvalue().splitlines():
        a = parse_action(line)
        actions[a.action_id] = a
    r = result.replayer
    penalty = {store: ledger.penalty_points for store, ledger in r.stores.items()}
    return actions, r.stats.customer_refunds, r.stats.events, penalty


def diff_policies(
    path: Path,
    a: Policy,
    b: Policy,
    until: datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> PolicyDiff:
    """Replay the same history under both policies; a decision is the same when its id is (ids do not
    depend on the policy version), and changed when its content differs. `on_progress(n)` is told of every
    n bytes read (the file is read twice)."""
    acts_a, refunds_a, events, penalty_a = _actions_of(path, a, until, on_progress)
    acts_b, refunds_b, _, penalty_b = _actions_of(path, b, until, on_progress)
    diff = PolicyDiff(refunds_a=refunds_a, refunds_b=refunds_b, events=events, penalty_a=penalty_a, penalty_b=penalty_b)
    for aid, act in acts_a.items():
        other = acts_b.get(aid)
        if other is None:
            diff.removed.append(act)
        elif any(getattr(act, f) != getattr(other, f) for f in _COMPARED):
            diff.changed.append((act, other))
        else:
            diff.unchanged += 1
    diff.added = [act for aid, act in acts_b.items() if aid not in acts_a]
    return diff


def counter_table(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
