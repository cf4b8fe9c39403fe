"""dispute_reasons: the AliExpress dispute taxonomy, each reason on its own path (seed 004).

Not received: invalid tracking, wrong address, still in transit, held by
customs, returned to sender. Not as agreed: not as described, quality,
damaged, short shipment, counterfeit. Plus the buyer's own reason and misuse.
`ROUTE` says which playbook row owns each reason; the reasons this row keeps:
- in transit → tell the buyer the tracking state while within the delivery
  estimate, else reissue or refund (policy `claim_resolution`);
- not as described → evidence first (the claim path);
- counterfeit → escalate; invalid tracking → expedite the supplier for a valid
  number; returned to sender → reissue or refund.
A non-receipt dispute on an order that never shipped past its ship-by is a
refusal-to-ship case (penalty_points): escalated to a person at once.
"""

from __future__ import annotations

from datetime import UTC

import rules.penalty_points as penalty_points
from models.common import RuleId
from models.events import DisputeOpened
from models.state import DisputeCase, OrderState
from rules.base import Due, OrderContext, Outcome, Plan, Trigger, days, fmt
from rules.claims import claim_path, resolve

ROUTE: dict[str, RuleId] = {
    "invalid_tracking": "dispute_reasons",
    "wrong_address": "wrong_address",
    "in_transit": "dispute_reasons",
    "customs_held": "customs_hold",
    "returned": "dispute_reasons",
    "not_as_described": "dispute_reasons",
    "quality": "product_defect",
    "damaged": "damaged",
    "short_shipment": "wrong_or_missing",
    "counterfeit": "dispute_reasons",
    "wrong_item": "wrong_or_missing",
    "missing_item": "wrong_or_missing",
    "buyer_remorse": "buyer_remorse",
    "misuse": "misuse",
}


def open_case(order: OrderState, event: DisputeOpened) -> OrderState:
    seq = order.disputes_opened + 1
    case = DisputeCase(
        seq=seq,
        reason=event.reason,
        rule=ROUTE[event.reason],
        opened_at=event.occurred_at,
        opened_by=event.event_id,
        amount_claimed=event.amount_claimed,
        return_cost=event.return_cost,
        quantity=event.quantity,
    )
    day = event.occurred_at.astimezone(UTC).date()
    return order.evolve(dispute=case, disputes_opened=seq, dispute_days=(*order.dispute_days, day))


def _in_transit(plan: Plan, case: DisputeCase) -> None:
    order, thresholds = plan.order, plan.thresholds
    if order.shipped_at is None:
        plan.act(
            "notify_customer",
            case.cause,
            f"buyer asks where the parcel is; it ships by {fmt(order.ship_by)}: tell the buyer",
            notice="not_yet_shipped",
        )
        return
    estimate = (
        thresholds.delivery_estimate_days_domestic
        if order.domestic
        else thresholds.delivery_estimate_days_international
    )
    if plan.at <= order.shipped_at + days(estimate):
        plan.act(
            "notify_customer",
            case.cause,
            f"parcel in transit within the {estimate:g}-day delivery estimate (last status: {order.last_status}): "
            "tell the buyer the tracking state",
            notice="tracking_state",
        )
    else:
        resolve(plan, case, f"parcel still not delivered {estimate:g} days after shipment")


def dispute_reasons(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    """Open the case (the engine then hands it to the row in `ROUTE`), and decide the reasons kept here."""
    plan = Plan.of(order, trigger, ctx, "dispute_reasons")
    if not isinstance(trigger, DisputeOpened):
        # Of the reasons kept here only "not as described" is on the claim path: a verification or evidence
        # for a counterfeit, a parcel in transit or returned is not a claim to resolve again. Deadlines (a
        # refund owed by a date) are every kept reason's.
        case = order.dispute
        if case is not None and case.rule == "dispute_reasons":
            if isinstance(trigger, Due) or case.reason == "not_as_described":
                claim_path(plan, trigger, "goods not as described")
        return plan.done()
    if order.dispute is not None and order.dispute.status != "closed":
        plan.act(
            "escalate",
            f"second-dispute-{trigger.event_id}",
            f"a new dispute ({trigger.reason}) while dispute {order.dispute.seq} ({order.dispute.reason}) "
            "is still open",
            notice="overlapping_dispute",
        )
        return plan.done()
    plan.order = open_case(order, trigger)
    case = plan.order.dispute
    assert case is not None
    if trigger.reason in penalty_points.NON_RECEIPT_REASONS and penalty_points.unshipped_past_ship_by(plan.order, plan):
        plan.act(
            "escalate",
            case.cause + "-not-shipped",
            f"buyer reports non-receipt and the order never shipped (ship-by {fmt(plan.order.ship_by)}): "
            "cooperate in the dispute now to limit refusal-to-ship points",
            notice="not_shipped_dispute",
        )
        penalty_points.penalize(plan, "no_ship_cooperated")
        plan.update(dispute=case.model_copy(update={"status": "escalated"}))
        return plan.done()
    reason = trigger.reason
    if reason == "in_transit":
        _in_transit(plan, case)
    elif reason == "returned":
        resolve(plan, case, "the parcel was returned to the sender")
    elif reason == "not_as_described":
        claim_path(plan, trigger, "goods not as described")
    elif reason == "counterfeit":
        plan.act("escalate", case.cause, "buyer reports a counterfeit: a person handles it", notice="counterfeit")
        plan.update(dispute=case.model_copy(update={"status": "escalated"}))
    elif reason == "invalid_tracking":
        plan.act(
            "expedite",
            case.cause,
            "buyer reports the tracking number is invalid: get a valid tracking number from the supplier",
            party="supplier",
        )
    return plan.done()
