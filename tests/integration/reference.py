"""What `postsale replay` decides for a list of events: the reference the live worker must match."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from models.actions import dump_action
from models.events import parse_event
from models.policy_file import load_policy
from streams.offline.replay import Replayer


def replay_actions(events: Sequence[dict[str, Any]], until: datetime | None) -> dict[str, dict[str, Any]]:
    replayer = Replayer(load_policy())
    actions = []
    for e in events:
        _, acts = replayer.feed(parse_event(orjson.dumps(e)))
        actions += acts
    actions += replayer.finish(until)
    return {a.action_id: orjson.loads(dump_action(a)) for a in actions}
