"""wrong_or_missing: the buyer reports a wrong or missing item (also AliExpress "short shipment").

Request photo/video evidence; when it arrives, open a claim with the platform;
verification takes 10-30 working days; verified → reissue or customer refund
(policy preference), a refund completed within 15 working days of
verification; no verification after 30 working days → escalate; refund not
done after 15 working days → escalate; rejected → tell the buyer.
"""

from __future__ import annotations

from models.state import OrderState
from rules.base import OrderContext, Outcome, Plan, Trigger
from rules.claims import claim_path

WHAT = {"wrong_item": "a wrong item", "missing_item": "a missing item", "short_shipment": "a short shipment"}


def wrong_or_missing(order: OrderState, trigger: Trigger, ctx: OrderContext) -> Outcome:
    plan = Plan.of(order, trigger, ctx, "wrong_or_missing")
    reason = order.dispute.reason if order.dispute is not None else "wrong_item"
    claim_path(plan, trigger, WHAT.get(reason, "a wrong or missing item"))
    return plan.done()
