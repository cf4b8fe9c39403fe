"""The stored order state (`streams.worker.codec`): version 1 (compressed, tagged) round-trips; version 0 (the plain
JSON stored before) and a version 1 written by this release still decode; a state of an unknown version or a
truncated one is refused; the shortcuts that build states without validation build the same models."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from models.events import parse_event
from models.policy_file import load_policy
from models.state import ORDER_STATE_ADAPTER, Deadline, Decided, OrderState
from rules.engine import handle_event
from streams.offline.replay import Replayer
from streams.worker.codec import V1, decode_state, encode_state, encode_state_json
from streams.worker.state_dictionary import STATE_DICTIONARY_V1, STATE_DICTIONARY_V1_SHA256

DAY = Path(__file__).resolve().parents[2] / "streams" / "samples" / "day.jsonl"

# Written by postsale before the compact encoding (pydantic JSON, defaults left out): an order of
# streams/samples/day.jsonl with a closed dispute and a confirmed customer refund.
OLD_JSON = (
    b'{"order_id":"store-sz-02-11-0000050","store_id":"store-sz-02","marketplace":"aliexpress","origin_cou'
    b'ntry":"CN","destination_country":"ES","amount":"23.67","currency":"USD","placed_at":"2026-11-12T03:2'
    b'6:48+08:00","placed_by":"evt-store-sz-02-11-0000050-01","ship_by":"2026-11-15T03:26:48+08:00","units'
    b'":2,"supplier_ordered":true,"supplier_cost":"15.39","supplier_currency":"USD","shipped_at":"2026-11-'
    b'14T00:32:53+08:00","last_status":"in_transit","dispute":{"seq":1,"reason":"in_transit","rule":"dispu'
    b'te_reasons","opened_at":"2026-12-17T02:04:14+08:00","opened_by":"evt-store-sz-02-11-0000050-07","sta'
    b'tus":"closed"},"disputes_opened":1,"dispute_days":["2026-12-16"],"customer_refunds":[{"cause":"dispu'
    b'te-1","amount":"23.67","action_id":"act-93ec4019c35f37fbd554ab2d","confirmed":true}],"refunds_done":'
    b'"23.67","decided":[{"action_id":"act-93ec4019c35f37fbd554ab2d","type":"refund","rule":"dispute_reaso'
    b'ns","decided_at":"2026-12-17T02:04:14+08:00","policy_version":"2026.11-default","caused_by":["evt-st'
    b'ore-sz-02-11-0000050-07"],"reason":"parcel still not delivered 30 days after shipment: refund the cu'
    b'stomer within 15 working days (by 2027-01-08T02:04+08:00)"}],"seen":[1154943407796312876,43727923524'
    b"70305217,12713704881093582534,9577046019550562581,5677639510411006122,7526453379096940943,4635376863"
    b"54923645,13272604938706423178,11416138038561617364]}"
)

# The same state as this release stores it (version 1), pinned: a later release must still read it.
V1_HEX = (
    "01ad99cd4e023114855f65c2cac5483abdd396b2f70ddc1301279218518971e1cbfbdd69199c1f11a32b08d3694b7b7aeee9"
    "391338495806732c298b3a89937fe6f29b3e97cbdc07d6e1322eb7b74696d6ff1c160dffd7245412fd8d7afc7d5854b9b9c4"
    "6fa0922ad3182a3a78ad89810055b9042adbdde1f98d1ab0fc00352f3375163bd2e9612ad3626ebf4a8dda928b3aed73a3cd"
    "2e0b90fd62c3e77683e3375e53ddb80ed69bc73d6c89d69be5810fabd44f3bd3e364d4c3533a4d5cc7f05ec9f3c8e9cc759c"
    "48e557aff5b09f3440c6cdb08c44b9df9058c48db84642b3de2278eed65665259e60733e94b2b9d37375eacc009debd53709"
    "c7fb3051a4a637e2af45ea74b0877948d6aa9039354a457e77f32fc41403a755e3a4c978a4401a3cec9e8aca15effbd756bc"
    "b6af5ea56a468d8459f0b56da7c4fbd6175655aca536b8585e88e2822f6bc105c3eac2bc0a468cb315218b0d158abae6c260"
    "a2721f8c564617f8895b59c4d372deba4555a22188540846340881ffc84bcae090c6c8615215789578a596126fd709e29c0f"
    "6853785e5682f9e6c95364110c1c8afda692b8c67a938511d430df702490c49f"
)


# SHA-256 of the stored form (version 1) of every state the engine decides over streams/samples/day.jsonl, in
# order, as written by the engine that copied the order at every step (before it changed its own copy in
# place): states already in tables and changelogs and the states written now are one format, byte for byte.
DAY_STATES_V1_SHA256 = "c65308f3a40990656fc69118f3abdca74ddef773d0831dbb0598d7ff1d6ebe8f"


def _day_states() -> list[OrderState]:
    """Every state the engine produces over the sample day, one per event (orders at every stage)."""
    policy = load_policy()
    orders: dict[str, OrderState] = {}
    states = []
    for line in DAY.read_bytes().splitlines():
        if not line.strip():
            continue
        event = parse_event(line)
        decision = handle_event(orders.get(event.order_id), event, policy)
        if decision.state is not None:
            orders[event.order_id] = decision.state
            states.append(decision.state)
    return states


def test_every_state_of_the_sample_day_round_trips_in_version_1() -> None:
    states = _day_states()
    assert len(states) > 400
    for state in states:
        stored = encode_state(state)
        assert stored[0] == V1
        assert decode_state(stored) == state
        assert ORDER_STATE_ADAPTER.dump_json(decode_state(stored)) == ORDER_STATE_ADAPTER.dump_json(state)


def test_every_state_of_the_sample_day_is_stored_as_the_engine_before_stored_it() -> None:
    states = _day_states()
    digest = hashlib.sha256()
    for state in states:  # encoded after the whole day: a state changed after it was returned would show
        digest.update(encode_state(state))
    assert len(states) == 486
    assert digest.hexdigest() == DAY_STATES_V1_SHA256


def test_version_1_is_much_smaller_than_the_json_it_replaces() -> None:
    replayer = Replayer(load_policy())
    for line in DAY.read_bytes().splitlines():
        if line.strip():
            replayer.feed(parse_event(line))
    open_states = list(replayer.orders.values())
    old = sum(len(encode_state_json(s)) for s in open_states)
    new = sum(len(encode_state(s)) for s in open_states)
    assert new / len(open_states) <= 1024
    assert new * 3 < old


def test_a_state_stored_before_the_upgrade_still_decodes() -> None:
    state = decode_state(OLD_JSON)
    assert state.order_id == "store-sz-02-11-0000050"
    assert state.dispute is not None and state.dispute.status == "closed"
    assert state.customer_refunds[0].confirmed
    assert encode_state_json(state) == OLD_JSON  # nothing lost: it would be stored again as it was
    assert decode_state(encode_state(state)) == state  # and is rewritten in version 1 at its next change


def test_the_old_json_is_what_the_engine_decides_today() -> None:
    expected = {s.order_id: s for s in _day_states()}["store-sz-02-11-0000050"]
    assert decode_state(OLD_JSON) == expected


def test_a_version_1_state_written_by_this_release_decodes() -> None:
    assert decode_state(bytes.fromhex(V1_HEX)) == decode_state(OLD_JSON)


def test_the_dictionary_of_version_1_never_changes() -> None:
    assert hashlib.sha256(STATE_DICTIONARY_V1).hexdigest() == STATE_DICTIONARY_V1_SHA256
    assert STATE_DICTIONARY_V1_SHA256 == "cbbc6606904935ee0d75cb344a40102c6de2796bca4b4196a314f4f9228eaa59"


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        (b"", ValueError, "empty"),
        (bytes([2]) + b"whatever", ValueError, "unknown encoding version 2"),
        (bytes.fromhex(V1_HEX)[:40], ValueError, "truncated"),
        (b"{not json", ValidationError, "Invalid JSON"),
        (b"[]", ValidationError, "OrderState"),
    ],
)
def test_a_bad_stored_state_is_refused_with_its_reason(raw: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        decode_state(raw)


# The fields an order's state takes from its order.placed: what OrderState.of is given for a new order.
PLACED_FIELDS = (
    "order_id",
    "store_id",
    "marketplace",
    "origin_country",
    "destination_country",
    "amount",
    "currency",
    "placed_at",
    "placed_by",
    "ship_by",
)


def test_states_built_without_validation_equal_validated_ones() -> None:
    for state in _day_states():
        again = ORDER_STATE_ADAPTER.validate_json(ORDER_STATE_ADAPTER.dump_json(state))
        assert again == state
        assert ORDER_STATE_ADAPTER.dump_json(again) == ORDER_STATE_ADAPTER.dump_json(state)
        assert list(again.__dict__) == list(state.__dict__)  # the same field order (reprs, dumps)
        for d in state.deadlines:
            assert Deadline.of(d.due, d.rule, d.key, d.caused_by) == Deadline(
                due=d.due, rule=d.rule, key=d.key, caused_by=d.caused_by
            )
        for x in state.decided:
            built = Decided.of(x.action_id, x.type, x.rule, x.decided_at, x.policy_version, x.caused_by, x.reason)
            assert built == Decided.model_validate(x.model_dump())
    placed = {k: getattr(state, k) for k in PLACED_FIELDS}
    fresh = OrderState.of(**placed)
    assert fresh == OrderState(**placed)
    assert fresh.evolve(units=3).units == 3 and fresh.units == 1


def test_event_times_share_one_tzinfo_per_offset() -> None:
    a, b = (parse_event(line) for line in DAY.read_bytes().splitlines()[:2])
    assert a.occurred_at.utcoffset() == b.occurred_at.utcoffset() == timedelta(hours=8)
    assert a.occurred_at.tzinfo is b.occurred_at.tzinfo
