"""Print docs/events.md's "Events" and "Actions" sections: one real example of each type.

Events come from the shipped sample (streams/samples/day.jsonl); actions are what
`postsale replay` decides for it. Customer data is dropped from the examples.
Run: .venv/bin/python scripts/gen_examples.py > /tmp/examples.md
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson

from models.actions import dump_action
from models.common import ACTION_TYPES
from models.events import EVENT_TYPES, parse_event, topic_of
from models.policy_file import load_policy
from streams.offline.replay import Replayer

SAMPLE = Path(__file__).resolve().parents[1] / "streams" / "samples" / "day.jsonl"
# Types the sample does not contain (they come from the executor, not from a store).
FALLBACK = {
    "action.failed": {
        "event_id": "out-act-3f2a9c0d1e4b5a6978abcdef",
        "order_id": "store-hz-01-11-0000003",
        "type": "action.failed",
        "occurred_at": "2026-11-12T09:30:00+08:00",
        "action_id": "act-3f2a9c0d1e4b5a6978abcdef",
        "action_type": "refund",
        "reason": "HTTP 503 after 8 attempts",
        "outcome": "failed",
    },
    "action.held": {
        "event_id": "held-act-9b1c2d3e4f5a6b7c8d9e0f1a",
        "order_id": "store-hz-01-11-0000003",
        "type": "action.held",
        "occurred_at": "2026-11-12T09:30:00+08:00",
        "action_id": "act-9b1c2d3e4f5a6b7c8d9e0f1a",
        "action_type": "refund",
        "party": "customer",
        "amount": "3200.00",
        "currency": "CNY",
        "reason": "refund 3200.00 CNY is above the single-refund limit 3000",
    },
}


def main() -> None:
    events: dict[str, dict[str, object]] = {}
    replayer = Replayer(load_policy())
    actions: dict[str, bytes] = {}
    for line in SAMPLE.read_bytes().splitlines():
        raw = orjson.loads(line)
        raw.pop("buyer", None)
        events.setdefault(raw["type"], raw)
        _, acts = replayer.feed(parse_event(line))
        for a in acts:
            actions.setdefault(a.type, dump_action(a))
    for a in replayer.finish(datetime.fromisoformat("2026-12-31T00:00:00+08:00")):
        actions.setdefault(a.type, dump_action(a))
    for t, example in FALLBACK.items():
        parse_event(orjson.dumps(example))
        events.setdefault(t, example)
    print("### Events\n")
    for t in EVENT_TYPES:
        if t in events:
            print(f"`{t}` (topic `{topic_of(t)}`)\n\n```json\n{orjson.dumps(events[t]).decode()}\n```\n")
        else:
            print(f"`{t}` (topic `{topic_of(t)}`): not in the sample; see models/events.py\n")
    print("### Actions\n")
    for t in ACTION_TYPES:
        if t in actions:
            print(f"`{t}`\n\n```json\n{actions[t].decode()}\n```\n")
        else:
            print(f"`{t}`: not decided for the sample\n")


if __name__ == "__main__":
    main()
