"""The fast decoder of inbound events: msgspec structs that mirror the models of `models.events`, field for
field and constraint for constraint, made into the same frozen pydantic objects without validating them again
(`models.unchecked`).

`fast_decoder(...)` gives the function `models.events.parse_event` tries first: it returns the event, or None
when it is not sure. Any record msgspec refuses, and any record outside the plain shape this module is sure
about (a backslash escape, a control or direction character, an amount not written as plain digits, a time
with more than six decimals of a second), goes to pydantic, which decides it and words the refusal exactly as
before. So the fast path only ever says yes, and only to what pydantic accepts, with an object equal to
pydantic's: the same field values and types (Decimal, tuples, the shared `timezone` per offset), the same
defaults, the same `model_fields_set`, the fields in the same order (`tests/unit/test_event_decode_parity.py`).

Why each difference from pydantic is safe:

- Strings: msgspec counts `min_length`/`max_length` in code points, like pydantic. The patterns are checked
  after decoding (`_CONVERT`; msgspec's call into `re` for each field cost more than the rest of the decoding),
  on the whole text (Python's `$` also matches before a final newline; pydantic's Rust regex does not).
- Free text (`FreeText`): pydantic passes it through `models.text.visible`, which escapes control, direction
  and line-separator characters. A record with any of them (or with any backslash, the only way to write a
  control character in JSON) is left to pydantic, so here `visible` would change nothing.
- Times: msgspec reads the RFC 3339 forms pydantic reads (upper or lower case `T`/`Z`, a space, `+0800`) to the
  same value, except that it rounds digits past the microsecond where pydantic drops them: a record with seven
  decimals of anything is left to pydantic. The bounds and the shared zone are `_plausible_time`'s.
- Amounts: pydantic reads any text `Decimal` reads (`1e2`, ` 1`, `+1`, `1_000`) and numbers; here only plain
  `123.45` text with at most 12 whole digits and 2 decimals, which pydantic accepts as `Decimal(text)`.
- Numbers: msgspec takes only JSON integers for `int` (pydantic also takes `2.0` and `"2"`, left to it) and
  JSON numbers for `float`, read to the same nearest double. Booleans only `true`/`false`.
- Duplicate keys: the last wins in both; a duplicated `type` msgspec refuses (pydantic takes the last).
- Unknown keys: refused here (`forbid_unknown_fields`), so pydantic names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType
from pydantic import BaseModel

from models.common import _ZONES, DisputeReason, ShipmentStatus, _plausible_time
from models.unchecked import _new_object, _set_extra, _set_private, interned, set_fields_set

_set_dict = BaseModel.__dict__["__dict__"].__set__

# Lengths and bounds as the models'; the patterns are checked after decoding (`_CONVERT`).
_Id = Annotated[str, Meta(min_length=1, max_length=128)]
_StoreId = Annotated[str, Meta(min_length=1, max_length=64)]
_Marketplace = Annotated[str, Meta(min_length=1, max_length=32)]
_Country = Annotated[str, Meta(min_length=2, max_length=2)]
_Currency = Annotated[str, Meta(min_length=3, max_length=3)]
_Amount = Annotated[str, Meta(min_length=1, max_length=15)]
_Time = Annotated[datetime, Meta(tz=True)]
_Size = Annotated[float, Meta(gt=0, le=10_000)]
_Count = Annotated[int, Meta(ge=1, le=100_000)]
_Text64 = Annotated[str, Meta(max_length=64)]
_Text128 = Annotated[str, Meta(max_length=128)]
_Text200 = Annotated[str, Meta(max_length=200)]
_Text500 = Annotated[str, Meta(max_length=500)]
_Name64 = Annotated[str, Meta(min_length=1, max_length=64)]
_Name128 = Annotated[str, Meta(min_length=1, max_length=128)]
_Party = Literal["supplier", "customer"]
MAX_ITEMS = 500


class _Dimensions(Struct, forbid_unknown_fields=True, gc=False):
    length: _Size
    width: _Size
    height: _Size


class _Item(Struct, forbid_unknown_fields=True, gc=False):
    sku: _Name64
    quantity: _Count
    unit_price: _Amount
    weight_kg: _Size
    dimensions_cm: _Dimensions


class _Buyer(Struct, forbid_unknown_fields=True, gc=False):
    name: Annotated[str, Meta(max_length=200)] | None | UnsetType = UNSET
    phone: Annotated[str, Meta(max_length=64)] | None | UnsetType = UNSET
    email: Annotated[str, Meta(max_length=200)] | None | UnsetType = UNSET
    address: Annotated[str, Meta(max_length=1000)] | None | UnsetType = UNSET


class _Event(Struct, tag_field="type", forbid_unknown_fields=True, gc=False):
    event_id: _Id
    order_id: _Id
    occurred_at: _Time


class _OrderPlaced(_Event, tag="order.placed"):
    store_id: _StoreId
    marketplace: _Marketplace
    origin_country: _Country
    destination_country: _Country
    items: Annotated[list[_Item], Meta(min_length=1, max_length=MAX_ITEMS)]
    amount: _Amount
    currency: _Currency
    ship_by: _Time | None | UnsetType = UNSET
    wholesale: bool | UnsetType = UNSET
    buyer: _Buyer | None | UnsetType = UNSET


class _OrderPaid(_Event, tag="order.paid"):
    pass


class _OrderSupplierOrdered(_Event, tag="order.supplier_ordered"):
    supplier_id: _Text64 | None | UnsetType = UNSET
    cost: _Amount | None | UnsetType = UNSET
    currency: _Currency | None | UnsetType = UNSET


class _OrderOutOfStock(_Event, tag="order.out_of_stock"):
    supplier_id: _Text64 | None | UnsetType = UNSET


class _OrderOversize(_Event, tag="order.oversize"):
    supplier_id: _Text64 | None | UnsetType = UNSET
    detail: _Text200 | None | UnsetType = UNSET


class _OrderSupplierReplied(_Event, tag="order.supplier_replied"):
    supplier_id: _Text64 | None | UnsetType = UNSET
    promised_ship_at: _Time | None | UnsetType = UNSET


class _OrderSupplierUnresponsive(_Event, tag="order.supplier_unresponsive"):
    supplier_id: _Text64 | None | UnsetType = UNSET


class _OrderCancelRequested(_Event, tag="order.cancel_requested"):
    pass


class _OrderAddressInvalid(_Event, tag="order.address_invalid"):
    pass


class _OrderRefunded(_Event, tag="order.refunded"):
    party: _Party
    amount: _Amount
    currency: _Currency
    caused_by: _Text128 | None | UnsetType = UNSET


class _OrderReordered(_Event, tag="order.reordered"):
    supplier_id: _Text64 | None | UnsetType = UNSET
    cost: _Amount | None | UnsetType = UNSET
    currency: _Currency | None | UnsetType = UNSET
    caused_by: _Text128 | None | UnsetType = UNSET


class _OrderReissued(_Event, tag="order.reissued"):
    caused_by: _Text128 | None | UnsetType = UNSET


class _ActionFailed(_Event, tag="action.failed"):
    action_id: _Name128
    action_type: _Name64
    reason: _Text500
    outcome: Literal["rejected", "failed", "dropped"] | None | UnsetType = UNSET


class _ActionHeld(_Event, tag="action.held"):
    action_id: _Name128
    action_type: _Name64
    reason: _Text500
    party: _Party | None | UnsetType = UNSET
    amount: _Amount | None | UnsetType = UNSET
    currency: _Currency | None | UnsetType = UNSET


class _ShipmentUpdate(_Event, tag="shipment.update"):
    carrier: _Name64
    tracking_number: _Name64
    status: ShipmentStatus
    refusal_reason: Literal["damaged", "other"] | None | UnsetType = UNSET


class _ShipmentInterceptResult(_Event, tag="shipment.intercept_result"):
    succeeded: bool


class _DisputeOpened(_Event, tag="dispute.opened"):
    reason: DisputeReason
    amount_claimed: _Amount | None | UnsetType = UNSET
    return_cost: _Amount | None | UnsetType = UNSET
    quantity: _Count | None | UnsetType = UNSET


class _DisputeEvidenceSubmitted(_Event, tag="dispute.evidence_submitted"):
    kind: Literal["photo", "video", "other"] | UnsetType = UNSET


class _DisputeVerified(_Event, tag="dispute.verified"):
    approved: bool


class _DisputeReturnAccepted(_Event, tag="dispute.return_accepted"):
    return_cost: _Amount | None | UnsetType = UNSET


class _DisputeReturnShipped(_Event, tag="dispute.return_shipped"):
    tracking_number: _Text64 | None | UnsetType = UNSET
    return_cost: _Amount | None | UnsetType = UNSET


class _DisputeReturnReceived(_Event, tag="dispute.return_received"):
    pass


class _DisputeClosed(_Event, tag="dispute.closed"):
    outcome: Literal["buyer_won", "seller_won", "withdrawn", "settled"] | UnsetType = UNSET
    seller_cooperated: bool | UnsetType = UNSET


_Wire = (
    _OrderPlaced
    | _OrderPaid
    | _OrderSupplierOrdered
    | _OrderOutOfStock
    | _OrderOversize
    | _OrderSupplierReplied
    | _OrderSupplierUnresponsive
    | _OrderCancelRequested
    | _OrderAddressInvalid
    | _OrderRefunded
    | _OrderReordered
    | _OrderReissued
    | _ActionFailed
    | _ActionHeld
    | _ShipmentUpdate
    | _ShipmentInterceptResult
    | _DisputeOpened
    | _DisputeEvidenceSubmitted
    | _DisputeVerified
    | _DisputeReturnAccepted
    | _DisputeReturnShipped
    | _DisputeReturnReceived
    | _DisputeClosed
)
_EVENTS: tuple[type[_Event], ...] = get_args(_Wire)
_DECODER = msgspec.json.Decoder(_Wire)


class _Unsure(ValueError):
    """The fast path is not sure of a value: pydantic decides the record."""


_UNSURE = _Unsure()


class _Known:
    """A pattern check for fields of few distinct values (stores, marketplaces, countries, currencies): a value
    seen and matched before is looked up (`seen`), not matched again."""

    __slots__ = ("_match", "seen")

    def __init__(self, pattern: str) -> None:
        self._match = re.compile(pattern).fullmatch  # the whole text: no `$` before a final newline
        self.seen: set[str] = set()

    def __call__(self, text: str) -> str:
        if text not in self.seen:
            if self._match(text) is None:
                raise _UNSURE
            if len(self.seen) < 10_000:
                self.seen.add(text)
        return text


_amount_text = re.compile(r"(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,2})?").fullmatch
_AMOUNTS: dict[str, Decimal] = {}


def _amount(text: str) -> Decimal:
    """`Amount` (`ge=0, max_digits=14, decimal_places=2`) of a plain text such as `12.50`, which pydantic makes
    `Decimal(text)`; any other text is left to pydantic. Prices repeat: a `Decimal` is shared (immutable)."""
    amount = _AMOUNTS.get(text)
    if amount is None:
        if _amount_text(text) is None:
            raise _UNSURE
        amount = Decimal(text)
        if len(_AMOUNTS) < 10_000:
            _AMOUNTS[text] = amount
    return amount


_ZONE_OF: dict[tzinfo, tzinfo] = {}
"""Each zone object msgspec gave, to the shared zone of its offset (`models.common._ZONES`)."""


def _time(value: datetime) -> datetime:
    """`models.common._plausible_time` (the bounds, then the shared zone of the offset) without its
    `datetime.replace`, slow, when the value's zone already is the shared one: msgspec gives one zone object
    per offset, and the first one it gives becomes the shared one when pydantic has not made it yet."""
    if 1970 < value.year < 2999:
        tz = value.tzinfo
        zone = _ZONE_OF.get(tz)  # type: ignore[arg-type]  # msgspec's tz=True: aware
        if zone is None and type(tz) is timezone:  # msgspec's: an offset, no name
            zone = _ZONE_OF.setdefault(tz, _ZONES.setdefault(tz.utcoffset(None), tz))
        if zone is tz:
            return value
    return _plausible_time(value)


def _share_zones() -> None:
    """The zones of the usual offsets (quarter hours from -12:00 to +14:00) made msgspec's before any event
    is decoded: otherwise a record pydantic decides first would make the shared zone of its offset, and every
    time msgspec decodes with that offset would be copied to it."""
    for quarters in range(-48, 57):
        sign = "-" if quarters < 0 else "+"
        hours, minutes = divmod(abs(quarters) * 15, 60)
        _time(msgspec.json.decode(f'"2000-01-01T00:00:00{sign}{hours:02d}:{minutes:02d}"', type=datetime))


_share_zones()


def _printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _literals(annotation: Any) -> set[Any]:
    origin = get_origin(annotation)
    if origin is Literal:
        return set(get_args(annotation))
    if origin is Annotated:
        return _literals(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return set().union(*map(_literals, get_args(annotation)))
    return set()


def _check_mirror(model: type[BaseModel], wire: type[Struct]) -> None:
    """The struct has the model's fields (but `type`, its tag), optional where the model's are, with the same
    literal values."""
    hints = get_type_hints(wire, include_extras=True)
    fields = {field.name: field for field in msgspec.structs.fields(wire)}
    expected = {name: field for name, field in model.model_fields.items() if name != "type"}
    if set(fields) != set(expected):
        raise TypeError(f"{wire.__name__} has not the fields of {model.__name__}")
    for name, field in expected.items():
        if fields[name].required != field.is_required() or _literals(hints[name]) != _literals(field.annotation):
            raise TypeError(f"{wire.__name__}.{name} does not mirror {model.__name__}.{name}")


def _checked(var: str, name: str, check: Callable[[Any], Any], scope: dict[str, Any]) -> list[str]:
    """Lines that check or convert `var` with `check` (in `scope` as `name`), the usual case written out: a
    call costs more than most checks."""
    if isinstance(check, _Known):
        scope[f"{name}_seen"] = check.seen
        return [f"if {var} not in {name}_seen:", f"    {name}({var})"]
    if check is _amount:
        scope["amounts"] = _AMOUNTS
        return [f"a = amounts.get({var})", f"{var} = {name}({var}) if a is None else a"]
    if check is _time:
        scope["zone_of"] = _ZONE_OF
        return [
            f"if not 1970 < {var}.year < 2999 or zone_of.get({var}.tzinfo) is not {var}.tzinfo:",
            f"    {var} = {name}({var})",
        ]
    return [f"{var} = {name}({var})"]


def _maker(model: type[BaseModel], wire: type[Struct], convert: dict[str, Callable[[Any], Any]]) -> Any:
    """The function that makes `model`, unvalidated (`models.unchecked`), of a decoded `wire` struct: written
    for the type as straight-line code (a loop over the fields took twice as long). Every field in the model's
    order; an absent optional one gets the model's default and stays out of `model_fields_set`, as in
    pydantic; `convert` names the fields whose value is checked or converted (absent and null values are not).

    An event's maker takes `plain` too: the record is printable ASCII without a backslash, so an id
    (`^[\\x21-\\x7e]+$`) only has to have no space."""
    names = list(model.model_fields)
    event = "type" in names
    _check_mirror(model, wire)
    scope: dict[str, Any] = {
        "UNSET": UNSET,
        "UNSURE": _UNSURE,
        "printable_ascii": _printable_ascii,
        "model": model,
        "new": _new_object,
        "set_dict": _set_dict,
        "set_fields_set": set_fields_set,
        "set_extra": _set_extra,
        "set_private": _set_private,
    }
    if event:
        if names[:4] != ["event_id", "order_id", "occurred_at", "type"]:
            raise TypeError(f"{model.__name__} does not start with the fields every event has")
        lines = [
            "def make(w, plain):",
            "    e = w.event_id",
            "    o = w.order_id",
            '    if " " in e or " " in o or not (plain or printable_ascii(e) and printable_ascii(o)):',
            "        raise UNSURE",
            "    t = w.occurred_at",
            *("    " + line for line in _checked("t", "time", _time, scope)),
        ]
        values = ['"event_id": e', '"order_id": o', '"occurred_at": t']
        values.append(f'"type": {model.model_fields["type"].default!r}')
        scope["time"] = _time
        rest = names[4:]
    else:
        lines, values, rest = ["def make(w):"], [], names
    lines.append("    key = 0")
    optional: list[str] = []
    for number, name in enumerate(rest):
        field = model.model_fields[name]
        check = convert.get(name)
        if check is not None:
            scope[f"c{number}"] = check
        if field.is_required():
            if check is None:
                values.append(f'"{name}": w.{name}')
            else:
                lines.append(f"    v{number} = w.{name}")
                lines += ["    " + line for line in _checked(f"v{number}", f"c{number}", check, scope)]
                values.append(f'"{name}": v{number}')
            continue
        scope[f"d{number}"] = field.get_default()
        lines += [
            f"    v{number} = w.{name}",
            f"    if v{number} is UNSET:",
            f"        v{number} = d{number}",
            "    else:",
            f"        key |= {1 << len(optional)}",
        ]
        if check is not None:
            lines.append(f"        if v{number} is not None:")
            lines += ["            " + line for line in _checked(f"v{number}", f"c{number}", check, scope)]
        values.append(f'"{name}": v{number}')
        optional.append(name)
    required = [name for name in names if name not in optional]
    scope["sets"] = [
        interned({*required, *(name for bit, name in enumerate(optional) if key >> bit & 1)})
        for key in range(1 << len(optional))
    ]
    lines += [
        "    made = new(model)",
        "    set_dict(made, {" + ", ".join(values) + "})",
        "    set_fields_set(made, sets[key])",
        "    set_extra(made, None)",
        "    set_private(made, None)",
        "    return made",
    ]
    exec("\n".join(lines), scope)  # noqa: S102  # the text above, of the models' own field names
    return scope["make"]


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "ship_by": _time,
    "promised_ship_at": _time,
    "store_id": _Known(r"[A-Za-z0-9_.-]+"),
    "marketplace": _Known(r"[a-z0-9_-]+"),
    "origin_country": _Known(r"[A-Z]{2}"),
    "destination_country": _Known(r"[A-Z]{2}"),
    "currency": _Known(r"[A-Z]{3}"),
    "amount": _amount,
    "cost": _amount,
    "amount_claimed": _amount,
    "return_cost": _amount,
}
"""How an event field's decoded value becomes the model's, by name (a name has the same type in every event):
checked against the pattern msgspec does not check, or converted; any other field is the model's value as
msgspec decoded it (`items` and `buyer` are made by `fast_decoder`). Free text needs no `visible`: a record
with anything it would change goes to pydantic."""

_seven_decimals = re.compile(rb"\.[0-9]{7}").search
_unsafe_utf8 = re.compile(
    rb"[\\\x00-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xef\xbb\xbf"
).search


def fast_decoder(
    events: Iterable[type[BaseModel]],
    *,
    item: type[BaseModel],
    dimensions: type[BaseModel],
    buyer: type[BaseModel],
    max_items: int,
) -> Callable[[bytes | str], BaseModel | None]:
    """The fast decoder of `events` (the models of `models.events`, each with its `type` tag; an item, its
    dimensions and a buyer are `item`, `dimensions` and `buyer`): a function that returns the event of a wire
    record, or None when pydantic has to decide it (see the module's doc)."""
    if max_items != MAX_ITEMS:
        raise TypeError(f"an order has at most {max_items} items, not {MAX_ITEMS}")
    make_dimensions = _maker(dimensions, _Dimensions, {})
    make_item = _maker(item, _Item, {"unit_price": _amount, "dimensions_cm": make_dimensions})

    def items(decoded: list[_Item]) -> tuple[BaseModel, ...]:
        return tuple(map(make_item, decoded))

    convert = {**_CONVERT, "items": items, "buyer": _maker(buyer, _Buyer, {})}
    structs = {struct.__struct_config__.tag: struct for struct in _EVENTS}
    makers: dict[type[Struct], Callable[[Any, bool], BaseModel]] = {}
    for model in events:
        struct = structs.pop(model.model_fields["type"].default)
        makers[struct] = _maker(model, struct, convert)
    if structs:
        raise TypeError(f"no model for {sorted(map(str, structs))}")
    decode_struct = _DECODER.decode

    def decode(raw: bytes | str) -> BaseModel | None:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")  # a lone surrogate: not UTF-8, msgspec refuses it
        plain = raw.isascii()
        if plain:
            if 92 in raw or 127 in raw:  # a backslash, DEL (`b"\\" in raw` is four times slower)
                return None
        elif _unsafe_utf8(raw) is not None:
            return None
        if _seven_decimals(raw) is not None:
            return None
        try:
            struct = decode_struct(raw)
            return makers[type(struct)](struct, plain)
        except Exception:  # msgspec's errors (UTF-8 too), a check above, a time out of bounds; or unforeseen
            return None  # pydantic decides

    return decode
