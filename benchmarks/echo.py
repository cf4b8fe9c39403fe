"""The broker floor's stage in a process of its own, as the worker is: `python -m benchmarks.echo`.

It reads the input topics from their ends and sends each record's value on to the actions topic
(`benchmarks.brokered._echo`), until SIGTERM. Configured by BENCH_BOOTSTRAP, BENCH_INPUTS (comma-separated),
BENCH_ACTIONS, BENCH_PARTITIONS, BENCH_FETCH_MAX_WAIT_MS and BENCH_LINGER_MS; it creates BENCH_READY once
it is assigned and at the end of every input.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from benchmarks.brokered import _echo


async def main() -> None:
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await _echo(
        os.environ["BENCH_BOOTSTRAP"],
        os.environ["BENCH_INPUTS"].split(","),
        os.environ["BENCH_ACTIONS"],
        int(os.environ["BENCH_PARTITIONS"]),
        stopping,
        int(os.environ["BENCH_FETCH_MAX_WAIT_MS"]),
        float(os.environ["BENCH_LINGER_MS"]),
        Path(os.environ["BENCH_READY"]),
    )


if __name__ == "__main__":
    asyncio.run(main())
