"""wrong_or_missing: evidence → claim → verification (10–30 working days) → reissue or refund within 15 working days."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.factories import (
    CST,
    DAY,
    HOUR,
    T0,
    US,
    briefs,
    closed,
    delivered,
    dispute,
    evidence,
    of_type,
    placed,
    refunded,
    run,
    shipped,
    verified,
)

S = T0 + DAY
D = S + 3 * DAY  # delivered
OPEN = D + DAY  # dispute opened (Fri 2026-03-06)
EVID = OPEN + DAY  # evidence (Sat 2026-03-07)
R = "wrong_or_missing"


def order(marketplace="tmall", reason="wrong_item", *events, amount_claimed=None):
    return [
        placed(order_id="W1", marketplace=marketplace),
        shipped(order_id="W1", at=S),
        delivered(order_id="W1", at=D),
        dispute(reason, order_id="W1", at=OPEN, amount_claimed=amount_claimed),
        *events,
    ]


EVIDENCE = ("request_evidence", R, None, None, None)
CLAIM = ("open_claim", R, None, None, None)


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(order(), OPEN + HOUR, [EVIDENCE], id="wrong item: ask for photo or video evidence"),
        pytest.param(order("tmall", "missing_item"), OPEN + HOUR, [EVIDENCE], id="missing item: same"),
        pytest.param(order("tmall", "short_shipment"), OPEN + HOUR, [EVIDENCE], id="AliExpress short shipment: same"),
        pytest.param(
            order(),
            OPEN + 7 * DAY + US,
            [EVIDENCE, ("escalate", R, None, None, "no_evidence")],
            id="no evidence in 7 days: escalate",
        ),
        pytest.param(order(), OPEN + 7 * DAY, [EVIDENCE], id="exactly 7 days: not yet"),
        pytest.param(
            order("tmall", "wrong_item", evidence(order_id="W1", at=EVID)),
            EVID + DAY,
            [EVIDENCE, CLAIM],
            id="evidence opens a claim",
        ),
        pytest.param(
            order(
                "tmall",
                "wrong_item",
                evidence(order_id="W1", at=EVID),
                verified(True, order_id="W1", at=EVID + 12 * DAY),
            ),
            EVID + 90 * DAY,
            [EVIDENCE, CLAIM, ("reissue", R, None, None, None)],
            id="verified on tmall: reissue (policy preference)",
        ),
        pytest.param(
            order(
                "aliexpress",
                "wrong_item",
                evidence(order_id="W1", at=EVID),
                verified(True, order_id="W1", at=EVID + 12 * DAY),
            ),
            EVID + 12 * DAY + HOUR,
            [EVIDENCE, CLAIM, ("refund", R, "customer", "100.00", None)],
            id="verified on aliexpress: customer refund (policy preference)",
        ),
        pytest.param(
            order(
                "aliexpress",
                "missing_item",
                evidence(order_id="W1", at=EVID),
                verified(True, order_id="W1", at=EVID + 12 * DAY),
                amount_claimed="35.50",
            ),
            EVID + 12 * DAY + HOUR,
            [EVIDENCE, CLAIM, ("refund", R, "customer", "35.50", None)],
            id="a partial claim refunds what was claimed",
        ),
        pytest.param(
            order(
                "aliexpress",
                "wrong_item",
                evidence(order_id="W1", at=EVID),
                verified(False, order_id="W1", at=EVID + 12 * DAY),
            ),
            EVID + 90 * DAY,
            [EVIDENCE, CLAIM, ("notify_customer", R, None, None, "claim_rejected")],
            id="rejected: tell the buyer, no refund",
        ),
        pytest.param(
            order(
                "aliexpress",
                "wrong_item",
                evidence(order_id="W1", at=EVID),
                verified(True, order_id="W1", at=EVID + 12 * DAY),
                verified(True, order_id="W1", at=EVID + 13 * DAY),
            ),
            EVID + 13 * DAY + HOUR,
            [EVIDENCE, CLAIM, ("refund", R, "customer", "100.00", None)],
            id="a repeated verification result: one refund",
        ),
        pytest.param(
            order("tmall", "wrong_item", evidence(order_id="W1", at=EVID), closed(order_id="W1", at=EVID + 5 * DAY)),
            EVID + 120 * DAY,
            [EVIDENCE, CLAIM],
            id="dispute closed: the claim follow-ups end",
        ),
        pytest.param(
            order("tmall", "wrong_item", closed(order_id="W1", at=OPEN + DAY)),
            OPEN + 30 * DAY,
            [EVIDENCE],
            id="dispute closed before evidence: no evidence escalation",
        ),
        pytest.param(
            [
                placed(order_id="W1"),
                shipped(order_id="W1", at=S),
                delivered(order_id="W1", at=D),
                evidence(order_id="W1", at=OPEN - HOUR),
                dispute("wrong_item", order_id="W1", at=OPEN),
            ],
            OPEN + 60 * DAY,
            [CLAIM, ("escalate", R, None, None, "verification_overdue")],
            id="evidence sent before the dispute: the claim opens at once, evidence is not asked for",
        ),
        pytest.param(
            order("tmall", "wrong_item", closed(order_id="W1", at=OPEN + HOUR), evidence(order_id="W1", at=EVID))
            + [dispute("missing_item", order_id="W1", at=EVID + DAY)],
            EVID + DAY + HOUR,
            [EVIDENCE, EVIDENCE],
            id="evidence for a closed dispute does not count for the next one",
        ),
    ],
)
def test_claim_path(events, until, expected):
    assert briefs([a for a in run(events, until=until) if a.rule == R]) == expected


# Evidence on Friday 2026-09-18 10:00 (CN). Working days after it, counted by hand from the 2026 CN calendar:
# Sun 09-20 is a make-up working day; Fri 09-25 Mid-Autumn; 10-01..10-07 National Day; Sat 10-10 make-up working day.
# 30th working day: Thu 2026-11-05.
FRI = datetime(2026, 9, 18, 10, 0, tzinfo=CST)


def autumn_order(*events):
    return [
        placed(order_id="W2", at=FRI - 10 * DAY, marketplace="aliexpress"),
        shipped(order_id="W2", at=FRI - 9 * DAY),
        delivered(order_id="W2", at=FRI - 3 * DAY),
        dispute("wrong_item", order_id="W2", at=FRI - DAY),
        evidence(order_id="W2", at=FRI),
        *events,
    ]


@pytest.mark.parametrize(
    ("until", "escalated"),
    [
        pytest.param(
            datetime(2026, 11, 5, 10, 0, tzinfo=CST), False, id="30th working day across National Day: not yet at 10:00"
        ),
        pytest.param(
            datetime(2026, 11, 5, 10, 0, tzinfo=CST) + US, True, id="30th working day across National Day: escalate"
        ),
    ],
)
def test_no_verification_after_30_working_days_escalates(until, escalated):
    actions = of_type(run(autumn_order(), until=until), "escalate", R)
    assert [a.notice for a in actions] == (["verification_overdue"] if escalated else [])


# Verified on Friday 2026-09-18 10:00: 15 working days → Thu 2026-10-15
# (Sun 09-20 and Sat 10-10 count, the holidays do not).
REFUND_DUE = datetime(2026, 10, 15, 10, 0, tzinfo=CST)


def verified_on_friday(*events):
    return [
        placed(order_id="W3", at=FRI - 30 * DAY, marketplace="aliexpress"),
        shipped(order_id="W3", at=FRI - 29 * DAY),
        delivered(order_id="W3", at=FRI - 25 * DAY),
        dispute("wrong_item", order_id="W3", at=FRI - 24 * DAY),
        evidence(order_id="W3", at=FRI - 23 * DAY),
        verified(True, order_id="W3", at=FRI),
        *events,
    ]


def test_refund_is_due_within_15_working_days_of_verification():
    refund = of_type(run(verified_on_friday()), "refund", R)
    assert [a.due_by for a in refund] == [REFUND_DUE]
    assert "15 working days" in refund[0].reason


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param([], REFUND_DUE, [], id="refund not reported by the due time: not yet"),
        pytest.param([], REFUND_DUE + US, ["refund_overdue"], id="refund not done after 15 working days: escalate"),
        pytest.param(
            [refunded(order_id="W3", at=REFUND_DUE - DAY)],
            REFUND_DUE + 30 * DAY,
            [],
            id="order.refunded settles the escalation",
        ),
        pytest.param(
            [closed(order_id="W3", at=FRI + DAY)],
            REFUND_DUE + US,
            ["refund_overdue"],
            id="a closed dispute still owes its refund",
        ),
    ],
)
def test_refund_overdue(events, until, expected):
    actions = of_type(run(verified_on_friday(*events), until=until), "escalate", R)
    assert [a.notice for a in actions] == expected


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        pytest.param(
            order(), OPEN + 8 * DAY, [("request_evidence", OPEN), ("escalate", OPEN + 7 * DAY)], id="evidence overdue"
        ),
        pytest.param(
            order(
                "tmall", "wrong_item", evidence(order_id="W1", at=EVID), verified(True, order_id="W1", at=EVID + DAY)
            ),
            EVID + 2 * DAY,
            [("request_evidence", OPEN), ("open_claim", EVID), ("reissue", EVID + DAY)],
            id="each step at its event's time",
        ),
        pytest.param(
            order("tmall", "wrong_item", evidence(order_id="W1", at=EVID)),
            datetime(2026, 5, 1, tzinfo=CST),
            # 30 working days after Sat 2026-03-07 (CN calendar, Qingming on 2026-04-06)
            [("request_evidence", OPEN), ("open_claim", EVID), ("escalate", None)],
            id="verification overdue: at the 30th working day",
        ),
    ],
)
def test_decision_times(events, until, expected):
    actions = [a for a in run(events, until=until) if a.rule == R]
    assert [a.type for a in actions] == [t for t, _ in expected]
    for action, (_, at) in zip(actions, expected, strict=True):
        if at is not None:
            assert action.decided_at == at
        else:
            assert action.decided_at > EVID + 30 * DAY  # working days: later than 30 calendar days


def w1(fn, at, *args, **kw):
    return fn(*args, order_id="W1", at=at, **kw)


TWICE = D + 60 * DAY  # a second dispute, after the first one closed


@pytest.mark.parametrize(
    ("marketplace", "steps", "until", "expected"),
    [
        pytest.param(
            "tmall",
            [(evidence, 1), (verified, 2, True)],
            60,
            ["request_evidence", "open_claim", "reissue"],
            id="evidence, claim, reissue",
        ),
        pytest.param("tmall", [], 10, ["request_evidence", "escalate"], id="no evidence"),
        pytest.param(
            "tmall",
            [(evidence, 1), (verified, 2, False)],
            60,
            ["request_evidence", "open_claim", "notify_customer"],
            id="rejected",
        ),
        pytest.param(
            "tmall", [(evidence, 1)], 59, ["request_evidence", "open_claim", "escalate"], id="verification overdue"
        ),
        pytest.param(
            "aliexpress",
            [(evidence, 1), (verified, 2, True)],
            59,
            ["request_evidence", "open_claim", "refund", "escalate"],
            id="refund overdue",
        ),
    ],
)
def test_a_second_dispute_gets_every_decision_again_under_its_own_ids(marketplace, steps, until, expected):
    events = [placed(order_id="W1", marketplace=marketplace, amount="200.00"), w1(shipped, S), w1(delivered, D)]
    for start in (OPEN, TWICE):
        events.append(w1(dispute, start, "wrong_item", amount_claimed="50.00"))
        events += [w1(fn, start + days * DAY, *args) for fn, days, *args in steps]
        events.append(w1(closed, start + (until - 1) * DAY))
    actions = [a for a in run(events, until=TWICE + until * DAY) if a.rule == R]
    assert [a.type for a in actions] == expected * 2
    assert len({a.action_id for a in actions}) == len(actions)


@pytest.mark.parametrize(
    ("steps", "until", "expected"),
    [
        pytest.param([(evidence, 1)], 8, ["request_evidence", "open_claim"], id="evidence given: no 'no evidence'"),
        pytest.param(
            [(verified, 1, True)], 8, ["request_evidence", "reissue"], id="verified without evidence: no 'no evidence'"
        ),
        pytest.param(
            [(evidence, 1), (verified, 2, True)],
            60,
            ["request_evidence", "open_claim", "reissue"],
            id="verified: no 'verification overdue'",
        ),
        pytest.param(
            [(evidence, 1), (verified, 2, False), (verified, 3, True)],
            60,
            ["request_evidence", "open_claim", "notify_customer"],
            id="rejected, then approved: the rejection stands",
        ),
        pytest.param(
            [(evidence, 1), (closed, 2), (verified, 3, True)],
            60,
            ["request_evidence", "open_claim"],
            id="a verification after the dispute closed: nothing",
        ),
        pytest.param(
            [(evidence, 1), (evidence, 5)],
            45,
            ["request_evidence", "open_claim", "escalate"],
            id="evidence twice: verification counted from the first",
        ),
    ],
)
def test_the_claim_path_does_not_repeat_or_reopen(steps, until, expected):
    events = order("tmall", "wrong_item", *[w1(fn, OPEN + days * DAY, *args) for fn, days, *args in steps])
    actions = [a for a in run(events, until=OPEN + until * DAY) if a.rule == R]
    assert [a.type for a in actions] == expected
    for a in actions:
        if a.type == "escalate":
            # 30 working days after the first evidence (CN calendar: Qingming 2026-04-06 is off)
            assert a.decided_at == datetime(2026, 4, 20, 10, 0, tzinfo=CST)


def test_a_second_verification_of_a_refunded_claim_is_ignored():
    events = order(
        "aliexpress", "wrong_item", evidence(order_id="W1", at=EVID), verified(True, order_id="W1", at=EVID + DAY)
    )
    events.append(verified(True, order_id="W1", at=EVID + 5 * DAY))
    actions = [a for a in run(events, until=EVID + 60 * DAY) if a.rule == R]
    assert [a.type for a in actions] == ["request_evidence", "open_claim", "refund", "escalate"]
    refund, overdue = actions[2:]
    # the refund is owed 15 working days after the first verification, not the repeat
    assert (refund.decided_at, overdue.decided_at) == (EVID + DAY, refund.due_by)
