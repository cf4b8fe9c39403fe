"""The scenarios: one function per way an order goes, each writing the order's whole timeline.

A scenario is named for what happens to the order and lands on the playbook
rows `mix.SCENARIOS` lists for it. It reports facts only and never reads the
engine's decisions; where a real executor would act on one (a refund made, a
reorder placed), the timeline carries the resulting event at a time safely
after the engine would have decided it under the order's thresholds.
"""

from __future__ import annotations

from decimal import Decimal

from streams.simulator.catalogue import BULKY, OVERSIZE, RETAIL
from streams.simulator.timelines import (
    Timeline,
    buyer_claims,
    close,
    customs_hold,
    days,
    deliver,
    delivered_order,
    dispute,
    hours,
    intercept_result,
    last_mile,
    made_good,
    money,
    open_order,
    place,
    refunded,
    return_flow,
    returned_and_refunded,
    secs,
    ship_at,
    shipped_order,
    supplier_cost_of,
    supplier_order,
    track,
    withdrawn,
)

CANCEL = "order.cancel_requested"
WRONG_ADDRESS = "order.address_invalid"


# --- Nothing to do ------------------------------------------------------------------------------------------


def happy(tl: Timeline) -> None:
    """Placed, paid, bought, shipped within the handling time, delivered: nothing for the engine to do."""
    delivered_order(tl)


def promotion_rush(tl: Timeline) -> None:
    """Placed during a big sale: the store ships within the sale's short handling time and the parcel is tracked."""
    open_order(tl)
    ship_at(tl, tl.now + secs(tl.rng, 0.5, max(1.0, (tl.ship_by - tl.now).total_seconds() / 3600 - 0.5)))
    deliver(tl)


# --- Before shipment ----------------------------------------------------------------------------------------


def no_stock_reorder_ships(tl: Timeline) -> None:
    """The supplier has no stock; the reorder from an alternative supplier ships."""
    open_order(tl)
    tl.wait(2, 30)
    tl.emit("order.out_of_stock", supplier_id=f"sup-{tl.rng.randint(1, 40)}")
    tl.wait(1, 6)
    refunded(tl, supplier_cost_of(tl), "supplier")
    tl.wait(0.5, 4)
    supplier_order(tl, reorder=True)
    ship_at(tl, tl.now + secs(tl.rng, 6, 40))
    deliver(tl)


def no_stock_twice_refund(tl: Timeline) -> None:
    """No stock, and the alternative supplier has none either: no supplier left, the customer is refunded."""
    open_order(tl)
    tl.wait(2, 30)
    tl.emit("order.out_of_stock")
    tl.wait(1, 6)
    supplier_order(tl, reorder=True)
    tl.wait(4, 30)
    tl.emit("order.out_of_stock")
    tl.wait(1, 8)
    refunded(tl, tl.amount)


def oversize_at_placement(tl: Timeline) -> None:
    """An item over the carrier limits is ordered; the store places an adjusted product that ships."""
    place(tl, products=[tl.rng.choice(OVERSIZE)], wholesale=False, quantity=1)
    tl.wait(1, 6)
    supplier_order(tl)
    ship_at(tl)
    deliver(tl)


def oversize_carrier_rejects(tl: Timeline) -> None:
    """Within the limits on paper, but the carrier refuses the parcel as oversized; the adjusted reorder ships."""
    place(tl, products=[tl.rng.choice(BULKY)], wholesale=False, quantity=1)
    tl.wait(0.2, 4)
    supplier_order(tl)
    tl.wait(6, 36)
    limit = int(tl.thresholds.carrier_limits.max_weight_kg)
    weight = tl.rng.randint(limit + 1, limit + 18)
    tl.emit("order.oversize", detail=f"volumetric weight {weight} kg over the {limit} kg limit")
    tl.wait(1, 8)
    supplier_order(tl, reorder=True)
    ship_at(tl, tl.now + secs(tl.rng, 12, 40))
    deliver(tl)


def overdue_expedite(tl: Timeline) -> None:
    """The supplier ships halfway between the expedite and the switch (after ship-by)."""
    open_order(tl)
    midway = days((tl.thresholds.overdue_expedite_after_days + tl.thresholds.overdue_switch_after_days) / 2)
    ship_at(tl, tl.ship_by + midway + secs(tl.rng, -6, 6))
    deliver(tl)


def supplier_replies_in_time(tl: Timeline) -> None:
    """Expedited, the supplier answers within the reply window and ships as promised."""
    open_order(tl)
    expedited = tl.ship_by + days(tl.thresholds.overdue_expedite_after_days)
    tl.until(expedited, 2, tl.thresholds.supplier_reply_window_hours - 18)  # the reply and the shipment: inside it
    promised = tl.now + secs(tl.rng, 4, 14)
    tl.emit("order.supplier_replied", promised_ship_at=tl.iso(promised))
    ship_at(tl, promised)
    deliver(tl)


def supplier_unresponsive(tl: Timeline) -> None:
    """Expedited, the supplier stays silent and the store says so; the alternative supplier ships."""
    open_order(tl)
    expedited = tl.ship_by + days(tl.thresholds.overdue_expedite_after_days)
    tl.until(expedited, 12, tl.thresholds.supplier_reply_window_hours - 8)
    tl.emit("order.supplier_unresponsive")
    tl.wait(1, 6)
    supplier_order(tl, reorder=True)
    ship_at(tl, tl.now + secs(tl.rng, 8, 40))
    deliver(tl)


def overdue_switch_reorder_ships(tl: Timeline) -> None:
    """Never shipped by the first supplier: the switch reorders, and the reorder ships."""
    open_order(tl)
    switched = tl.until(tl.ship_by + days(tl.thresholds.overdue_switch_after_days), 1, 8)
    supplier_order(tl, reorder=True)
    ship_at(tl, switched + secs(tl.rng, 12, 48))
    deliver(tl)


def overdue_switch_never_ships(tl: Timeline) -> None:
    """Neither the first nor the alternative supplier ever ships: the second switch refunds the customer."""
    open_order(tl)
    switch_after = days(tl.thresholds.overdue_switch_after_days)
    switched = tl.until(tl.ship_by + switch_after, 1, 8)
    supplier_order(tl, reorder=True)
    # The alternative supplier gets a fresh ship-by (the switch time + handling), checked again at its switch.
    tl.until(switched + tl.order.handling + switch_after, 2, 24)
    refunded(tl, tl.amount)


def _called_off_before_shipment(tl: Timeline, trigger: str) -> None:
    """The order is called off before it ships: the supplier refunds the store, the store the customer."""
    open_order(tl)
    tl.wait(0.5, 12)
    tl.emit(trigger)
    tl.wait(0.5, 6)
    refunded(tl, supplier_cost_of(tl), "supplier")
    tl.wait(0.1, 4)
    refunded(tl, tl.amount)


def cancel_before_shipment(tl: Timeline) -> None:
    """The buyer cancels before the parcel ships."""
    _called_off_before_shipment(tl, CANCEL)


def wrong_address_before_shipment(tl: Timeline) -> None:
    """The buyer gave a wrong address, and says so before the parcel ships."""
    _called_off_before_shipment(tl, WRONG_ADDRESS)


# --- In transit ---------------------------------------------------------------------------------------------


def _asked_to_stop(tl: Timeline, trigger: str) -> None:
    """Shipped at home, and within a day the buyer asks to stop the parcel (the store asks the carrier)."""
    shipped_order(tl)
    tl.wait(2, 20)
    tl.emit(trigger)


def _delivered_anyway(tl: Timeline) -> None:
    tl.wait(6, 30)
    last_mile(tl)


def cancel_intercepted(tl: Timeline) -> None:
    """The buyer cancels after shipment; the carrier stops the parcel."""
    _asked_to_stop(tl, CANCEL)
    intercept_result(tl, True)
    returned_and_refunded(tl)


def cancel_intercept_failed(tl: Timeline) -> None:
    """The buyer cancels after shipment; the carrier cannot stop the parcel and it is delivered."""
    _asked_to_stop(tl, CANCEL)
    intercept_result(tl, False)
    _delivered_anyway(tl)


def cancel_intercept_no_result(tl: Timeline) -> None:
    """The buyer cancels after shipment; the carrier never reports on the intercept, and delivers."""
    _asked_to_stop(tl, CANCEL)
    wait = hours(days(tl.thresholds.intercept_result_wait_days))
    tl.wait(wait + 12, wait + 48)
    _delivered_anyway(tl)


def wrong_address_intercepted(tl: Timeline) -> None:
    """The buyer gave a wrong address; the carrier stops the parcel."""
    _asked_to_stop(tl, WRONG_ADDRESS)
    intercept_result(tl, True)
    returned_and_refunded(tl)


def wrong_address_intercept_failed(tl: Timeline) -> None:
    """The buyer gave a wrong address; the carrier cannot stop the parcel and it is delivered."""
    _asked_to_stop(tl, WRONG_ADDRESS)
    intercept_result(tl, False)
    _delivered_anyway(tl)


def _abroad_asked(tl: Timeline, trigger: str) -> None:
    """Shipped abroad, and days later the buyer asks: too late to stop the parcel."""
    shipped_order(tl)
    tl.wait(24, 24 * 5)
    tl.emit(trigger)


def cancel_international(tl: Timeline) -> None:
    """The buyer abroad cancels a parcel already on its way; it is delivered."""
    _abroad_asked(tl, CANCEL)
    deliver(tl)


def wrong_address_international(tl: Timeline) -> None:
    """The buyer abroad gave a wrong address: a failed attempt, and the parcel goes back to the sender."""
    _abroad_asked(tl, WRONG_ADDRESS)
    tl.wait(24 * 6, 24 * 12)
    track(tl, "failed_attempt")
    tl.wait(24 * 3, 24 * 8)
    track(tl, "returned_to_sender")


def customs_hold_cleared(tl: Timeline) -> None:
    """Customs holds the parcel and clears it after about 3 days, well inside the escalation window."""
    shipped_order(tl)
    customs_hold(tl, 24 * 2.5, 24 * 3.5)


def customs_hold_escalated(tl: Timeline) -> None:
    """Customs holds the parcel past the escalation window: escalated, then it clears and is delivered."""
    shipped_order(tl)
    escalate = hours(days(tl.thresholds.customs_hold_escalate_after_days))
    customs_hold(tl, escalate + 24 * 2.5, escalate + 24 * 3.5)


def delivery_refused_damaged(tl: Timeline) -> None:
    """The parcel arrives damaged and the buyer refuses it: refund at once, claim against the carrier."""
    shipped_order(tl)
    tl.wait(20, 80)
    last_mile(tl, "delivery_refused", refusal_reason="damaged")
    tl.wait(1, 12)
    refunded(tl, tl.amount)
    tl.wait(24, 24 * 4)
    track(tl, "returned_to_sender")


# --- Claims after delivery ----------------------------------------------------------------------------------


def wrong_item_verified(tl: Timeline) -> None:
    """The buyer reports a wrong item, sends evidence, and the platform verifies it."""
    delivered_order(tl)
    buyer_claims(tl, "wrong_item", approved=True)


def missing_item_rejected(tl: Timeline) -> None:
    """The buyer reports a missing item, sends evidence, and the platform rejects it."""
    delivered_order(tl)
    buyer_claims(tl, "missing_item", approved=False)


def short_shipment_partial(tl: Timeline) -> None:
    """The buyer reports a short shipment and claims part of the amount; the platform verifies it."""
    delivered_order(tl)
    buyer_claims(tl, "short_shipment", approved=True, claimed=money(tl.amount * Decimal("0.4")))


def damaged_claim(tl: Timeline) -> None:
    """The buyer reports the goods damaged and sends evidence; the platform decides."""
    delivered_order(tl)
    buyer_claims(tl, "damaged", approved=None)


def dispute_not_as_described(tl: Timeline) -> None:
    """The buyer reports the goods not as described and sends evidence; the platform decides."""
    delivered_order(tl)
    buyer_claims(tl, "not_as_described", approved=None)


def claim_no_evidence(tl: Timeline) -> None:
    """The buyer reports a wrong item or damage and never sends the evidence: escalated when the wait ends."""
    delivered_order(tl)
    dispute(tl, tl.rng.choice(("wrong_item", "damaged")), 6, 24 * 5)
    wait = hours(days(tl.thresholds.evidence_wait_days))
    close(tl, "withdrawn", lo=wait + 24 * 2, hi=wait + 24 * 7)


# --- Disputes about the parcel ------------------------------------------------------------------------------


def dispute_invalid_tracking(tl: Timeline) -> None:
    """The buyer cannot track the parcel (the number is not in the carrier's system yet) and opens a dispute."""
    shipped_order(tl)
    dispute(tl, "invalid_tracking", 24 * 2, 24 * 4)
    deliver(tl)
    withdrawn(tl)


def dispute_in_transit_within(tl: Timeline) -> None:
    """\"Where is my parcel?\" within the delivery estimate: tell the buyer the tracking state."""
    shipped_order(tl)
    tl.wait(24 * 2, 24 * 4)
    tl.emit("dispute.opened", reason="in_transit")
    deliver(tl)
    withdrawn(tl)


def dispute_in_transit_late(tl: Timeline) -> None:
    """The parcel is lost: still not delivered after the delivery estimate → reissue or refund."""
    shipped_order(tl)
    assert tl.shipped_at is not None
    tl.until(tl.shipped_at + secs(tl.rng, 24 * 2, 24 * 4))
    track(tl, "in_transit")
    tl.until(tl.shipped_at + tl.order.estimate, 24 * 1, 24 * 6)
    tl.emit("dispute.opened", reason="in_transit")
    made_good(tl, tl.amount)


def dispute_customs_held(tl: Timeline) -> None:
    """The buyer reports the parcel held by customs before tracking does; it clears and is delivered."""
    shipped_order(tl)
    dispute(tl, "customs_held", 24 * 4, 24 * 7)
    tl.wait(24 * 1, 24 * 4)
    track(tl, "customs_cleared")
    deliver(tl, customs_cleared=False)
    withdrawn(tl)


def dispute_returned(tl: Timeline) -> None:
    """The carrier returns the parcel to the sender and the buyer disputes: reissue or refund."""
    shipped_order(tl)
    tl.wait(24 * 2, 24 * 6)
    track(tl, "failed_attempt")
    tl.wait(24 * 2, 24 * 5)
    track(tl, "returned_to_sender")
    dispute(tl, "returned", 6, 24 * 3)
    made_good(tl, tl.amount)


def dispute_wrong_address(tl: Timeline) -> None:
    """The buyer disputes non-receipt because they gave a wrong address (the taxonomy's wrong_address reason)."""
    shipped_order(tl)
    dispute(tl, "wrong_address", 24 * 1, 24 * 3)
    if tl.order.domestic:
        if intercept_result(tl):
            returned_and_refunded(tl)
        else:
            deliver(tl)
    else:
        tl.wait(24 * 6, 24 * 12)
        track(tl, "returned_to_sender")
    close(tl, "settled", lo=6, hi=72)


def dispute_counterfeit(tl: Timeline) -> None:
    """The buyer says the item is counterfeit: a person handles it."""
    delivered_order(tl)
    dispute(tl, "counterfeit", 12, 24 * 8)
    close(tl, tl.rng.choice(("seller_won", "buyer_won")), lo=24 * 3, hi=24 * 12)


def _never_shipped_disputed(tl: Timeline, cooperated: bool) -> None:
    open_order(tl)
    # The buyer gives up waiting after ship-by and before the switch; the platform refunds them.
    tl.until(tl.ship_by, 6, 40)
    tl.emit("dispute.opened", reason=tl.rng.choice(("in_transit", "invalid_tracking")))
    close(tl, "buyer_won", cooperated=cooperated, lo=6, hi=30)
    tl.wait(0.5, 6)
    refunded(tl, tl.amount)


def penalty_cooperated(tl: Timeline) -> None:
    """A Taobao/Tmall order never ships; the buyer disputes non-receipt after ship-by; the store cooperates."""
    _never_shipped_disputed(tl, True)


def penalty_uncooperative(tl: Timeline) -> None:
    """A Taobao/Tmall order never ships; the buyer disputes non-receipt after ship-by; the store does not cooperate."""
    _never_shipped_disputed(tl, False)


# --- Returns ------------------------------------------------------------------------------------------------
# A return's cost is set against the policy's lines, as shares of the order: above the coupon line a buyer's
# own-reason return gets a coupon instead, above the abandon line the seller refunds and keeps the goods.


def _coupon_line(tl: Timeline) -> Decimal:
    return Decimal(str(tl.thresholds.remorse_coupon_above_return_cost_share))


def _abandon_line(tl: Timeline) -> Decimal:
    return Decimal(str(tl.thresholds.abandon_above_return_cost_share))


def dispute_quality_return(tl: Timeline) -> None:
    """A quality problem: the return is accepted at once, shipped back, received, and the buyer refunded."""
    delivered_order(tl)
    dispute(tl, "quality", 12, 24 * 6)
    return_flow(tl, tl.amount, return_cost=money(tl.amount * _abandon_line(tl) / 10))


def return_abandoned(tl: Timeline) -> None:
    """A quality return whose shipping costs more than the abandon line: the seller abandons it and refunds."""
    delivered_order(tl, products=[tl.rng.choice(RETAIL[1:3])], wholesale=False, quantity=1)
    dispute(tl, "quality", 12, 24 * 6)
    over = Decimal(str(round(tl.rng.uniform(1.2, 2.5), 2)))
    return_flow(tl, tl.amount, return_cost=money(tl.amount * _abandon_line(tl) * over))


def return_lost(tl: Timeline) -> None:
    """A quality return is shipped back and never arrives: a person decides when the abandon window ends."""
    delivered_order(tl)
    dispute(tl, "quality", 12, 24 * 6)
    return_flow(tl, tl.amount, arrives=False)


def buyer_remorse_return(tl: Timeline) -> None:
    """Wrong size: a cheap return is accepted, shipped back and refunded."""
    delivered_order(tl)
    dispute(tl, "buyer_remorse", 12, 24 * 6, return_cost=str(money(tl.amount * _coupon_line(tl) / 3)))
    return_flow(tl, tl.amount)


def buyer_remorse_coupon(tl: Timeline) -> None:
    """Wrong style, but the return would cost more than the coupon line's share of the order: a coupon instead."""
    delivered_order(tl, products=[tl.rng.choice(RETAIL[:3])], wholesale=False, quantity=1)
    cost = money(tl.amount * (_coupon_line(tl) + Decimal(str(round(tl.rng.uniform(0.1, 0.6), 2)))))
    dispute(tl, "buyer_remorse", 12, 24 * 6, return_cost=str(cost))
    close(tl, "settled", lo=12, hi=24 * 3)


def buyer_remorse_never_ships(tl: Timeline) -> None:
    """The return is accepted, and the buyer never enters a return tracking number: closed for the seller."""
    delivered_order(tl)
    dispute(tl, "buyer_remorse", 12, 24 * 6, return_cost=str(money(tl.amount * _coupon_line(tl) / 6)))
    return_flow(tl, tl.amount, ships=False)


def misuse(tl: Timeline) -> None:
    """The product works but the buyer uses it wrongly: usage guidance, no refund."""
    delivered_order(tl)
    dispute(tl, "misuse", 24, 24 * 10)
    close(tl, "seller_won", lo=24, hi=24 * 5)


def wholesale_remorse_capped(tl: Timeline) -> None:
    """A 1688 wholesale batch of 50; the buyer wants to return 8-30 units for their own reason: the policy's
    cap on non-quality returns limits the refund (all of them, where the marketplace has no cap)."""
    delivered_order(tl, wholesale=True, quantity=50)
    wanted = tl.rng.randint(8, 30)
    cost = money(tl.amount * _coupon_line(tl) / 15)
    dispute(tl, "buyer_remorse", 24, 24 * 6, quantity=wanted, return_cost=str(cost))
    share = tl.thresholds.non_quality_return_cap_share
    returned = min(wanted, max(1, int(tl.units * Decimal(str(share))))) if share is not None else wanted
    return_flow(tl, money(tl.amount * returned / tl.units))
