"""Kafka plumbing every process shares: topic administration, client options, partitioning, Faust fixes and fencing.

Depends on `streams.settings` only: never on the worker, the executor, the demo or the offline commands.
"""
