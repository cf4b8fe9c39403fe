"""Where each partition stands, logged on SIGUSR2: for an operator whose worker holds back or lags, and for
post-mortems of the reliability tests.

One WARNING line of JSON (`partition standing: {...}`): per input partition of this worker, the consumer's
view (assigned, active, paused, held back until its seek, buffered, the offset due next, the client's fetch
position and the broker's end as last fetched, the committed offset) and the worker's (each topic's last
offset and time read, held events, the clock, the cap from other workers' partitions, ticks waiting for the
clock, copies held for). Only offsets, times and counts: no record content, so no customer data.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from typing import Any

import orjson
from faust.types import TP

from streams.worker.runtime import Runtime


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _client_positions(consumer: Any) -> dict[TP, tuple[int | None, int | None]]:
    """The aiokafka client's fetch position and highwater per partition (read from the event loop's thread: a
    diagnostic, a value may be a moment old)."""
    out: dict[TP, tuple[int | None, int | None]] = {}
    try:
        client = consumer._thread._consumer  # noqa: SLF001
        assignment = client._subscription.subscription.assignment  # noqa: SLF001
        for ktp in assignment.tps:
            state = assignment.state_value(ktp)
            out[TP(ktp.topic, ktp.partition)] = (state.position if state.has_valid_position else None, state.highwater)
    except Exception:  # noqa: BLE001 - not started, or rebalancing: shown as unknown
        return {}
    return out


def standing(rt: Runtime) -> dict[str, Any]:
    """What the dump line holds."""
    s = rt.settings
    consumer = rt.app.consumer
    try:
        assigned = set(consumer.assignment())
    except Exception:  # noqa: BLE001
        assigned = set()
    active = set(getattr(consumer, "_active_partitions", None) or ())
    paused = set(getattr(consumer, "_paused_partitions", ()))
    buffered = set(getattr(consumer, "_buffered_partitions", ()))
    held_back = set(getattr(consumer, "_held_back", ()))
    due = dict(getattr(consumer, "__dict__", {}).get("_sought", {}))
    read = dict(getattr(consumer, "_read_offset", {}))
    committed = dict(getattr(consumer, "_committed_offset", {}))
    client = _client_positions(consumer)
    topics = (*s.input_topics, s.topic_ticks)
    partitions: dict[str, Any] = {}
    for p in sorted({tp.partition for tp in assigned if tp.topic in topics} | set(rt.partitions)):
        state = rt.partitions.get(p)
        entry: dict[str, Any] = {}
        for topic in topics:
            tp = TP(topic, p)
            position, highwater = client.get(tp, (None, None))
            flags = [
                name
                for name, group in (
                    ("assigned", assigned),
                    ("active", active),
                    ("paused", paused),
                    ("held_back", held_back),
                    ("buffered", buffered),
                )
                if tp in group
            ]
            view: dict[str, Any] = {
                "consumer": flags,
                "due": due.get(tp),
                "read": read.get(tp),
                "position": position,
                "end": highwater,
                "committed": committed.get(tp),
            }
            if state is not None and topic in state.aligner.progress:
                progress = state.aligner.progress[topic]
                view["last_offset"] = progress.last_offset
                view["last_time"] = _iso(progress.last_time)
            entry[topic] = view
        if state is not None:
            entry["worker"] = {
                "held_events": len(state.aligner),
                "clock": _iso(state.aligner.clock),
                "requested": _iso(state.aligner.requested),
                "remote_cap": _iso(state.remote_cap),
                "pending_ticks": [_iso(at) for at, _ in state.pending_ticks],
                "copies_held_for": len(state.holds),
                "frontiers_heard": sorted(state.frontiers),
                "caught_up": state.caught_up,
                "ticks_read": state.ticks_read,
                "books_loaded": state.books_loaded,
                "unplaced": len(state.unplaced),
            }
        partitions[str(p)] = entry
    return {"flow_active": bool(rt.app.flow_control.is_active()), "partitions": partitions}


def install(rt: Runtime) -> None:
    """Log `standing` on SIGUSR2, from the event loop (where the worker's own structures are consistent).

    Installed once the app runs: the process's Worker installs its own handlers first, and its SIGUSR2 would
    start a debugger on standard input, which a worker in a container cannot answer."""

    def dump() -> None:
        try:
            rt.log.warning("partition standing: %s", orjson.dumps(standing(rt)).decode())
        except Exception as exc:  # noqa: BLE001 - a diagnostic never takes the worker down
            rt.log.warning("partition standing not available: %s", exc)

    @rt.app.task  # type: ignore[untyped-decorator]
    async def listen_for_sigusr2() -> None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, dump)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals here (not the main thread)
            return
