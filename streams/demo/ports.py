"""Local ports for the processes the demo starts (worker web, Prometheus)."""

from __future__ import annotations

import socket


def free_port(preferred: int = 0) -> int:
    """`preferred` if it is free on 127.0.0.1, else one the system picks."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free local port")
