"""The playbook as pure functions: (order state, event or time, policy) -> (state, actions, deadlines).

No I/O, no clock, no Faust, no Kafka: time comes in as an argument. One
module per playbook row, named by its row id (shared/PLAYBOOK.md), plus
`engine` (which row sees which trigger), `lifecycle` (bookkeeping that is no
row's decision) and `claims` (the evidence → claim → verification path that
several rows share).
"""

from rules.engine import Decision, advance, handle_event

__all__ = ["Decision", "advance", "handle_event"]
