"""Refunds the executor did not send because a person must decide: held by its circuit breaker, or dropped.

Not a playbook row: the executor's refund breaker (docs/executor.md) is ours.
What the engine does with its reports:

- `action.held` (a customer refund above the store's limits, parked by the
  executor): escalate to a person at once, with the amount, the currency and
  the breaker's reason, under the rule that decided the refund (a person asks
  "which dispute is this?"). The refund's own "refund done within N working
  days" deadline stays: a held refund nobody releases is still overdue then.
- `action.failed` with outcome `dropped` (a person ran `postsale actions
  drop`): the money never moved and a person owns the case, so the refund
  stops counting as refunded and its refund-due deadline is settled (no
  "refund overdue" escalation about a refund a person chose not to send).
  Any other failure (rejected, given up after retries) changes nothing here:
  the refund-due deadline still escalates if no refund arrives.

A report about an action this order never decided is noted and ignored.

`refund_status` says where each customer refund of an order stands, for the
order view ("why?"): reported done, held by the executor, or sent and awaited.
"""

from __future__ import annotations

from typing import Literal

from models.actions import action_id_for
from models.events import ActionFailed, ActionHeld
from models.state import CustomerRefund, OrderState
from rules.base import OrderContext, Outcome, Plan
from rules.lifecycle import REFUND_DUE_KEY

HELD_NOTICE = "refund_held"


def held(order: OrderState, event: ActionHeld, ctx: OrderContext) -> Outcome:
    """Escalate a held action to a person (once per held action: the id is keyed on it)."""
    decided = next((d for d in order.decided if d.action_id == event.action_id), None)
    if decided is None:
        return Outcome(order, notes=(f"executor held {event.action_id}, which this order never decided: ignored",))
    plan = Plan.of(order, event, ctx, decided.rule)
    money = f" of {event.amount} {event.currency}" if event.amount is not None else ""
    plan.act(
        "escalate",
        f"held-{event.action_id}",
        f"{event.action_type} {event.action_id}{money} held by the executor, not sent: {event.reason}; "
        f"a person releases or drops it (postsale actions release|drop {event.action_id})",
        notice=HELD_NOTICE,
        party=event.party,
        amount=event.amount,
        currency=event.currency,
    )
    return plan.done()


def after_failure(order: OrderState, event: ActionFailed, ctx: OrderContext) -> Outcome:
    """A dropped customer refund stops counting and stops being awaited; other failures change nothing."""
    if event.outcome != "dropped":
        return Outcome(order)
    refund = next((r for r in order.customer_refunds if r.action_id == event.action_id and not r.confirmed), None)
    if refund is None:
        return Outcome(order)
    due_key = f"{REFUND_DUE_KEY}-{refund.cause}"
    state = order.evolve(
        customer_refunds=tuple(r for r in order.customer_refunds if r is not refund),
        deadlines=tuple(d for d in order.deadlines if d.key != due_key),
    )
    return Outcome(
        state,
        notes=(
            f"refund {event.action_id} ({refund.amount} {order.currency}, {refund.cause}) dropped by a person: "
            "not refunded, no longer awaited",
        ),
    )


RefundStatus = Literal["confirmed", "held", "awaiting"]


def refund_status(order: OrderState, refund: CustomerRefund) -> RefundStatus:
    """`confirmed`: an order.refunded event reported it done. `held`: the executor held it and nobody has
    reported it done since (a person releases or drops it: a release that succeeds is then confirmed, a drop
    removes the refund). `awaiting`: sent to the executor, not reported done yet."""
    if refund.confirmed:
        return "confirmed"
    decided = next((d for d in order.decided if d.action_id == refund.action_id), None)
    if decided is not None:
        escalation = action_id_for(order.order_id, decided.rule, "escalate", f"held-{refund.action_id}")
        if any(d.action_id == escalation for d in order.decided):
            return "held"
    return "awaiting"
