"""How an order's state is stored in a table: compact JSON bytes (pydantic's encoder, no None fields)."""

from __future__ import annotations

from models.state import ORDER_STATE_ADAPTER, OrderState


def encode_state(state: OrderState) -> bytes:
    return ORDER_STATE_ADAPTER.dump_json(state, exclude_defaults=True)


def decode_state(raw: bytes) -> OrderState:
    return ORDER_STATE_ADAPTER.validate_json(raw)
