"""Which scenarios the shop's orders follow, in what proportion, and where each can happen.

`SCENARIOS` is the table: each scenario's weight among the orders a
marketplace could give it, the marketplaces and routes it needs, and the
playbook rows it lands on under the default policy (the tests hold the
simulator to them). Most orders go right; every row still occurs in a few
thousand orders, and `tour` puts each scenario in a small sample too.

`WHOLESALE_SHARE` is the share of a marketplace's orders that are wholesale
batches. On 1688 a small seller's orders are mostly single pieces shipped for
resellers (一件代发, dropshipping), with the occasional batch of 20-100
units; one order in five being a batch makes wholesale about 5% of the shop's
orders. Every batch gets the return-cap notice at placement, so a larger
share would fill the shop's day with those notices.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import streams.simulator.scenarios as s
from streams.simulator.catalogue import (
    ABROAD,
    ALL_MARKETS,
    CN_MARKETS,
    CROSS_BORDER,
    PENALTY_MARKETS,
    RETAIL_MARKETS,
    Store,
)
from streams.simulator.timelines import Timeline

Route = Literal["any", "domestic", "international"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of the scenario table: a name, its share of orders, where it can happen, what it exercises.

    `rows` are the playbook rows whose actions every order of this scenario gets
    under the default policy (the tests hold the simulator to it); `marketplaces`
    and `route` restrict where it is drawn; a `promotion_only` scenario is drawn
    only for orders placed inside a promotion window of their marketplace.
    """

    name: str
    weight: float
    write: Callable[[Timeline], None]
    rows: tuple[str, ...] = ()
    marketplaces: tuple[str, ...] = ALL_MARKETS
    route: Route = "any"
    promotion_only: bool = False


DOMESTIC: Route = "domestic"
INTERNATIONAL: Route = "international"
CLAIM_ROWS = ("wrong_or_missing",)
DEFECT_ROWS = ("product_defect", "return_windows")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("happy_domestic", 380, s.happy, (), CN_MARKETS, DOMESTIC),
    Scenario("happy_international", 330, s.happy, (), CROSS_BORDER, INTERNATIONAL),
    Scenario("promotion_rush", 12, s.promotion_rush, ("promotion",), promotion_only=True),
    # Before shipment
    Scenario("no_stock_reorder_ships", 10, s.no_stock_reorder_ships, ("no_stock",)),
    Scenario("no_stock_twice_refund", 8, s.no_stock_twice_refund, ("no_stock",)),
    Scenario("oversize_at_placement", 8, s.oversize_at_placement, ("oversize",), RETAIL_MARKETS),
    Scenario("oversize_carrier_rejects", 8, s.oversize_carrier_rejects, ("oversize",), RETAIL_MARKETS),
    Scenario("overdue_expedite", 10, s.overdue_expedite, ("overdue_expedite",)),
    Scenario("supplier_replies_in_time", 8, s.supplier_replies_in_time, ("overdue_expedite",)),
    Scenario("supplier_unresponsive", 10, s.supplier_unresponsive, ("overdue_expedite", "supplier_unresponsive")),
    Scenario(
        "overdue_switch_reorder_ships",
        8,
        s.overdue_switch_reorder_ships,
        ("overdue_expedite", "supplier_unresponsive"),
    ),
    Scenario("overdue_switch_never_ships", 8, s.overdue_switch_never_ships, ("overdue_expedite", "overdue_switch")),
    # In transit
    Scenario("customs_hold_cleared", 16, s.customs_hold_cleared, ("customs_hold",), CROSS_BORDER, INTERNATIONAL),
    Scenario("customs_hold_escalated", 14, s.customs_hold_escalated, ("customs_hold",), CROSS_BORDER, INTERNATIONAL),
    # Claims after delivery
    Scenario("wrong_item_verified", 8, s.wrong_item_verified, CLAIM_ROWS),
    Scenario("missing_item_rejected", 8, s.missing_item_rejected, CLAIM_ROWS),
    Scenario("short_shipment_partial", 6, s.short_shipment_partial, CLAIM_ROWS),
    Scenario("damaged_claim", 8, s.damaged_claim, ("damaged",)),
    Scenario("claim_no_evidence", 6, s.claim_no_evidence, ()),
    Scenario("delivery_refused_damaged", 8, s.delivery_refused_damaged, ("damaged",)),
    # Cancellations and wrong addresses
    Scenario("cancel_before_shipment", 10, s.cancel_before_shipment, ("customer_cancel",)),
    Scenario("cancel_intercepted", 8, s.cancel_intercepted, ("customer_cancel",), CN_MARKETS, DOMESTIC),
    Scenario("cancel_intercept_failed", 6, s.cancel_intercept_failed, ("customer_cancel",), CN_MARKETS, DOMESTIC),
    Scenario("cancel_intercept_no_result", 4, s.cancel_intercept_no_result, ("customer_cancel",), CN_MARKETS, DOMESTIC),
    Scenario("cancel_international", 12, s.cancel_international, ("customer_cancel",), CROSS_BORDER, INTERNATIONAL),
    Scenario("wrong_address_before_shipment", 6, s.wrong_address_before_shipment, ("wrong_address",)),
    Scenario("wrong_address_intercepted", 6, s.wrong_address_intercepted, ("wrong_address",), CN_MARKETS, DOMESTIC),
    Scenario(
        "wrong_address_intercept_failed", 5, s.wrong_address_intercept_failed, ("wrong_address",), CN_MARKETS, DOMESTIC
    ),
    Scenario(
        "wrong_address_international",
        12,
        s.wrong_address_international,
        ("wrong_address",),
        CROSS_BORDER,
        INTERNATIONAL,
    ),
    Scenario("dispute_wrong_address", 5, s.dispute_wrong_address, ("wrong_address",)),
    # Disputes about the parcel
    Scenario("dispute_invalid_tracking", 6, s.dispute_invalid_tracking, ("dispute_reasons",)),
    Scenario("dispute_in_transit_within", 6, s.dispute_in_transit_within, ("dispute_reasons",)),
    Scenario("dispute_in_transit_late", 6, s.dispute_in_transit_late, ("dispute_reasons",)),
    Scenario("dispute_customs_held", 16, s.dispute_customs_held, ("customs_hold",), CROSS_BORDER, INTERNATIONAL),
    Scenario("dispute_returned", 6, s.dispute_returned, ("dispute_reasons",)),
    Scenario("dispute_not_as_described", 6, s.dispute_not_as_described, ("dispute_reasons",)),
    Scenario("dispute_counterfeit", 5, s.dispute_counterfeit, ("dispute_reasons",)),
    # Returns
    Scenario("dispute_quality_return", 8, s.dispute_quality_return, DEFECT_ROWS, RETAIL_MARKETS),
    Scenario("return_abandoned", 6, s.return_abandoned, DEFECT_ROWS, RETAIL_MARKETS),
    Scenario("return_lost", 5, s.return_lost, DEFECT_ROWS, RETAIL_MARKETS),
    Scenario("buyer_remorse_return", 8, s.buyer_remorse_return, ("buyer_remorse", "return_windows"), RETAIL_MARKETS),
    Scenario("buyer_remorse_coupon", 6, s.buyer_remorse_coupon, ("buyer_remorse",), RETAIL_MARKETS),
    Scenario(
        "buyer_remorse_never_ships", 5, s.buyer_remorse_never_ships, ("buyer_remorse", "return_windows"), RETAIL_MARKETS
    ),
    Scenario("misuse", 6, s.misuse, ("misuse",)),
    Scenario(
        "wholesale_remorse_capped",
        12,
        s.wholesale_remorse_capped,
        ("non_quality_return_cap", "return_windows"),
        ("1688",),
        DOMESTIC,
    ),
    # Refusal-to-ship penalties
    Scenario("penalty_cooperated", 6, s.penalty_cooperated, ("dispute_reasons",), PENALTY_MARKETS, DOMESTIC),
    Scenario("penalty_uncooperative", 6, s.penalty_uncooperative, ("dispute_reasons",), PENALTY_MARKETS, DOMESTIC),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
assert len(BY_NAME) == len(SCENARIOS), "scenario names must be unique"

DUPLICATE_RATE = 0.02  # orders with one event delivered twice by an at-least-once producer
WHOLESALE_SHARE = {"1688": 0.2}


def wholesale(rng: random.Random, marketplace: str) -> bool:
    """Whether an order on this marketplace is a wholesale batch (scenarios that need one say so themselves)."""
    share = WHOLESALE_SHARE.get(marketplace)
    return share is not None and rng.random() < share


def scenario_names() -> list[str]:
    return [scenario.name for scenario in SCENARIOS]


@dataclass
class Mix:
    """Which scenarios can be drawn where; the candidate lists are cached per (marketplace, promotion).

    With a `tour`, the scenarios it names are drawn first, each as soon as an order can take it.
    """

    stores: tuple[Store, ...]
    tour: list[str] = field(default_factory=list)
    _cache: dict[tuple[str, str | None], tuple[list[Scenario], list[float]]] = field(default_factory=dict)

    def candidates(self, marketplace: str, promotion: str | None) -> tuple[list[Scenario], list[float]]:
        key = (marketplace, promotion)
        if key not in self._cache:
            eligible = [
                scenario
                for scenario in SCENARIOS
                if marketplace in scenario.marketplaces
                and (not scenario.promotion_only or promotion is not None)
                and not (scenario.route == "international" and marketplace in CN_MARKETS)
                and not (scenario.route == "domestic" and marketplace not in CN_MARKETS)
            ]
            self._cache[key] = (eligible, [scenario.weight for scenario in eligible])
        return self._cache[key]

    def draw(self, rng: random.Random, marketplace: str, promotion: str | None) -> Scenario:
        eligible, weights = self.candidates(marketplace, promotion)
        for i, name in enumerate(self.tour):
            scenario = BY_NAME[name]
            if scenario in eligible:
                del self.tour[i]
                return scenario
        return rng.choices(eligible, weights=weights)[0]


def destination(rng: random.Random, marketplace: str, route: Route) -> str:
    """Where the order goes: Chinese marketplaces sell at home, cross-border ones abroad."""
    if marketplace in CN_MARKETS:
        # Taobao ships a few orders to Hong Kong; a scenario that needs a domestic order keeps CN.
        return "HK" if route == "any" and marketplace == "taobao" and rng.random() < 0.05 else "CN"
    return rng.choice(ABROAD)
