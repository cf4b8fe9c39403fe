"""Running a worker process: settings and policy validated first, then Faust's worker until SIGTERM/SIGINT."""

from __future__ import annotations

from faust.worker import Worker

from models.policy import Policy
from streams.logconfig import configure_logging
from streams.settings import Settings
from streams.worker.app import build
from streams.worker.runtime import Runtime


def run_worker(settings: Settings, policy: Policy) -> Runtime:
    """Start a worker and block until it stops; returns the runtime (for tests that run it in-process)."""
    rt = build(settings, policy)
    configure_logging(settings.log_level, settings.log_format, service="postsale-worker", app_id=settings.app_id)
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
