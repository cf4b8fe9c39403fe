"""The figures that need no broker: replay, deadline firing, state size.

`python -m benchmarks.inprocess replay FILE UNTIL` runs `streams.offline.replay_file` in a fresh process
and prints its figures as JSON, so that its peak RSS is the replay's and not the driver's.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import percentile
from models.events import parse_event
from models.policy_file import load_policy
from rules.engine import advance, handle_event, next_due
from streams.offline.replay import Replayer
from streams.orders import DeadlineIndex
from streams.worker.codec import compress_state_json, decode_state, encode_state, encode_state_json


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def replay_child(path: Path, until: datetime | None) -> dict[str, Any]:
    """The replay's figures. Its actions go to /dev/null as `postsale replay --out` would write them (a
    BytesIO would hold every action: memory that grows with the events, not the replay's); its peak RSS is
    `VmHWM`, not `ru_maxrss`, which Linux carries over `execve` from the parent (this driver: the 667 to
    1,368 MiB of the first full run were the driver's own growth between runs)."""
    from streams.offline.commands import peak_rss_mb, replay_file

    policy = load_policy()
    before = _rss_mb()
    with open(os.devnull, "wb") as sink:
        result = replay_file(path, policy, out=sink, on_bad=lambda _b: None, until=until)
    return {
        "events": result.replayer.stats.events,
        "seconds": result.seconds,
        "events_per_s": result.events_per_second,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": before,
        "open_orders": len(result.replayer.orders),
        "peak_open_orders": result.replayer.stats.peak_open_orders,
    }


# --- deadlines -------------------------------------------------------------------------------------------------


def deadline_firing(placed: dict[str, Any], open_orders: int, fire: int) -> dict[str, Any]:
    """µs per fired deadline with `open_orders` open, as the worker fires them: pop the due order ids from
    the time-ordered index, read each order's stored bytes, decode, `advance`, encode, store, re-index.

    The orders are copies of one placed order (its JSON with the order id replaced, each compressed as the
    worker stores it: the stored bytes are compressed, so the id cannot be replaced in them); the index
    gives them distinct due times, so exactly `fire` of them are due."""
    policy = load_policy()
    event = parse_event(orjson.dumps(placed))
    state = handle_event(None, event, policy).state
    assert state is not None
    due = next_due(state)
    assert due is not None, "an order.placed state must have a deadline"
    template = encode_state_json(state)
    old_id = state.order_id.encode()
    table: dict[str, bytes] = {}
    index = DeadlineIndex()
    # Every copy's own deadlines are at `due`; the index spreads them one second apart after it.
    for i in range(open_orders):
        oid = f"o{i:07d}"
        table[oid] = compress_state_json(template.replace(old_id, oid.encode()))
        index.set(oid, due + timedelta(seconds=i))
    gc.collect()
    now = due + timedelta(seconds=fire)  # exactly `fire` entries are before `now`
    fired = 0
    started = time.perf_counter()
    for oid in list(index.pop_due(now)):
        raw = table.get(oid)
        if raw is None:
            continue
        decision = advance(decode_state(raw), now, policy)
        fired += 1
        if decision.state is None:
            del table[oid]
            index.set(oid, None)
        else:
            table[oid] = encode_state(decision.state)
            index.set(oid, next_due(decision.state))
    seconds = time.perf_counter() - started
    assert fired == fire, f"fired {fired}, expected {fire}"
    return {"open_orders": open_orders, "fired": fired, "us_per_fired": seconds / fired * 1e6}


# --- state size ------------------------------------------------------------------------------------------------


def state_size(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Encoded bytes of the open orders' states after replaying the stream (no end-of-input clock: a
    realistic mix of orders at every stage), and what the same states take in RocksDB once compacted."""
    from rocksdict import Rdict

    replayer = Replayer(load_policy())
    for e in events:
        replayer.feed(parse_event(orjson.dumps(e)))
    encoded = {oid: encode_state(s) for oid, s in replayer.orders.items()}
    sizes = [len(v) for v in encoded.values()]
    tmp = Path(tempfile.mkdtemp(prefix="postsale-bench-rocks-"))
    try:
        db = Rdict(str(tmp / "db"))
        for oid, raw in encoded.items():
            db[oid.encode()] = raw
        db.flush()
        db.compact_range(None, None)
        db.close()
        disk = sum(f.stat().st_size for f in (tmp / "db").rglob("*") if f.is_file())
        sst = sum(f.stat().st_size for f in (tmp / "db").rglob("*.sst"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(sizes)
    return {
        "open_orders": n,
        "encoded_mean_bytes": sum(sizes) / n if n else 0.0,
        "encoded_p95_bytes": percentile(sizes, 95),
        "encoded_max_bytes": max(sizes) if sizes else 0,
        "rocksdb_dir_bytes_per_order": disk / n if n else 0.0,
        "rocksdb_sst_bytes_per_order": sst / n if n else 0.0,
    }


def decoded_state_bytes(path: Path) -> dict[str, Any]:
    """Memory of an order's decoded state, as the worker keeps it (`orders_kept_in_memory`): the open orders after
    replaying `path` to its end, each encoded as stored, then all decoded; the growth of RSS over their number.
    Run in a fresh process (`python -m benchmarks.inprocess kept FILE`): RSS is the whole process's."""
    from streams.offline.commands import replay_file

    with open(os.devnull, "wb") as sink:
        result = replay_file(path, load_policy(), out=sink, on_bad=lambda _b: None)
    stored = [encode_state(s) for s in result.replayer.orders.values()]
    del result
    gc.collect()
    before = _rss_mb()
    kept = [decode_state(raw) for raw in stored]
    gc.collect()
    grown = _rss_mb() - before
    n = len(kept)
    return {
        "open_orders": n,
        "decoded_bytes_per_order": grown * 1024 * 1024 / n if n else 0.0,
        "stored_bytes_per_order": sum(map(len, stored)) / n if n else 0.0,
    }


USAGE = """usage: python -m benchmarks.inprocess replay FILE UNTIL|-   replay's figures (-: to the file's end)
       python -m benchmarks.inprocess kept FILE             memory per decoded order state"""

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "replay":
        until = None if sys.argv[3] == "-" else datetime.fromisoformat(sys.argv[3])
        print(orjson.dumps(replay_child(Path(sys.argv[2]), until)).decode())
    elif len(sys.argv) == 3 and sys.argv[1] == "kept":
        print(orjson.dumps(decoded_state_bytes(Path(sys.argv[2]))).decode())
    else:
        sys.exit(USAGE)
