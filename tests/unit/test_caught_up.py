"""When a partition's topic counts as read to the broker's end (`Decider._lagging`), without a broker.

A topic whose fetched records were still being handed over is left out of the client's fetches, so once they are
read its highwater can predate records of the other topics fetched meanwhile. On the events clock, moving the
partition's clock on such a highwater fired deadlines that records already on the broker settle.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.settings import Settings
from streams.worker.alignment import PartitionAligner
from streams.worker.decide import Decider
from streams.worker.metrics import Metrics
from streams.worker.runtime import PartitionState

TOPICS = ("orders", "shipments", "disputes")


class Client:
    """The consumer as `Decider` reads it: each partition's highwater and when a fetch last answered for it."""

    def __init__(self) -> None:
        self.highwaters: dict[TP, int] = {}
        self.answers: dict[TP, float] = {}
        self._committed_offset: dict[TP, int] = {}

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters.get(tp)

    def answered_at(self, tp: TP) -> float | None:
        return self.answers.get(tp)


def decider(client: Client, live_clock: Any = None) -> tuple[Decider, PartitionState]:
    state = PartitionState(PartitionAligner(TOPICS))
    rt: Any = SimpleNamespace(
        settings=SimpleNamespace(partitions=8),
        app=SimpleNamespace(consumer=client),
        clock=live_clock,
        partitions={0: state},
        metrics=Metrics.create(CollectorRegistry(), Settings()),
    )
    fence: Any = SimpleNamespace(grouped=True)
    return Decider(rt, outbox=None, fence=fence), state  # type: ignore[arg-type]


def test_a_topic_read_to_an_old_highwater_is_behind_until_a_fetch_answers_again() -> None:
    client = Client()
    tp = TP("orders", 0)
    client.highwaters[tp] = 10  # from the fetch that brought offsets 0-9, answered at t=100
    client.answers[tp] = 100.0
    d, state = decider(client)
    state.taken_at["orders"] = 105.0  # offset 9 taken at t=105; no fetch of the partition has answered since
    assert d._lagging(0)("orders", 9) is True  # records may have come after offset 9: not known to be caught up
    client.answers[tp] = 106.0  # a fetch answered after the last record was taken, still at 10
    assert d._lagging(0)("orders", 9) is False
    client.highwaters[tp] = 12  # or it answered with more
    assert d._lagging(0)("orders", 9) is True


def test_a_topic_never_answered_for_is_behind_and_one_never_read_waits_only_for_its_highwater() -> None:
    client = Client()
    client.highwaters[TP("orders", 0)] = 5
    client.highwaters[TP("disputes", 0)] = 3
    d, state = decider(client)
    state.taken_at["orders"] = 50.0
    assert d._lagging(0)("orders", 4) is True  # no answer known for it at all
    # Nothing taken from disputes since the assignment: its highwater alone says where it stands.
    assert d._lagging(0)("disputes", 2) is False


def test_on_the_live_clock_the_highwater_alone_decides() -> None:
    client = Client()
    tp = TP("shipments", 0)
    client.highwaters[tp] = 7
    client.answers[tp] = 100.0
    d, state = decider(client, live_clock=object())
    state.taken_at["shipments"] = 105.0
    assert d._lagging(0)("shipments", 6) is False  # time is the wall's: the records still on their way are live
