"""The evidence → claim → verification → resolution path that wrong_or_missing, damaged and
"not as described" share (seeds 000-002).

request photo/video evidence; when it arrives, open a claim with the platform
(verification takes 10-30 working days); verified → reissue or customer refund
(policy `claim_resolution`), a refund to be completed within 15 working days;
rejected → tell the buyer. Evidence the buyer sent before the dispute was opened counts: the claim
is then opened at once. No evidence after `evidence_wait_days`, no
verification after 30 working days, refund not done after 15 working days →
escalate to a person.
"""

from __future__ import annotations

from models.events import DisputeEvidenceSubmitted, DisputeOpened, DisputeVerified
from models.state import DisputeCase
from rules.base import Due, Plan, Trigger, days, fmt
from rules.lifecycle import REFUND_DUE_KEY


def resolve(plan: Plan, case: DisputeCase, why: str) -> None:
    """Reissue or refund, as the policy prefers; a refund gets its completion deadline.

    The case is then resolved: later verifications or evidence for it change nothing. A refund passes the
    engine's refund guard (once per cause, never beyond what was paid). A reissue is goods for free, so it is
    checked here: nothing is reissued to a buyer already refunded in full (a person answers the platform with
    the refund), nor for an order that was cancelled or never shipped (no goods went out to replace: a person
    decides between shipping and refunding)."""
    order = plan.order
    if order.dispute is not None and order.dispute.status != "verified":
        plan.update(dispute=order.dispute.model_copy(update={"status": "resolved"}))
    if plan.thresholds.claim_resolution == "reissue":
        if order.customer_refunded >= order.amount:
            plan.act(
                "escalate",
                f"{case.cause}-already-refunded",
                f"{why}, but the buyer was already refunded in full ({order.customer_refunded} {order.currency}): "
                "nothing to reissue; a person answers the platform",
                notice="already_refunded",
            )
        elif order.cancelled_at is not None or not order.shipped:
            state = "was cancelled" if order.cancelled_at is not None else "never shipped"
            plan.act(
                "escalate",
                f"{case.cause}-not-reissued",
                f"{why}, but the order {state}: nothing to reissue; a person decides",
                notice="reissue_unshipped",
            )
        else:
            plan.act("reissue", case.cause, f"{why}: reissue the item (policy claim_resolution=reissue)")
        return
    due = plan.working_days_after(plan.at, plan.thresholds.refund_within_working_days)
    amount = case.amount_claimed if case.amount_claimed is not None else plan.order.amount
    plan.refund_customer(
        case.cause,
        amount,
        f"{why}: refund the customer within {plan.thresholds.refund_within_working_days} working days (by {fmt(due)})",
        due_by=due,
    )
    plan.schedule(f"{REFUND_DUE_KEY}-{case.cause}", due)


def _open_claim(plan: Plan, case: DisputeCase, received: str) -> None:
    """The evidence is in (`received` says which): open a claim with the platform and wait for its verification."""
    thresholds = plan.thresholds
    due = plan.working_days_after(plan.at, thresholds.verification_max_working_days)
    plan.act(
        "open_claim",
        case.cause,
        f"{received}: open a claim with the platform; verification takes "
        f"{thresholds.verification_min_working_days}-{thresholds.verification_max_working_days} working days "
        f"(escalate after {fmt(due)})",
    )
    plan.settle(plan.rule, key=f"evidence-{case.cause}")
    plan.update(dispute=case.model_copy(update={"status": "claim_open"}))
    plan.schedule(f"verification-{case.cause}", due)


def claim_path(plan: Plan, trigger: Trigger, what: str) -> None:
    """Advance the order's open dispute along the claim path; `what` names the problem in the reasons."""
    case = plan.order.dispute
    thresholds = plan.thresholds
    if case is None:
        return
    if isinstance(trigger, DisputeOpened):
        early = plan.order.evidence_before_dispute
        if early is not None:
            _open_claim(
                plan,
                case,
                f"buyer reports {what}; photo or video evidence already received ({fmt(early)}, before the "
                "dispute opened)",
            )
            return
        plan.act(
            "request_evidence",
            case.cause,
            f"buyer reports {what}: ask for photo or video evidence "
            f"(escalate if none within {thresholds.evidence_wait_days:g} days)",
        )
        plan.update(dispute=case.model_copy(update={"status": "evidence_requested"}))
        plan.schedule(f"evidence-{case.cause}", plan.at + days(thresholds.evidence_wait_days))
    elif isinstance(trigger, DisputeEvidenceSubmitted):
        if case.status not in ("open", "evidence_requested"):
            plan.note(f"evidence received while the claim is {case.status}: nothing new to do")
            return
        _open_claim(plan, case, f"evidence of {what} received")
    elif isinstance(trigger, DisputeVerified):
        if case.status in ("verified", "rejected", "resolved", "escalated", "closed"):
            plan.note(f"verification result while the claim is {case.status}: ignored")
            return
        plan.settle(plan.rule, key=f"verification-{case.cause}")
        plan.settle(plan.rule, key=f"evidence-{case.cause}")
        if trigger.approved:
            plan.update(dispute=case.model_copy(update={"status": "verified", "verified_at": plan.at}))
            resolve(plan, case, f"claim of {what} verified by the platform")
        else:
            plan.update(dispute=case.model_copy(update={"status": "rejected"}))
            plan.act(
                "notify_customer",
                case.cause,
                f"claim of {what} rejected by the platform: tell the buyer",
                notice="claim_rejected",
            )
    elif isinstance(trigger, Due):
        key = trigger.key
        if key.startswith("evidence-"):
            plan.act(
                "escalate",
                key,
                f"no evidence of {what} {thresholds.evidence_wait_days:g} days after asking: a person decides",
                notice="no_evidence",
            )
        elif key.startswith("verification-"):
            plan.act(
                "escalate",
                key,
                f"claim of {what} not verified after {thresholds.verification_max_working_days} working days: "
                "chase the platform",
                notice="verification_overdue",
            )
        elif key.startswith(REFUND_DUE_KEY):
            cause = key[len(REFUND_DUE_KEY) + 1 :]
            if any(r.cause == cause and r.confirmed for r in plan.order.customer_refunds):
                plan.note("refund already reported done")
                return
            plan.act(
                "escalate",
                key,
                f"customer refund not done {thresholds.refund_within_working_days} working days after verification",
                notice="refund_overdue",
            )
