"""Running a worker process: settings and policy validated first, then Faust's worker until SIGTERM/SIGINT."""

from __future__ import annotations

import signal

from faust.worker import Worker

from models.policy import Policy
from streams.logconfig import configure_logging
from streams.settings import Settings
from streams.worker.app import build
from streams.worker.runtime import Runtime

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class StartingWorker(Worker):
    """Faust's worker, with a stop signal that arrives while it starts kept waiting until its handlers are in.

    Without this, a SIGTERM in the first seconds (a pod replaced during a rollout, a deploy cancelled) killed
    the process with the default action, exit code -15, before the graceful stop was possible."""

    def install_signal_handlers(self) -> None:
        super().install_signal_handlers()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def run_worker(settings: Settings, policy: Policy) -> Runtime:
    """Start a worker and block until it stops; returns the runtime (for tests that run it in-process)."""
    # Blocked from here, in this thread and the threads it starts, until the worker's handlers take them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        rt = build(settings, policy)
        configure_logging(settings.log_level, settings.log_format, service="postsale-worker", app_id=settings.app_id)
        worker = StartingWorker(
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
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    return rt
