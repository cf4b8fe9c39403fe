"""The broker freezes (SIGSTOP) for longer than the session timeout, then continues: the workers recover alone.

A broker of its own (module scope), so that freezing it does not stall the
other tests on the session's broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.demo.broker import EmbeddedBroker
from tests.integration.kafka import new_wire, produce_events, send_clock, start_worker
from tests.integration.reference import replay_actions
from tests.reliability.support import Tail, audit, distinct_ids, log_standing, report, simulated

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SESSION_TIMEOUT = 6.0  # the workers' (tests/integration/kafka.py)
PAUSE = 2 * SESSION_TIMEOUT + 2


@pytest.fixture(scope="module")
def own_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


def test_workers_recover_on_their_own_after_the_broker_froze(own_broker: EmbeddedBroker, tmp_path: Path) -> None:
    started = time.monotonic()
    events, until = simulated(seed=61, orders=500)
    expected = replay_actions(events, until)
    half = len(events) // 2
    wire = new_wire(own_broker, "pause")
    tail = Tail(wire, "actions")
    a = start_worker(wire, tmp_path, "a")
    b = start_worker(wire, tmp_path, "b")
    try:
        produce_events(wire, events[:half])
        tail.wait(lambda rs: distinct_ids(rs) >= len(expected) // 5, timeout=90)
        own_broker.pause()  # mid-stream: the workers are still working through the first half
        try:
            time.sleep(PAUSE)  # the effect awaited is the broker being gone for a while: nothing to poll
            assert a.alive() and b.alive(), "a frozen broker must not kill the workers"
        finally:
            own_broker.resume()
        produce_events(wire, events[half:])
        send_clock(wire, until)
        records = tail.wait(lambda rs: distinct_ids(rs) >= len(expected), timeout=150, quiet=3.0)
        alive = a.alive() and b.alive()
        log_standing(a, b)
    finally:
        code_a, code_b = a.stop(), b.stop()
        tail.close()
    result = audit(records, expected)
    report(
        "broker_pause",
        paused_seconds=PAUSE,
        events_processed=len(events),
        decisions=len(expected),
        **result.figures(),
        seconds=round(time.monotonic() - started, 1),
    )
    # Never a decision twice, both workers alive and stopped cleanly: always.
    assert result.ok, result.explain()
    assert alive, (a.log_text()[-2000:], b.log_text()[-2000:])
    assert (code_a, code_b) == (0, 0), (a.log_text()[-2000:], b.log_text()[-2000:])
