"""Replay turns the cyclic collector off while it replays a file, and leaves it as it found it."""

from __future__ import annotations

import gc
import io
from pathlib import Path

import pytest

from models.policy_file import load_policy
from streams.offline.commands import replay_file
from streams.orders import Unplaced

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "samples" / "day.jsonl"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was(enabled: bool) -> None:
    was = gc.isenabled()
    frozen = gc.get_freeze_count()
    seen: list[bool] = []
    try:
        gc.enable() if enabled else gc.disable()
        out = io.BytesIO()
        replay_file(
            SAMPLE, load_policy(), out=out, on_bad=lambda _: None, on_progress=lambda _: seen.append(gc.isenabled())
        )
        assert out.getvalue().count(b"\n") > 100
        assert seen and not any(seen)  # off while the file is read
        assert gc.isenabled() is enabled
        assert gc.get_freeze_count() == frozen
    finally:
        gc.enable() if was else gc.disable()


def test_a_replay_makes_no_reference_cycles() -> None:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        replay_file(SAMPLE, load_policy(), out=io.BytesIO(), on_bad=lambda _: None)
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()


def test_waiting_events_are_known_by_order() -> None:
    waiting: Unplaced[str] = Unplaced()
    assert not waiting.waiting("A1")
    waiting.hold("A1", 10, 20, "event")
    assert waiting.waiting("A1") and not waiting.waiting("A2")
    assert waiting.release("A1") == ["event"]
    assert not waiting.waiting("A1")
