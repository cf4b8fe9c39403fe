"""The peer: Quix Streams, doing the naive Faust baseline's stateful work or running postsale's rules.

BENCH_WORK=count (the default): the same stateful work as the naive Faust baseline, a small state per order
(RocksDB, with its changelog topic) and one output record per 10 events.
BENCH_WORK=rules: postsale's own rules in a stateful `apply` (`benchmarks/quix_rules.py`): per order, its state in
Quix's RocksDB state with its changelog, every action decided produced to the output topic; needs postsale's
`models`, `rules` and `streams.worker.codec` on PYTHONPATH (and PyYAML and holidays in the interpreter).

Run with an interpreter that has `quixstreams` (its own virtualenv: see benchmarks/README.md) and BENCH_* variables.
The input topics must exist with `retention.ms`, `retention.bytes` and `cleanup.policy` set explicitly
(`streams.kafka.admin.create_topics` does that). Writes the monotonic time of the first and the
BENCH_EXPECT-th processed message and its CPU seconds at both to BENCH_MARKER, then stops.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson
from quixstreams import Application

BROKER = os.environ["BENCH_BROKER"]
APP_ID = os.environ.get("BENCH_APP_ID", "quix")
INPUTS = os.environ.get("BENCH_INPUTS", "orders,shipments,disputes").split(",")
OUTPUT = os.environ["BENCH_OUTPUT"]
EXPECT = int(os.environ.get("BENCH_EXPECT", "0"))
MARKER = os.environ.get("BENCH_MARKER", "")
WORK = os.environ.get("BENCH_WORK", "count")
STATE_DIR = os.environ.get("BENCH_STATE_DIR", "quix-state")

seen = {"n": 0, "first": 0.0, "cpu_first": 0.0, "out": 0}
counts: dict[str, int] = {}  # what the rules step did (BENCH_WORK=rules)
app: Application


def on_processed(_topic: str, _partition: int, _offset: int) -> None:
    if seen["n"] == 0:
        seen["first"] = time.monotonic()
        first = os.times()
        seen["cpu_first"] = first.user + first.system
    seen["n"] += 1
    if seen["n"] == EXPECT and MARKER:
        cpu = os.times()
        body = {
            "first": seen["first"],
            "last": time.monotonic(),
            "cpu": cpu.user + cpu.system,
            "cpu_first": seen["cpu_first"],
            "n": seen["n"],
            "counts": counts,
        }
        with open(MARKER, "wb") as fh:
            fh.write(orjson.dumps(body))


def update(event: dict[str, Any], state: Any) -> dict[str, Any]:
    previous = state.get("order")
    count = previous["n"] + 1 if previous is not None else 1
    current = {"n": count, "last": event["type"]}
    state.set("order", current)
    return {"order_id": event["order_id"], **current}


def every_tenth(_value: dict[str, Any]) -> bool:
    seen["out"] += 1
    return seen["out"] % 10 == 0


def main() -> None:
    global app
    app = Application(
        broker_address=BROKER,
        consumer_group=APP_ID,
        auto_offset_reset="earliest",
        state_dir=STATE_DIR,
        loglevel=logging.WARNING,
        on_message_processed=on_processed,
        # The embedded broker completes a JoinGroup only after session.timeout / 2 (docs/architecture.md): librdkafka's
        # 45 s default would add 22 s of start-up. The same short session as the Faust workers get.
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    )
    if WORK == "rules":
        # postsale's decoding and rules: the raw bytes in and out, the state as the worker's codec stores it.
        from benchmarks.quix_rules import OrderRules
        from models.policy_file import load_policy

        rules = OrderRules(load_policy())
        counts.update(rules.counts)
        rules.counts = counts
        topics = [app.topic(name, value_deserializer="bytes", key_deserializer="bytes") for name in INPUTS]
        out = app.topic(OUTPUT, value_serializer="bytes", key_serializer="bytes")
    else:
        topics = [app.topic(name, value_deserializer="json", key_deserializer="str") for name in INPUTS]
        out = app.topic(OUTPUT, value_serializer="json", key_serializer="str")
    sdf = app.dataframe(topics[0])
    for t in topics[1:]:
        sdf = sdf.concat(app.dataframe(t))
    if WORK == "rules":
        sdf = sdf.apply(rules, stateful=True, expand=True)
    else:
        sdf = sdf.apply(update, stateful=True)
        sdf = sdf.filter(every_tenth)
    sdf.to_topic(out)
    app.run()


if __name__ == "__main__":
    main()
