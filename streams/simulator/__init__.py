"""A simulated store whose orders go wrong in every way the playbook covers.

There is no real store to record, and a recording would never hold every
playbook row in a few thousand orders; this one does, for demos, load tests,
replay and the end-to-end tests. It writes the inbound wire format of
`models.events` (plain dicts, times as RFC 3339 strings with an offset),
facts only: it never reads the engine's decisions.

- `catalogue`: stores, marketplaces, products, carriers, fake buyers.
- `timelines`: one order's timeline and the steps scenarios share; thresholds from the policy.
- `scenarios`: one function per way an order goes.
- `mix`: which scenarios, in what proportion, where.
- `stream`: many orders merged into one time-ordered stream (`generate`), and JSON lines.
- `delivery`: pacing in simulated time and an imperfect integration's faults, for Kafka and files alike.
- `producer`: the stream to Kafka, with ticks of simulated time.
"""

from streams.simulator.catalogue import ABROAD, FAKE_BUYERS, STORES, Store
from streams.simulator.delivery import SimulationStats
from streams.simulator.mix import SCENARIOS, Scenario, scenario_names
from streams.simulator.producer import keep_ticking, produce
from streams.simulator.stream import SAMPLE_RECIPE, generate, write_jsonl, write_lines
from streams.simulator.timelines import OrderContext

__all__ = [
    "ABROAD",
    "FAKE_BUYERS",
    "SAMPLE_RECIPE",
    "SCENARIOS",
    "STORES",
    "OrderContext",
    "Scenario",
    "SimulationStats",
    "Store",
    "generate",
    "keep_ticking",
    "produce",
    "scenario_names",
    "write_jsonl",
    "write_lines",
]
