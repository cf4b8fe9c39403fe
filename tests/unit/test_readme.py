"""The wire contract's examples are real (docs/events.md): every event and action type has one, and each validates."""

from __future__ import annotations

import re
from pathlib import Path

from models.actions import parse_action
from models.common import ACTION_TYPES
from models.events import EVENT_TYPES, parse_event

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _blocks(section: str) -> list[tuple[str, str]]:
    return re.findall(r"^`([a-z_.]+)`[^\n]*\n\n```json\n(.+?)\n```", section, flags=re.M | re.S)


def test_every_event_type_has_a_valid_example() -> None:
    text = EVENTS_DOC.read_text()
    section = text.split("## Events", 1)[1].split("## Actions", 1)[0]
    examples = dict(_blocks(section))
    assert set(examples) == set(EVENT_TYPES)
    for name, body in examples.items():
        assert parse_event(body).type == name


def test_every_action_type_has_a_valid_example() -> None:
    text = EVENTS_DOC.read_text()
    section = text.split("## Actions", 1)[1]
    examples = dict(_blocks(section))
    assert set(examples) == set(ACTION_TYPES)
    for name, body in examples.items():
        assert parse_action(body).type == name
