"""Invariants under any sequence of events (Hypothesis): determinism, no double customer refund, arrival-order
robustness across orders, JSON round trips of every model."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, target
from hypothesis import event as note_event
from hypothesis import strategies as st

from models.actions import dump_action, parse_action
from models.common import ShipmentStatus
from models.events import DISPUTE_REASONS, OrderRefunded, dump_event, parse_event
from models.policy import Policy
from models.state import ORDER_STATE_ADAPTER
from rules.engine import advance, handle_event
from streams.offline.replay import Replayer
from streams.worker.codec import decode_state, encode_state, encode_state_json
from tests import factories as f
from tests.factories import CST, T0, customer_refunds, default_policy, run_full

STATUSES: tuple[str, ...] = ShipmentStatus.__args__  # type: ignore[attr-defined]
# no example database: the suite must not write into the repository; a failure prints its reproducing example
PROPERTY = settings(
    deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

cents = st.integers(min_value=100, max_value=500_000).map(lambda c: Decimal(c) / 100)
maybe_cents = st.none() | st.integers(min_value=0, max_value=600_000).map(lambda c: str(Decimal(c) / 100))
STARTS = [T0, datetime(2026, 11, 11, 9, 0, tzinfo=CST), datetime(2026, 9, 17, 15, 30, tzinfo=CST)]


@st.composite
def placed_events(draw, order_id: str):
    amount = draw(cents)
    units = draw(st.integers(min_value=1, max_value=60))
    at = draw(st.sampled_from(STARTS)) + timedelta(minutes=draw(st.integers(min_value=0, max_value=3 * 24 * 60)))
    ship_by_hours = draw(st.none() | st.integers(min_value=1, max_value=120))
    return f.placed(
        order_id=order_id,
        at=at,
        marketplace=draw(st.sampled_from(["tmall", "aliexpress", "1688", "shopify", "jd"])),
        dest=draw(st.sampled_from(["CN", "CN", "US", "FR"])),
        amount=str(amount),
        ship_by=None if ship_by_hours is None else at + timedelta(hours=ship_by_hours),
        items=[f.item(quantity=units, unit_price="1.00", weight_kg=draw(st.sampled_from([0.1, 0.5, 2.0])))],
        wholesale=draw(st.booleans()),
        store_id=draw(st.sampled_from(["s1", "s2"])),
        event_id=f"{order_id}-0",
    )


def _follow_up(kind: str, draw, order_id: str, at: datetime, event_id: str):
    common = {"order_id": order_id, "at": at, "event_id": event_id}
    if kind == "status":
        st_name = draw(st.sampled_from(STATUSES))
        refusal = draw(st.sampled_from([None, "damaged", "other"])) if st_name == "delivery_refused" else None
        return f.status(st_name, refusal_reason=refusal, **common)
    if kind == "dispute":
        return f.dispute(
            draw(st.sampled_from(DISPUTE_REASONS)),
            amount_claimed=draw(
                st.none() | st.integers(min_value=0, max_value=20_000).map(lambda c: str(Decimal(c) / 100))
            ),
            return_cost=draw(maybe_cents),
            quantity=draw(st.none() | st.integers(min_value=1, max_value=80)),
            **common,
        )
    if kind == "refunded":
        return f.refunded(amount=str(draw(cents)), party=draw(st.sampled_from(["customer", "supplier"])), **common)
    if kind == "intercept_result":
        return f.intercept_result(draw(st.booleans()), **common)
    if kind == "verified":
        return f.verified(draw(st.booleans()), **common)
    if kind == "closed":
        return f.closed(
            outcome=draw(st.sampled_from(["buyer_won", "seller_won", "withdrawn", "settled"])),
            seller_cooperated=draw(st.booleans()),
            **common,
        )
    if kind in ("return_accepted", "return_shipped"):
        return getattr(f, kind)(return_cost=draw(maybe_cents), **common)
    if kind in ("supplier_ordered", "reordered"):
        return getattr(f, kind)(cost=draw(maybe_cents), **common)
    return getattr(f, kind)(**common)


KINDS = [
    "paid",
    "supplier_ordered",
    "out_of_stock",
    "oversize_rejected",
    "supplier_replied",
    "supplier_unresponsive",
    "cancel_requested",
    "address_invalid",
    "refunded",
    "reordered",
    "reissued",
    "action_failed",
    "status",
    "status",
    "status",
    "intercept_result",
    "dispute",
    "dispute",
    "dispute",
    "evidence",
    "verified",
    "verified",
    "return_accepted",
    "return_shipped",
    "return_received",
    "closed",
    "closed",
]


@st.composite
def order_histories(draw, order_id: str = "H1", max_events: int = 14):
    """order.placed, then any events of the vocabulary at non-decreasing times (gaps from 0 to ~20 days)."""
    first = draw(placed_events(order_id))
    events = [first]
    at = first.occurred_at
    start = 1
    if draw(st.booleans()):  # half the orders ship promptly, so that the after-shipment rows get exercised
        at = at + timedelta(hours=2)
        events.append(f.shipped(order_id=order_id, at=at, event_id=f"{order_id}-1"))
        start = 2
    for n in range(start, draw(st.integers(min_value=0, max_value=max_events)) + start):
        at = at + timedelta(minutes=draw(st.sampled_from([0, 1, 60, 12 * 60, 2 * 24 * 60, 5 * 24 * 60, 20 * 24 * 60])))
        kind = draw(st.sampled_from(KINDS))
        events.append(_follow_up(kind, draw, order_id, at, f"{order_id}-{n}"))
    # sometimes an exact repeat of an earlier event
    if len(events) > 1 and draw(st.booleans()):
        events.append(events[draw(st.integers(min_value=1, max_value=len(events) - 1))])
    return events


@st.composite
def dispute_cycles(draw, order_id: str = "H2"):
    """A shipped order, then disputes one after another, each pushed towards a customer refund (partial or whole)
    and then closed — or not, or repeated: the shapes in which a second refund for a cause would slip through."""
    first = draw(placed_events(order_id))
    at = first.occurred_at + timedelta(hours=2)
    events = [first, f.shipped(order_id=order_id, at=at, event_id=f"{order_id}-1")]
    steps = {
        "returned": ["dispute"],
        "wrong_item": ["dispute", "evidence", "verified"],
        "quality": ["dispute", "return_shipped", "return_received"],
        "in_transit": ["dispute"],
        "buyer_remorse": ["dispute", "return_shipped", "return_received"],
    }
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        reason = draw(st.sampled_from(sorted(steps)))
        claimed = draw(
            st.none() | st.integers(min_value=1, max_value=int(first.amount * 100)).map(lambda c: str(Decimal(c) / 100))
        )
        for kind in steps[reason] + (["closed"] if draw(st.integers(0, 3)) else []):
            at = at + timedelta(days=draw(st.sampled_from([0, 1, 10, 40])))
            n = len(events)
            if kind == "dispute":
                event = f.dispute(reason, order_id=order_id, at=at, amount_claimed=claimed, event_id=f"{order_id}-{n}")
            elif kind == "verified":
                event = f.verified(True, order_id=order_id, at=at, event_id=f"{order_id}-{n}")
            else:
                event = getattr(f, kind)(order_id=order_id, at=at, event_id=f"{order_id}-{n}")
            events.append(event)
        if draw(st.booleans()):
            # either the executor reporting the engine's latest customer refund as done (resolved while the
            # engine runs, see `run_confirming`) or a refund the engine did not decide (the platform, a person)
            caused_by = CONFIRM_LATEST if draw(st.booleans()) else None
            events.append(
                f.refunded(
                    order_id=order_id,
                    at=at,
                    amount=claimed or str(first.amount),
                    caused_by=caused_by,
                    event_id=f"{order_id}-r{n}",
                )
            )
    return events


CONFIRM_LATEST = "confirm-latest"
"""A stand-in caused_by: the engine's latest customer refund for the order, looked up when the event is fed."""


def run_confirming(events, until: datetime) -> f.Run:
    """`run_full`, except that an order.refunded caused by CONFIRM_LATEST becomes the execution of the engine's
    latest customer refund on that order (its action id and amount), or an external refund if there is none."""
    policy = default_policy()
    out = f.Run()
    for event in events:
        state = out.states.get(event.order_id)
        if isinstance(event, OrderRefunded) and event.caused_by == CONFIRM_LATEST:
            ours = [r for r in (state.customer_refunds if state else ()) if not r.cause.startswith("external-")]
            update = {"caused_by": None} if not ours else {"caused_by": ours[-1].action_id, "amount": ours[-1].amount}
            event = event.model_copy(update=update)
        decision = handle_event(state, event, policy)
        if decision.state is not None or event.order_id in out.states:
            out.states[event.order_id] = decision.state
        out.actions.extend(decision.actions)
    for order_id, state in list(out.states.items()):
        if state is not None:
            decision = advance(state, until, policy)
            out.states[order_id] = decision.state
            out.actions.extend(decision.actions)
    return out


def _until(events) -> datetime:
    return max(e.occurred_at for e in events) + timedelta(days=120)


# ---------------------------------------------------------------- (a) determinism


@settings(PROPERTY, max_examples=60)
@given(order_histories())
def test_same_events_same_actions_ids_included(events):
    until = _until(events)
    first = [dump_action(a) for a in run_full(events, until).actions]
    second = [dump_action(a) for a in run_full(list(events), until).actions]
    assert first == second


# ---------------------------------------------------------------- (b) no double customer refund


@settings(PROPERTY, max_examples=250)
@given(order_histories(max_events=18) | dispute_cycles())
def test_no_double_customer_refund_under_any_sequence(events):
    result = run_confirming(events, _until(events))
    amount = events[0].amount
    refunds = customer_refunds(result.actions)
    note_event(f"customer refunds: {min(len(refunds), 3)}")
    target(float(len(refunds)), label="customer refunds")  # steer towards orders refunded for several causes
    note_event(f"blocked refunds: {min(sum(a.notice == 'refund_blocked' for a in result.actions), 1)}")
    causes = [a.cause for a in refunds]
    assert len(causes) == len(set(causes)), causes
    assert sum((a.amount for a in refunds), Decimal(0)) <= amount
    assert all(a.amount is not None and a.amount >= 0 for a in refunds)
    ids = [a.action_id for a in result.actions]
    assert len(ids) == len(set(ids))
    for state in result.states.values():
        if state is None:
            continue
        # What the engine decided matches its actions, and never took the running total (its own refunds and
        # every external one before it) above the amount. Only an external refund can go beyond it afterwards:
        # the engine cannot take money back, but it never adds to it.
        ours = [r for r in state.customer_refunds if not r.cause.startswith("external-")]
        assert sorted((r.action_id, r.amount) for r in ours) == sorted((a.action_id, a.amount) for a in refunds)
        running = Decimal(0)
        for entry in state.customer_refunds:
            running += entry.amount
            if not entry.cause.startswith("external-"):
                assert running <= amount, state.customer_refunds


# ---------------------------------------------------------------- (c) invariance to interleaving


@st.composite
def several_orders(draw):
    n = draw(st.integers(min_value=2, max_value=4))
    return [draw(order_histories(order_id=f"O{i}", max_events=8)) for i in range(n)]


def _replay(events, lateness: timedelta, until: datetime) -> set[bytes]:
    replayer = Replayer(default_policy(), lateness=lateness)
    out = []
    for event in events:
        _, actions = replayer.feed(event)
        out += actions
    out += replayer.finish(until)
    return {dump_action(a) for a in out}


@settings(PROPERTY, max_examples=60)
@given(several_orders(), st.randoms(use_true_random=False))
def test_actions_do_not_depend_on_how_orders_interleave(histories, rnd: random.Random):
    until = max(_until(h) for h in histories)
    merged = sorted((e for h in histories for e in h), key=lambda e: e.occurred_at)  # stable: keeps each order's order
    queues = [list(h) for h in histories]
    shuffled = []
    while any(queues):
        queue = rnd.choice([q for q in queues if q])
        shuffled.append(queue.pop(0))
    start = min(h[0].occurred_at for h in histories)
    span = until - start
    in_time = _replay(merged, timedelta(0), until)
    interleaved = _replay(shuffled, span + timedelta(days=1), until)
    note_event(f"actions: {'none' if not in_time else 'some'}")
    assert in_time == interleaved


# ---------------------------------------------------------------- (d) JSON round trips


@settings(PROPERTY, max_examples=60)
@given(order_histories())
def test_events_actions_and_state_round_trip_through_json(events):
    for event in events:
        assert parse_event(dump_event(event)) == event
    result = run_full(events, _until(events))
    for action in result.actions:
        assert parse_action(dump_action(action)) == action
    for state in result.states.values():
        if state is not None:
            assert ORDER_STATE_ADAPTER.validate_json(ORDER_STATE_ADAPTER.dump_json(state)) == state
            assert decode_state(encode_state(state)) == state  # as stored in the table (version 1)
            assert decode_state(encode_state_json(state)) == state  # as stored before (version 0)


threshold_overrides = st.fixed_dictionaries(
    {},
    optional={
        "handling_time_hours": st.integers(min_value=1, max_value=200),
        "max_reorder_attempts": st.integers(min_value=0, max_value=10),
        "claim_resolution": st.sampled_from(["reissue", "refund"]),
        "non_quality_return_cap_share": st.sampled_from([0.05, 0.1, 0.25]),
        "penalty_points_apply": st.booleans(),
        "delivery_estimate_days_international": st.integers(min_value=1, max_value=60),
        "calendar": st.sampled_from([{"country": "US", "timezone": "America/New_York"}, {"country": "DE"}]),
    },
)


@settings(PROPERTY, max_examples=40)
@given(threshold_overrides, st.dictionaries(st.sampled_from(["jd", "pdd", "tmall"]), threshold_overrides, max_size=2))
def test_policy_round_trips(defaults, marketplaces):
    policy = f.policy_with(defaults, marketplaces=marketplaces, version="prop")
    again = Policy.model_validate(policy.model_dump())
    assert again == policy
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


# ---------------------------------------------------------------- (e) customer money and decision times


@st.composite
def skewed_histories(draw):
    """Histories as above, some of whose events are stamped up to the intake's tolerance before their order's
    placement (clock skew that rules.intake lets through), some with a ship-by given before the placement, and
    some wholesale orders with buyer's-own-reason returns of more units than the cap allows."""
    events = list(draw(order_histories(max_events=16) | dispute_cycles() | wholesale_returns()))
    first = events[0]
    if draw(st.booleans()) and first.ship_by is None:
        events[0] = first = first.model_copy(update={"ship_by": first.occurred_at - timedelta(hours=draw(HOURS))})
    tolerance = timedelta(hours=default_policy().intake.before_placement_tolerance_hours)
    for i in draw(st.sets(st.integers(min_value=1, max_value=max(1, len(events) - 1)), max_size=3)):
        if i < len(events):
            early = first.occurred_at - tolerance * draw(st.sampled_from([0, 0.01, 0.5, 1]))
            events[i] = events[i].model_copy(update={"occurred_at": early})
    return events


HOURS = st.integers(min_value=1, max_value=200)


@st.composite
def wholesale_returns(draw, order_id: str = "H3"):
    """A shipped 1688 wholesale order, then buyer's-own-reason returns (some over the cap) carried through."""
    units = draw(st.integers(min_value=1, max_value=200))
    at = T0 + timedelta(minutes=draw(st.integers(min_value=0, max_value=600)))
    first = f.placed(
        order_id=order_id,
        at=at,
        marketplace="1688",
        amount=f"{units}.00",
        items=[f.item(quantity=units, unit_price="1.00", weight_kg=0.1)],
        wholesale=True,
        event_id=f"{order_id}-0",
    )
    events = [first, f.shipped(order_id=order_id, at=at + timedelta(hours=2), event_id=f"{order_id}-1")]
    at += timedelta(days=3)
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        claimed = draw(st.none() | st.integers(min_value=1, max_value=units * 2).map(lambda c: f"{c}.00"))
        cost = draw(st.sampled_from(["0.50", "1.00", f"{units * 2}.00"]))
        quantity = draw(st.integers(min_value=1, max_value=units + 5))
        common = {"order_id": order_id}
        events += [
            f.dispute(
                "buyer_remorse", at=at, quantity=quantity, amount_claimed=claimed, event_id=f"{order_id}-d{n}", **common
            ),
            f.return_shipped(at=at + timedelta(days=1), return_cost=cost, event_id=f"{order_id}-s{n}", **common),
            f.return_received(at=at + timedelta(days=4), event_id=f"{order_id}-r{n}", **common),
            f.closed(at=at + timedelta(days=5), event_id=f"{order_id}-c{n}", **common),
        ]
        at += timedelta(days=draw(st.sampled_from([6, 20])))
    return events


@settings(PROPERTY, max_examples=200)
@given(skewed_histories())
def test_customer_money_never_exceeds_what_was_paid_and_nothing_is_decided_before_placement(events):
    result = run_full(events, _until(events))
    placed = events[0]
    money = [a for a in result.actions if a.pays_customer]
    note_event(f"customer money decisions: {min(len(money), 2)}")
    assert sum((a.amount for a in money if a.amount is not None), Decimal(0)) <= placed.amount
    early = [(a.type, a.rule, a.decided_at) for a in result.actions if a.decided_at < placed.occurred_at]
    assert early == [], f"decided before the placement at {placed.occurred_at}"
