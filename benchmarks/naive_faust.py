"""The baseline: a naive Faust agent with one table write per event (memory store, changelog on).

Run as `python -m benchmarks.naive_faust worker -l warn --without-web` with BENCH_* variables. It
decodes each event with orjson and writes the order's small state (event count, last type) to a table
with a changelog, as a first Faust app would. When it has processed BENCH_EXPECT events it writes the
monotonic time of its first and last event and its CPU seconds to BENCH_MARKER (CLOCK_MONOTONIC is
system-wide on Linux, so the driver can compare it with its own clock).
"""

from __future__ import annotations

import os
import time

import faust
import orjson

BROKER = os.environ.get("BENCH_BROKER", "kafka://127.0.0.1:9092")
APP_ID = os.environ.get("BENCH_APP_ID", "naive")
INPUTS = os.environ.get("BENCH_INPUTS", "orders,shipments,disputes").split(",")
PARTITIONS = int(os.environ.get("BENCH_PARTITIONS", "8"))
EXPECT = int(os.environ.get("BENCH_EXPECT", "0"))
MARKER = os.environ.get("BENCH_MARKER", "")

app = faust.App(
    APP_ID,
    broker=BROKER,
    store="memory://",
    topic_partitions=PARTITIONS,
    broker_session_timeout=6,
    broker_heartbeat_interval=1,
    broker_rebalance_timeout=6,
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    key_serializer="raw",
    value_serializer="raw",
    autodiscover=False,
)
channel = app.topic(*INPUTS, key_type=bytes, value_type=bytes)
orders = app.Table("orders", default=None, partitions=PARTITIONS, key_type=str, value_type=bytes)
seen = {"n": 0, "first": 0.0}


@app.agent(channel)
async def process(stream: faust.StreamT[bytes]) -> None:
    async for value in stream:
        event = orjson.loads(value)
        if seen["n"] == 0:
            seen["first"] = time.monotonic()
        order_id = event["order_id"]
        previous = orders.get(order_id)
        count = orjson.loads(previous)["n"] + 1 if previous is not None else 1
        orders[order_id] = orjson.dumps({"n": count, "last": event["type"]})
        seen["n"] += 1
        if seen["n"] == EXPECT and MARKER:
            cpu = os.times()
            body = {"first": seen["first"], "last": time.monotonic(), "cpu": cpu.user + cpu.system, "n": seen["n"]}
            with open(MARKER, "wb") as fh:
                fh.write(orjson.dumps(body))


if __name__ == "__main__":
    app.main()
