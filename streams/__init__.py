"""postsale: the worker, the offline commands, the executor, the demo and the simulator.

`postsale worker` stopped (SIGTERM) while Python is still importing it has started nothing and has nothing
to stop: it exits 0 at once. Set here, before anything heavy is imported; `streams.worker.run` takes the
signal over for the graceful stop once the app starts.
"""

import signal as _signal
import sys as _sys


def stopped_before_start(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


if _sys.argv[1:2] == ["worker"]:
    _signal.signal(_signal.SIGTERM, stopped_before_start)
