"""Which playbook row sees which trigger, and the invariants no row may break.

`handle_event(order, event, policy)` and `advance(order, now, policy)` are the
only entry points; the live worker and the replay both call them and nothing
else decides.

Invariants enforced here, once, for every row:
- a repeated event (same `event_id`) changes nothing;
- an event dated before its order's placement (clock skew, within what
  `rules.intake` lets through) is applied as of the placement: no decision is
  dated before its order was placed;
- before an event at time t is applied, the order's deadlines due before t
  fire first (they would have fired by then in real time), so a decision
  depends only on the order's own events and the time, never on how other
  orders' events were interleaved;
- an action already decided for the order (same id) is not decided again;
- an order never gets two customer refunds for one cause, nor refunds beyond
  what the buyer paid: such a refund becomes an escalation to a person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import rules.held_refunds as held_refunds
import rules.lifecycle as lifecycle
from models.actions import Action, action_id_for
from models.events import (
    ActionFailed,
    ActionHeld,
    DisputeClosed,
    DisputeEvidenceSubmitted,
    DisputeOpened,
    Event,
    OrderPlaced,
)
from models.ledger import LedgerEntry
from models.policy import Policy
from models.state import CustomerRefund, Decided, OrderState
from rules.base import Due, OrderContext, Outcome, Trigger
from rules.buyer_remorse import buyer_remorse
from rules.customer_cancel import customer_cancel
from rules.customs_hold import customs_hold
from rules.damaged import damaged
from rules.dispute_rate import dispute_rate
from rules.dispute_reasons import dispute_reasons
from rules.misuse import misuse
from rules.no_stock import no_stock
from rules.non_quality_return_cap import non_quality_return_cap
from rules.overdue_expedite import overdue_expedite
from rules.overdue_switch import overdue_switch
from rules.oversize import oversize
from rules.penalty_points import penalty_points
from rules.product_defect import product_defect
from rules.promotion import promotion
from rules.return_windows import return_windows
from rules.supplier_unresponsive import supplier_unresponsive
from rules.wrong_address import wrong_address
from rules.wrong_or_missing import wrong_or_missing

Row = Callable[[OrderState, Trigger, OrderContext], Outcome]

ROWS: dict[str, Row] = {
    "no_stock": no_stock,
    "oversize": oversize,
    "overdue_expedite": overdue_expedite,
    "overdue_switch": overdue_switch,
    "supplier_unresponsive": supplier_unresponsive,
    "customs_hold": customs_hold,
    "wrong_or_missing": wrong_or_missing,
    "damaged": damaged,
    "customer_cancel": customer_cancel,
    "wrong_address": wrong_address,
    "penalty_points": penalty_points,
    "dispute_reasons": dispute_reasons,
    "buyer_remorse": buyer_remorse,
    "misuse": misuse,
    "product_defect": product_defect,
    "return_windows": return_windows,
    "dispute_rate": dispute_rate,
    "non_quality_return_cap": non_quality_return_cap,
    "promotion": promotion,
}

# Stand-ins resolved from the order's state: the row that owns its open dispute,
# and the row that asked for an interception.
CASE_OWNER = "@case_owner"
INTERCEPTOR = "@interceptor"

ON_EVENT: dict[str, tuple[str, ...]] = {
    "order.placed": (
        "oversize",
        "overdue_expedite",
        "overdue_switch",
        "penalty_points",
        "promotion",
        "non_quality_return_cap",
        "dispute_rate",
    ),
    "order.paid": (),
    "order.supplier_ordered": (),
    "order.out_of_stock": ("no_stock",),
    "order.oversize": ("oversize",),
    "order.supplier_replied": ("supplier_unresponsive",),
    "order.supplier_unresponsive": ("supplier_unresponsive",),
    "order.cancel_requested": ("customer_cancel",),
    "order.address_invalid": ("wrong_address",),
    "order.refunded": ("customer_cancel",),
    "order.reordered": (),
    "order.reissued": (),
    "action.failed": (),
    "action.held": (),
    "shipment.update": ("customs_hold", "damaged", "promotion"),
    "shipment.intercept_result": (INTERCEPTOR,),
    "dispute.opened": ("dispute_reasons", CASE_OWNER, "dispute_rate"),
    "dispute.evidence_submitted": (CASE_OWNER,),
    "dispute.verified": (CASE_OWNER,),
    "dispute.return_accepted": ("return_windows",),
    "dispute.return_shipped": ("return_windows",),
    "dispute.return_received": ("return_windows",),
    "dispute.closed": ("penalty_points",),
}

# Deadlines due at the same instant fire in this order: the more specific cause first, so that with the
# default numbers (expedite at +2 d, 48 h reply window, switch at +4 d) the switch is decided as
# supplier_unresponsive, which is what happened.
FIRING_ORDER = {"supplier_unresponsive": 10, "overdue_switch": 20}
MAX_FIRINGS_PER_CALL = 1000

# ON_EVENT with each row's function looked up once: (name, row), row None for a stand-in resolved per event.
_DISPATCH: dict[str, tuple[tuple[str, Row | None], ...]] = {
    kind: tuple((name, ROWS.get(name)) for name in names) for kind, names in ON_EVENT.items()
}


class Decision(NamedTuple):
    """What one event (or one clock advance) did to an order. (A named tuple: one is built per event.)"""

    state: OrderState | None
    actions: tuple[Action, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()
    notes: tuple[str, ...] = ()
    duplicate: bool = False
    rejected: str | None = None
    retired: bool = False

    @property
    def deadlines(self) -> tuple[datetime, ...]:
        return tuple(d.due for d in self.state.deadlines) if self.state is not None else ()


_BLAKE2B_8 = hashlib.blake2b(digest_size=8)  # copied for each digest: cheaper than making one with its arguments
_from_bytes = int.from_bytes


def event_digest(event_id: str) -> int:
    """Stable 64-bit digest of an event id (Python's hash() differs per process)."""
    h = _BLAKE2B_8.copy()
    h.update(event_id.encode())
    return _from_bytes(h.digest(), "big")


def ctx_for(order: OrderState, policy: Policy) -> OrderContext:
    return _ctx_at(policy, order.marketplace, order.destination_country, order.placed_at)


_CONTEXTS: dict[int, tuple[Policy, dict[tuple[str, str, datetime], OrderContext]]] = {}
_CONTEXTS_PER_POLICY = 1 << 16


def _ctx_at(policy: Policy, marketplace: str, destination_country: str, placed_at: datetime) -> OrderContext:
    """The order's context, asked at every event and every fired deadline: looked up by what decides it
    (marketplace, destination, placement time), resolved once per order. A plain dict per policy: hashing the
    policy for an `lru_cache` and finding the promotion again were 5% of a replay. Bounded: emptied when full."""
    entry = _CONTEXTS.get(id(policy))
    if entry is None or entry[0] is not policy:
        if len(_CONTEXTS) >= 64:
            _CONTEXTS.clear()
        entry = _CONTEXTS[id(policy)] = (policy, {})
    known = entry[1]
    key = (marketplace, destination_country, placed_at)
    ctx = known.get(key)
    if ctx is None:
        if len(known) >= _CONTEXTS_PER_POLICY:
            known.clear()
        ctx = known[key] = _ctx(policy, marketplace, destination_country, policy.promotion_at(marketplace, placed_at))
    return ctx


@lru_cache(maxsize=4096)
def _ctx(policy: Policy, marketplace: str, destination_country: str, promotion: str | None) -> OrderContext:
    """The context of every order of a marketplace, destination and promotion, memoised (a few per policy)."""
    resolved = policy.resolved(marketplace, destination_country, promotion)
    return OrderContext(thresholds=resolved.thresholds, policy_version=policy.version, promotion=resolved.promotion)


class _Run:
    """Accumulates the outcomes of one engine call and applies the invariants.

    The engine's own changes (the event's digest, a fired deadline, a decided action) are made in place on a
    state this call made (`_own`): one the engine copied, or one a row returned new. The state the call
    started from, which the caller still holds, and any state a row was handed are never changed; the state
    returned is not changed after the call."""

    __slots__ = ("order", "actions", "ledger", "notes", "_initial", "_decided_ids", "_own")

    def __init__(self, order: OrderState, new: bool = False) -> None:
        """`new`: `order` was made for this call (a new order's first state) and nobody else holds it."""
        self.order = order
        self.actions: list[Action] = []
        self.ledger: list[LedgerEntry] = []
        self.notes: list[str] = []
        self._initial = order
        self._decided_ids: set[str] | None = None
        self._own: OrderState | None = order if new else None

    def change(self, **changes: Any) -> None:
        """The order with `changes`: in place if this call made it, else on a copy that it then owns."""
        if self.order is self._own:
            self.order.update_in_place(changes)
        else:
            self.order = self._own = self.order.evolve(**changes)

    def became(self, state: OrderState) -> None:
        """The order is now `state`, which a row or the lifecycle returned: new (made during this call, held by
        no one else) unless it is the very state they were given."""
        if state is not self.order:
            self.order = self._own = state

    @property
    def _decided(self) -> set[str]:
        """The ids decided for the order: those of the state the run started from, then each one it decides.
        Built on first use: most events decide nothing."""
        if self._decided_ids is None:
            self._decided_ids = {d.action_id for d in self._initial.decided}
        return self._decided_ids

    def take(self, outcome: Outcome) -> None:
        state, actions, ledger, notes = outcome
        self.became(state)
        if ledger:
            self.ledger.extend(ledger)
        if notes:
            self.notes.extend(notes)
        for action in actions:
            self._decide(action)

    def _decide(self, action: Action) -> None:
        if action.action_id in self._decided:
            self.notes.append(f"{action.rule}: {action.type} {action.action_id} was already decided; not repeated")
            return
        if action.pays_customer:
            blocked = self._refund_guard(action)
            if blocked is None:
                return
            action = blocked
        self._decided.add(action.action_id)
        self.actions.append(action)
        self.change(
            decided=(
                *self.order.decided,
                Decided.of(
                    action.action_id,
                    action.type,
                    action.rule,
                    action.decided_at,
                    action.policy_version,
                    action.caused_by,
                    action.reason,
                ),
            )
        )

    def _refund_guard(self, action: Action) -> Action | None:
        """The refund as it may go out, an escalation instead of it, or None (already escalated)."""
        order = self.order
        assert action.amount is not None
        cause = action.cause or "order"
        remaining = order.amount - order.customer_refunded
        problem = None
        if any(r.cause == cause for r in order.customer_refunds):
            problem = f"the customer was already refunded for {cause}"
        elif remaining <= 0:
            problem = f"the customer was already refunded the full {order.amount} {order.currency}"
        if problem is not None:
            # Nothing is sent, so nothing is owed by a deadline: a pending "refund done?" check for this cause goes.
            due_key = f"{lifecycle.REFUND_DUE_KEY}-{cause}"
            self.change(deadlines=tuple(d for d in order.deadlines if d.key != due_key))
            escalation = action.model_copy(
                update={
                    "action_id": action_id_for(order.order_id, action.rule, "escalate", f"refund-blocked-{cause}"),
                    "type": "escalate",
                    "reason": f"{action.reason} — not sent: {problem}; a person decides",
                    "notice": "refund_blocked",
                }
            )
            if escalation.action_id in self._decided:
                return None
            return escalation
        amount = action.amount
        if amount > remaining:
            amount = remaining
            action = action.model_copy(
                update={"amount": amount, "reason": f"{action.reason} (capped at the {remaining} not yet refunded)"}
            )
        self.change(
            customer_refunds=(
                *order.customer_refunds,
                CustomerRefund(cause=cause, amount=Decimal(amount), action_id=action.action_id),
            )
        )
        return action

    def decision(self, **extra: object) -> Decision:
        if not (self.actions or self.ledger or self.notes or extra):
            return Decision(self.order)  # most events decide nothing
        return Decision(
            state=self.order,
            actions=tuple(self.actions),
            ledger=tuple(self.ledger),
            notes=tuple(self.notes),
            **extra,  # type: ignore[arg-type]
        )


def _row_named(name: str, order: OrderState, event: Event) -> str | None:
    """Resolve a stand-in against the order as it is now (dispute_reasons opens the case its owner then sees).

    A dispute.opened reaches the case owner only if it opened the case: a second dispute while one is open
    is escalated by dispute_reasons, and must not restart the open case's path (ask for evidence again)."""
    if name == CASE_OWNER:
        case = order.dispute
        if case is None:
            return None
        if event.type == "dispute.opened" and (case.rule == "dispute_reasons" or case.opened_by != event.event_id):
            return None
        return case.rule
    if name == INTERCEPTOR:
        return order.interception_cause
    return name


def _due_before(order: OrderState, before: datetime) -> bool:
    """Whether any of the order's deadlines is due strictly before `before` (most calls: none)."""
    for d in order.deadlines:
        if d.due < before:
            return True
    return False


def _fire(run: _Run, before: datetime, ctx: OrderContext) -> bool:
    """Fire the order's deadlines due strictly before `before`, earliest first. False if the order retired.

    `ctx` is the order's context: it depends only on what the order was placed with, which no row changes."""
    for _ in range(MAX_FIRINGS_PER_CALL):
        deadlines = run.order.deadlines
        for d in deadlines:  # most calls find nothing due: no list is built for them
            if d.due < before:
                break
        else:
            return True
        deadline = min(
            [d for d in deadlines if d.due < before], key=lambda d: (d.due, FIRING_ORDER.get(d.rule, 50), d.rule, d.key)
        )
        run.change(deadlines=tuple(d for d in deadlines if d is not deadline))
        if deadline.rule == "retire":
            if run.order.deadlines or (run.order.dispute is not None and run.order.dispute.status != "closed"):
                run.became(lifecycle.retire_at(run.order, ctx, deadline.due))
                continue
            return False
        current = run.order
        outcome = ROWS[deadline.rule](current, Due(deadline), ctx)
        if outcome[1] or outcome[2] or outcome[3]:
            run.take(outcome)
        elif outcome[0] is not current:
            run.became(outcome[0])
    run.notes.append("engine: too many deadlines fired in one call; the rest wait for the next tick")
    return True


def handle_event(order: OrderState | None, event: Event, policy: Policy) -> Decision:
    """Apply one inbound event to the order it names (`order` is None if the engine has no state for it)."""
    digest = event_digest(event.event_id)
    kind = type(event)  # the events are the concrete classes of the union: `is` instead of a pydantic isinstance
    if order is None:
        if kind is not OrderPlaced:
            return Decision(state=None, rejected=f"unknown order: no order.placed seen for {event.type}")
        assert isinstance(event, OrderPlaced)
        ctx = _ctx_at(policy, event.marketplace, event.destination_country, event.occurred_at)
        run = _Run(lifecycle.new_order(event, ctx), new=True)
        run.change(seen=(digest,))
        for _, row in _DISPATCH[event.type]:
            assert row is not None
            run.take(row(run.order, event, ctx))
        return run.decision()
    if digest in order.seen:
        return Decision(state=order, duplicate=True, notes=(f"event {event.event_id} already processed",))
    run = _Run(order)
    at = event.occurred_at
    placed_at = order.placed_at
    if at < placed_at:
        # Clock skew between systems (rules.intake refuses what is beyond its tolerance): decided as of the
        # placement, so that no decision predates the order. Ids do not depend on the time.
        run.notes.append(
            f"{event.type} {event.event_id} is dated {at.isoformat()}, before the order was placed: "
            "applied as of the placement"
        )
        event = event.model_copy(update={"occurred_at": placed_at})
        at = placed_at
    # The order's context depends only on what it was placed with: resolved once for the whole call.
    ctx = _ctx_at(policy, order.marketplace, order.destination_country, placed_at)
    if _due_before(order, at) and not _fire(run, at, ctx):
        # The order finished and was forgotten before this event's time: treat the event as for an unknown order.
        return Decision(
            state=None, retired=True, rejected=f"order retired before this {event.type}", notes=tuple(run.notes)
        )
    if kind is OrderPlaced:
        run.change(seen=(*run.order.seen, digest))
        run.notes.append(f"order.placed {event.event_id} for an order already placed by {order.placed_by}: ignored")
        return run.decision()
    run.became(lifecycle.apply(run.order, event, ctx))
    run.change(seen=(*run.order.seen, digest))  # after the facts: a shipment's new facts are then one copy, not two
    for name, row in _DISPATCH[event.type]:
        current = run.order
        if row is None:
            named = _row_named(name, current, event)
            if named is None:
                continue
            row = ROWS[named]
        outcome = row(current, event, ctx)
        if outcome[1] or outcome[2] or outcome[3]:
            run.take(outcome)
        elif outcome[0] is not current:
            run.became(outcome[0])
    if kind is DisputeClosed:
        run.became(lifecycle.close_dispute(run.order))
    elif kind is DisputeOpened:
        if run.order.evidence_before_dispute is not None and run.order.dispute is not None:
            run.change(evidence_before_dispute=None)  # the dispute it was sent for is open: it is that one's
    elif kind is DisputeEvidenceSubmitted and order.dispute is None:
        run.notes.append("evidence received before any dispute was opened: kept for the dispute that follows")
    elif kind is ActionFailed:
        assert isinstance(event, ActionFailed)
        run.notes.append(f"executor gave up on {event.action_type} {event.action_id}: {event.reason}")
        run.take(held_refunds.after_failure(run.order, event, ctx))
    elif kind is ActionHeld:
        assert isinstance(event, ActionHeld)
        run.take(held_refunds.held(run.order, event, ctx))
    return run.decision()


def advance(order: OrderState, now: datetime, policy: Policy) -> Decision:
    """Let time reach `now` for this order: every deadline due before `now` fires, earliest first.

    Strictly before: a clock at T says every event up to T has been seen, but an
    event at exactly T may still come, and it must win over a deadline at T.
    """
    run = _Run(order)
    if not _due_before(order, now):
        return run.decision()
    if not _fire(run, now, _ctx_at(policy, order.marketplace, order.destination_country, order.placed_at)):
        return Decision(
            state=None, retired=True, actions=tuple(run.actions), ledger=tuple(run.ledger), notes=tuple(run.notes)
        )
    return run.decision()


def next_due(order: OrderState) -> datetime | None:
    deadlines = order.deadlines
    if not deadlines:
        return None
    if len(deadlines) == 1:
        return deadlines[0].due
    return min([d.due for d in deadlines])
