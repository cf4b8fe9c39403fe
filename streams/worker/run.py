"""Running a worker process: settings and policy validated first, then Faust's worker until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import sys

from faust.worker import Worker

from models.policy import Policy
from streams.settings import Settings
from streams.worker.app import build
from streams.worker.runtime import Runtime


def configure_logging(level: str) -> None:
    """One handler on stderr at the chosen level; the root logger is raised to it so that DEBUG records
    are not even built (Faust leaves the root at DEBUG otherwise)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # Faust and aiokafka at DEBUG drown everything else: at most INFO for them.
    for name in ("faust", "mode", "aiokafka", "kafka"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level.upper()), logging.INFO))


def run_worker(settings: Settings, policy: Policy) -> Runtime:
    """Start a worker and block until it stops; returns the runtime (for tests that run it in-process)."""
    rt = build(settings, policy)
    configure_logging(settings.log_level)
    worker = Worker(
        rt.app,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
        console_port=0,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return rt
