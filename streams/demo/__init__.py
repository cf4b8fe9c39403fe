"""`postsale demo`: the whole loop on one machine, with its own broker, receiver, executor and Prometheus.

For development and trying postsale out; nothing in production imports it.
"""
