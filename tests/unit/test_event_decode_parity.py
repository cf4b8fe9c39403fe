"""`parse_event` (msgspec, pydantic for what it is not sure of) against `validate_event` (pydantic alone): on
every sample line and on sample events bent out of shape, both accept with the same object (type, value, the
types of the values, `model_fields_set` at every level, the order of the fields) or both refuse with the same
`validation_reason`. The fast path never accepts what pydantic refuses, nor makes a different object."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from models import common
from models.events import EVENT_TYPES, Event, OrderPlaced, _fast_decode, parse_event, validate_event, validation_reason
from tests.sample_events import EXECUTOR_EVENTS, SAMPLE, SAMPLE_LINES

_BEYOND_SAMPLE = [  # the executor's two types, and a placed order with a buyer (the sample's have none)
    *EXECUTOR_EVENTS,
    {"event_id": "e-buyer", "order_id": "o-buyer", "type": "order.placed", "occurred_at": "2026-11-11T10:00:00Z",
     "store_id": "store-hz-01", "marketplace": "tmall", "origin_country": "CN", "destination_country": "CN",
     "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "1.50", "weight_kg": 1,
                "dimensions_cm": {"length": 1, "width": 2.5, "height": 3}}],
     "amount": "3.00", "currency": "CNY", "ship_by": "2026-11-12T10:00:00+08:00", "wholesale": False,
     "buyer": {"name": "Zhang Wei", "email": None}},
]  # fmt: skip
EVENTS = [*SAMPLE, *_BEYOND_SAMPLE]
EXAMPLES = int(os.environ.get("POSTSALE_PARITY_EXAMPLES", "300"))
"""Examples per generated test (a few seconds in all); set more to search longer locally."""
PARITY = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
ONE_OF_EACH_TYPE = list({event["type"]: event for event in EVENTS}.values())


def _shape(value: Any) -> Any:
    """Everything about a decoded value that code downstream could see."""
    if isinstance(value, BaseModel):
        return (
            type(value).__name__,
            sorted(value.model_fields_set),
            [(name, _shape(field)) for name, field in value.__dict__.items()],
            value.__pydantic_extra__,
            value.__pydantic_private__,
        )
    if isinstance(value, tuple | list):
        return (type(value).__name__, [_shape(v) for v in value])
    if isinstance(value, datetime):
        zone = value.tzinfo
        assert zone is not None
        # the shared zone of its offset, as `models.common._plausible_time` makes it
        return ("datetime", value.isoformat(), type(zone).__name__, zone is common._ZONES[zone.utcoffset(None)])
    return (type(value).__name__, repr(value))


def _outcome(decode: Any, raw: bytes | str) -> tuple[str, Any]:
    try:
        event = decode(raw)
    except ValidationError as exc:
        return "refused", validation_reason(exc)
    assert isinstance(event, BaseModel)
    return "accepted", (_shape(event), event.model_dump(), repr(event), event.model_dump_json())


def assert_same(raw: bytes) -> tuple[str, Any]:
    """The same outcome from both decoders, for the record as bytes (Kafka's) and as text."""
    fast, slow = _outcome(parse_event, raw), _outcome(validate_event, raw)
    assert fast == slow, raw
    text = raw.decode("utf-8", "surrogateescape")
    assert _outcome(parse_event, text) == _outcome(validate_event, text), raw
    return fast


def test_every_type_is_covered() -> None:
    assert {event["type"] for event in ONE_OF_EACH_TYPE} == set(EVENT_TYPES)


@pytest.mark.parametrize("number", range(len(SAMPLE_LINES)))
def test_every_sample_line_decodes_alike_and_fast(number: int) -> None:
    raw = SAMPLE_LINES[number]
    assert assert_same(raw)[0] == "accepted"
    assert _fast_decode(raw) is not None  # the fast path itself, not pydantic behind it


def test_the_executors_events_and_a_buyer_decode_fast() -> None:
    for event in _BEYOND_SAMPLE:
        raw = json.dumps(event).encode()
        assert assert_same(raw)[0] == "accepted"
        assert _fast_decode(raw) is not None


def test_a_copy_with_changes_leaves_the_shared_fields_set_alone() -> None:
    """The fast path shares one `model_fields_set` per combination of fields (`models.unchecked.interned`);
    pydantic's `model_copy(update=...)` copies it before adding to it, as the engine does with an event's time."""
    first, second = (parse_event(SAMPLE_LINES[0]), parse_event(SAMPLE_LINES[0].replace(b"-01", b"-02", 1)))
    assert first.model_fields_set is second.model_fields_set
    before = set(first.model_fields_set)
    copied = first.model_copy(update={"ship_by": first.occurred_at})
    assert "ship_by" in copied.model_fields_set
    assert first.model_fields_set == second.model_fields_set == before


@pytest.mark.parametrize("offset", ["+05:17", "-07:43"])
def test_an_offset_pydantic_met_first_gets_its_shared_zone(offset: str) -> None:
    """An unusual offset whose shared zone pydantic made (a record it decided, a stored state): the fast path's
    times of that offset carry that same zone object, as pydantic's do."""
    paid = next(e for e in ONE_OF_EACH_TYPE if e["type"] == "order.paid")
    slow = validate_event(json.dumps({**paid, "occurred_at": f"2026-11-11T10:00:00{offset}"}))
    raw = json.dumps({**paid, "occurred_at": f"2026-11-12T10:00:00{offset}"}).encode()
    fast = _fast_decode(raw)
    assert fast is not None
    assert fast.occurred_at.tzinfo is slow.occurred_at.tzinfo  # type: ignore[attr-defined]
    assert_same(raw)


def test_text_beyond_ascii_decodes_fast() -> None:
    """A buyer's name in Chinese, an accent in a carrier's message: still the fast path, the same object."""
    placed = {**_BEYOND_SAMPLE[2], "buyer": {"name": "张伟", "address": "上海市浦东新区"}}
    oversize = next(e for e in ONE_OF_EACH_TYPE if e["type"] == "order.oversize")
    for event in (placed, {**oversize, "detail": "colis refusé: trop lourd"}):
        raw = json.dumps(event, ensure_ascii=False).encode()
        assert assert_same(raw)[0] == "accepted"
        assert _fast_decode(raw) is not None


def test_what_visible_would_change_is_left_to_pydantic() -> None:
    oversize = next(e for e in ONE_OF_EACH_TYPE if e["type"] == "order.oversize")
    for detail in ["\x1b[2J", "a\nb", "\u202eevil", "\u2028", "\x85", "\x7f", "\ufeff"]:
        for ensure_ascii in (True, False):
            raw = json.dumps({**oversize, "detail": detail}, ensure_ascii=ensure_ascii).encode()
            assert _fast_decode(raw) is None
            assert assert_same(raw)[0] == "accepted"


# Values that sit on an edge of some field's rules, or that msgspec and pydantic read differently.
EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 2, 1.0, 1.5, -0.0, 1e-9, 10_000, 10_000.0, 10_000.000001, 100_000, 100_001,
    2**63, 2**64, -(2**63) - 1, 10**30, [], {}, [1], {"a": 1},
    "", " ", "x", "5", "1.0", "true", "null", "x" * 63, "x" * 64, "x" * 65, "x" * 127, "x" * 128, "x" * 129,
    "x" * 200, "x" * 201, "x" * 500, "x" * 501, "x" * 1001, "a b", "a\n", "\n", "\t", "tab\tbed", "\x1b[2J",
    "\x7f", "\x85", "\u061c", "\u200e", "\u2028", "\u202e", "\u2066", "\ufeff", "é", "中文", "\U0001f600",
    "e\u0301", "\ud800", "CN", "cn", "C", "CNN", "USD", "usd", "US", "tmall", "TMall", "1688", "a-b_c", "a.b",
    "supplier", "customer", "photo", "other", "settled", "buyer_won", "in_transit", "delivered", "damaged",
    "0", "0.0", "0.00", "0.001", "1.10", "4.21", "007", "-1", "-0", "+1", " 1", "1 ", "1.", ".5", "1e2", "1E+2",
    "1_000", "NaN", "Infinity", "999999999999.99", "1000000000000", "9999999999999.9", "０",
    "2026-11-11T10:00:00+08:00", "2026-11-11T10:00:00", "2026-11-11T10:00:00Z", "2026-11-11t10:00:00z",
    "2026-11-11 10:00:00+08:00", "2026-11-11T10:00:00+0800", "2026-11-11T10:00+08:00", "2026-11-11",
    "2026-11-11T10:00:00.1234567Z", "2026-11-11T10:00:00.9999995Z", "2026-11-11T10:00:00.123456+05:45",
    "2026-11-11T10:00:00,5Z", "2026-11-11T10:00:60Z", "2026-11-11T24:00:00Z", "2026-02-29T10:00:00Z",
    "2026-11-11T10:00:00+24:00", "2026-11-11T10:00:00+23:59", "2026-11-11T10:00:00-00:00",
    "1970-01-01T00:00:00+00:01", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59-00:01", "2999-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z", "3000-01-01T00:00:00+00:01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
    "1700000000", 1_700_000_000, 1_700_000_000.5,
]  # fmt: skip
FIELD_NAMES = sorted({name for event in EVENTS for name in event} | {"wholesale", "buyer", "kind", "quantity"})
edges = st.sampled_from(EDGES)
texts = st.text(max_size=70) | st.text(alphabet=st.characters(codec="ascii"), max_size=140)
values = st.one_of(edges, texts, st.integers(), st.floats(), st.booleans(), st.none())
TIME = (
    r"\A[0-9]{4}-[01][0-9]-[0-3][0-9]([Tt ]([0-2][0-9]:[0-5][0-9](:[0-6][0-9]([.,][0-9]{1,10})?)?)?)?"
    r"([Zz]|[+-][0-2][0-9](:?[0-5][0-9](:[0-5][0-9])?)?)?\Z"
)
LITERALS = [
    "supplier", "customer", "rejected", "failed", "dropped", "damaged", "other", "photo", "video", "buyer_won",
    "seller_won", "withdrawn", "settled", "info_received", "in_transit", "delivered", "delivery_refused",
    "customs_hold", "expired", "quality", "buyer_remorse", "misuse", "wrong_item", "CN", "US", "DE", "CNY", "USD",
    "EUR", "tmall", "1688", "shopify", "refund", "reorder",
]  # fmt: skip
_KIND_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "time": st.from_regex(TIME, fullmatch=True) | st.datetimes().map(lambda t: t.isoformat() + "+08:00"),
    "amount": st.from_regex(r"\A[-+ ]?[0-9]{0,14}(\.[0-9]{0,4})?\Z", fullmatch=True)
    | st.decimals(min_value=-1, max_value=10**13, places=2).map(str)
    | st.integers(min_value=-1, max_value=10**13),
    "size": st.floats(min_value=-1, max_value=10_001) | st.integers(min_value=-1, max_value=10_001),
    "count": st.integers(min_value=-1, max_value=100_001) | st.sampled_from([1.0, 2.0, "3", True]),
    "flag": st.booleans() | st.sampled_from([0, 1, "true", "false", None]),
    "id": st.from_regex(r"\A[\x20-\x7e]{0,130}\Z", fullmatch=True) | texts,
    "word": st.sampled_from(LITERALS) | st.from_regex(r"\A[A-Za-z0-9_.-]{0,70}\Z", fullmatch=True),
}
_KINDS = {
    "time": ["occurred_at", "ship_by", "promised_ship_at"],
    "amount": ["amount", "cost", "amount_claimed", "return_cost", "unit_price"],
    "size": ["weight_kg", "length", "width", "height"],
    "count": ["quantity"],
    "flag": ["wholesale", "succeeded", "approved", "seller_cooperated"],
    "id": ["event_id", "order_id", "action_id", "action_type", "caused_by", "supplier_id", "sku", "carrier",
           "tracking_number", "detail", "reason", "name", "phone", "email", "address"],
    "word": ["store_id", "marketplace", "origin_country", "destination_country", "currency", "status", "reason",
             "outcome", "kind", "party", "refusal_reason", "type"],
}  # fmt: skip


def values_for(name: str) -> st.SearchStrategy[Any]:
    """Mostly values of the field's own kind (most of them valid, or nearly), sometimes anything."""
    own = [_KIND_VALUES[kind] for kind, names in _KINDS.items() if name in names]
    return st.one_of(*own, *own, *own, values) if own else values


MODELS: dict[str, type[BaseModel]] = {
    model.model_fields["type"].default: model for model in get_args(get_args(Event)[0])
}


@st.composite
def bent_events(draw: st.DrawFn) -> dict[str, Any]:
    """A sample event with a field or two (or its items', its buyer's) dropped, changed or added: mostly a
    field of its own with a value of the field's kind, sometimes anything."""
    event = json.loads(json.dumps(draw(st.sampled_from(ONE_OF_EACH_TYPE))))
    model = MODELS[event["type"]]
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        target, own = event, list(model.model_fields)
        if len(own) > 4 and draw(st.integers(0, 3)):
            own = own[4:]  # the type's own fields more often than the four every event has
        where = draw(st.integers(0, 5))
        if model is OrderPlaced and where <= 2 and isinstance(event.get("items"), list) and event["items"]:
            target, own = event["items"][0], ["sku", "quantity", "unit_price", "weight_kg", "dimensions_cm"]
            if where == 0 and isinstance(target.get("dimensions_cm"), dict):
                target, own = target["dimensions_cm"], ["length", "width", "height"]
        elif model is OrderPlaced and where == 3 and isinstance(event.get("buyer", {}), dict):
            target, own = event.setdefault("buyer", {}), ["name", "phone", "email", "address"]
        how = draw(st.sampled_from(["drop", "change", "change", "change", "add"]))
        if how == "drop" and target and (draw(st.integers(0, 9)) == 0 or set(target) - {"type"}):
            del target[draw(st.sampled_from(sorted(set(target) - {"type"}) or ["type"]))]
        else:
            names = own if how == "change" else [*FIELD_NAMES, "shipby", "Items", "x y", "\x1b", "name", "phone"]
            name = draw(st.sampled_from(names))
            if name == "type":
                target[name] = draw(st.sampled_from(EVENT_TYPES)) if draw(st.integers(0, 3)) else draw(values)
            else:
                target[name] = draw(values_for(name))
    if draw(st.integers(0, 9)) == 0 and isinstance(event.get("items"), list) and event["items"]:
        event["items"] = event["items"] * draw(st.sampled_from([2, 500, 501]))
    return event


def _raw(event: dict[str, Any], how: str) -> bytes:
    if how == "ascii":
        return json.dumps(event).encode()
    if how == "utf8":
        return json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(event, separators=(",", ":")).encode()


@PARITY
@given(bent_events(), st.sampled_from(["ascii", "utf8", "compact"]))
def test_bent_events_decode_alike(event: dict[str, Any], how: str) -> None:
    raw = _raw(event, how)
    outcome = assert_same(raw)[0]
    label(f"{outcome}, {'fast' if _fast_decode(raw) is not None else 'by pydantic'}")


@PARITY
@given(
    st.sampled_from(ONE_OF_EACH_TYPE),
    st.from_regex(TIME, fullmatch=True),
)
def test_event_times_decode_alike(event: dict[str, Any], when: str) -> None:
    assert_same(json.dumps({**event, "occurred_at": when}).encode())


@PARITY
@given(
    st.sampled_from([e for e in ONE_OF_EACH_TYPE if e["type"] == "order.placed"]),
    st.sampled_from(["weight_kg", "length", "width", "height"]),
    st.floats(min_value=0, max_value=20_000) | st.integers(min_value=-1, max_value=20_000),
    st.sampled_from(["{!r}", "{:.17g}", "{:e}", "{:.3f}", "{}E0"]),
)
def test_sizes_decode_alike(event: dict[str, Any], field: str, number: float, form: str) -> None:
    """The same double from the same text, whatever way a producer writes the number."""
    text = form.format(number)
    item = dict(event["items"][0])
    marker = "123456.789012"  # written in place of the number, then replaced by its text
    if field == "weight_kg":
        item["weight_kg"] = float(marker)
    else:
        item["dimensions_cm"] = {**item["dimensions_cm"], field: float(marker)}
    raw = json.dumps({**event, "items": [item]}).replace(marker, text).encode()
    assert_same(raw)


@PARITY
@given(st.sampled_from(ONE_OF_EACH_TYPE), st.data())
def test_bent_bytes_decode_alike(event: dict[str, Any], data: st.DataObject) -> None:
    """Duplicate keys, escapes, bytes that are not UTF-8, whitespace, cut records."""
    raw = json.dumps(event).encode()
    how = data.draw(st.sampled_from(["duplicate", "duplicate type", "escape", "byte", "space", "cut", "bom"]))
    if how.startswith("duplicate"):
        key = "type" if how == "duplicate type" else data.draw(st.sampled_from(sorted(event)))
        value = data.draw(st.sampled_from([event[key], *EVENT_TYPES]) | values)
        extra = json.dumps({key: value})[1:-1].encode()
        raw = raw[:1] + extra + b", " + raw[1:] if data.draw(st.booleans()) else raw[:-1] + b", " + extra + b"}"
    elif how == "escape":
        raw = raw.replace(b"-", b"\\u002d", 1).replace(b"e", b"\\u0065", 1)
    elif how == "byte":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=3)) + raw[at:]
    elif how == "space":
        raw = raw.replace(b", ", b" ,\n\t ") if data.draw(st.booleans()) else b"  " + raw + b"\r\n"
    elif how == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw = b"\xef\xbb\xbf" + raw
    assert_same(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b'"order.paid"',
        b"{}",
        b'{"type": "order.teleported"}',
        b'{"type": null}',
        b'{"type": "order.paid"}',
        b'{"event_id": "e", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z"}',
        b'{"event_id": "e", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z", "type": "order.paid"} x',
        b'{"event_id": "e", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z", "type": "order.paid",}',
        b'{"event_id": "e", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z", "type": "order.paid"}',
        b'{"event_id": "e", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z", "type": "order.paid", '
        b'"type": "dispute.verified", "approved": true}',
        b'{"event_id": "e\\u0020", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z", "type": "order.paid"}',
        b'{"event_id": "e\x7f", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z", "type": "order.paid"}',
        b'{"event_id": "\xc3\xa9", "order_id": "o", "occurred_at": "2026-11-11T10:00:00Z", "type": "order.paid"}',
    ],
)
def test_odd_records_decode_alike(raw: bytes) -> None:
    assert_same(raw)


def test_a_record_over_the_size_limit_is_refused_alike() -> None:
    event = {**ONE_OF_EACH_TYPE[0], "padding": "x" * 300_000}
    assert assert_same(json.dumps(event).encode())[0] == "refused"
