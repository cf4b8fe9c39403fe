"""How an order's state is stored in a table: compact, version-tagged bytes.

Version 1: the byte 0x01, then pydantic's JSON of the state (defaults left out) compressed with raw deflate
(8 KiB window, level 2) primed with a preset dictionary (`streams.worker.state_dictionary`): the field names,
rule names, action types and reason texts that every state repeats cost a few bits each (sizes in
docs/performance.md, "State per open order").

Version 0: the same JSON, uncompressed; it starts with `{`. `decode_state` reads both, so a
changelog or a RocksDB store written before the upgrade is read as it is, and each order is rewritten in
version 1 at its next change. A leading byte below 0x20 that is not JSON whitespace names a version; one
this code does not know is refused with a `ValueError` naming it (a newer writer, an older reader).

Cost: the compressor and decompressor are primed with the dictionary once and copied per state, because
priming one is the expensive part.
"""

from __future__ import annotations

import zlib

from models.state import ORDER_STATE_ADAPTER, OrderState
from streams.worker.state_dictionary import STATE_DICTIONARY_V1

V1 = 0x01
_V1_TAG = bytes([V1])
_WBITS = -13  # raw deflate (no zlib header or checksum: the table's changelog has its own), 8 KiB window
_LEVEL = 2  # as fast as level 1 (both use deflate_fast) and smaller; level 6 is much slower
_MEM_LEVEL = 4
_COMPRESSOR = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, _MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY, STATE_DICTIONARY_V1)
_DECOMPRESSOR = zlib.decompressobj(_WBITS, STATE_DICTIONARY_V1)
_JSON_WHITESPACE = frozenset(b" \t\r\n")


def encode_state(state: OrderState) -> bytes:
    """The state as stored: version 1."""
    return compress_state_json(encode_state_json(state))


def compress_state_json(text: bytes) -> bytes:
    """Version 1 of a state given as its version-0 JSON (`encode_state_json`)."""
    compressor = _COMPRESSOR.copy()
    return _V1_TAG + compressor.compress(text) + compressor.flush()


def decode_state(raw: bytes) -> OrderState:
    """A stored state of any version. Raises `pydantic.ValidationError` for a bad state, `ValueError` for an
    unknown version or a truncated one."""
    if not raw:
        raise ValueError("empty order state")
    tag = raw[0]
    if tag == V1:
        decompressor = _DECOMPRESSOR.copy()
        text = decompressor.decompress(memoryview(raw)[1:])
        if not decompressor.eof:
            raise ValueError("truncated order state (version 1)")
        return ORDER_STATE_ADAPTER.validate_json(text)
    if tag < 0x20 and tag not in _JSON_WHITESPACE:
        raise ValueError(f"order state of unknown encoding version {tag}: written by a newer postsale?")
    return ORDER_STATE_ADAPTER.validate_json(raw)  # version 0: plain JSON


def encode_state_json(state: OrderState) -> bytes:
    """Version 0, plain JSON (no None/default fields): what version 1 compresses, and what was stored before."""
    return ORDER_STATE_ADAPTER.dump_json(state, exclude_defaults=True)
