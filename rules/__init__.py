"""The playbook as pure functions: (order state, event or time, policy) -> (state, actions, deadlines).

No I/O, no clock, no Faust, no Kafka: time comes in as an argument. One module per playbook row, named by its
row id (docs/playbook.md), plus `engine` (which row sees which trigger), `lifecycle` (bookkeeping that is no
row's decision) and `claims` (the evidence → claim → verification path that several rows share).

This package imports nothing on purpose: `from rules.engine import handle_event`, never `from rules import`,
so that importing one row never drags in the engine (and the engine's imports of the rows never form a cycle).
"""
