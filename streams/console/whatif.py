"""What if: `postsale diff` run by the console in the background, with progress, kept for the page.

A run takes an events file (one of the server's, or an upload) and two policies (A, the one in force; B, edited
in the form or given as a file), and runs the pure engine over the file under both (`diff_policies`, the
command's own function) in a process of its own. Progress is the bytes read of the two passes. Finished runs are kept
(the last `keep`), with their files, so that example orders can be explained under either policy.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import secrets
import shutil
import time
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from models.policy import Policy, Thresholds
from streams.offline.commands import PolicyDiff, Timeline, diff_policies, explain_order

log = logging.getLogger("postsale.console")

# Thresholds the form offers (every number of the defaults; marketplace and region overrides stay as in A).
FORM_FIELDS: tuple[str, ...] = tuple(
    name
    for name, f in Thresholds.model_fields.items()
    if f.annotation in (int, float, "int", "float") or str(f.annotation) in ("int", "float")
)


@dataclass
class Run:
    run_id: str
    events: Path
    events_name: str
    a: Policy
    b: Policy
    until: datetime | None
    owned_dir: Path | None = None  # uploads of this run, removed with it
    total_bytes: int = 0
    read_bytes: int = 0
    status: Literal["queued", "running", "done", "failed"] = "queued"
    error: str = ""
    result: PolicyDiff | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # threshold -> (A, B)

    counter: Any = None  # bytes read so far, shared with the process running the replay

    @property
    def progress(self) -> float:
        if self.status == "done":
            return 1.0
        read = int(self.counter.value) if self.counter is not None else self.read_bytes
        return min(read / self.total_bytes, 0.99) if self.total_bytes else 0.0

    def status_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "progress": round(self.progress, 4),
            "error": self.error,
            "seconds": round(self.seconds or time.monotonic() - self.started, 1),
        }


class WhatIf:
    def __init__(self, work_dir: Path, keep: int = 20) -> None:
        self.work_dir = work_dir
        self.keep = keep
        self.runs: OrderedDict[str, Run] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._cpu = asyncio.Semaphore(1)  # one replay at a time: the engine is CPU-bound

    def new_dir(self) -> Path:
        d = self.work_dir / f"run-{secrets.token_hex(8)}"
        d.mkdir(parents=True, exist_ok=False)
        return d

    def start(
        self,
        events: Path,
        events_name: str,
        a: Policy,
        b: Policy,
        until: datetime | None = None,
        owned_dir: Path | None = None,
    ) -> Run:
        run = Run(secrets.token_hex(8), events, events_name, a, b, until, owned_dir)
        run.total_bytes = events.stat().st_size * 2
        run.changes = threshold_changes(a, b)
        self.runs[run.run_id] = run
        while len(self.runs) > self.keep:
            _, old = self.runs.popitem(last=False)
            if old.owned_dir is not None:
                shutil.rmtree(old.owned_dir, ignore_errors=True)
        task = asyncio.create_task(self._run(run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def _run(self, run: Run) -> None:
        async with self._cpu:
            run.status = "running"
            run.started = time.monotonic()
            counter = _SPAWN.Value("q", 0)
            run.counter = counter
            # A process of its own: the replay is CPU-bound and would otherwise hold the console's pages up.
            pool = ProcessPoolExecutor(1, mp_context=_SPAWN, initializer=_child_init, initargs=(counter,))
            try:
                loop = asyncio.get_running_loop()
                run.result = await loop.run_in_executor(pool, _child_diff, run.events, run.a, run.b, run.until)
                run.status = "done"
            except Exception as exc:  # a bad file: shown on the page
                run.status = "failed"
                run.error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("what-if run %s failed: %s", run.run_id, type(exc).__name__)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
                run.read_bytes = int(counter.value)
                run.counter = None
            run.seconds = time.monotonic() - run.started

    async def explain(self, run: Run, order_id: str, which: Literal["a", "b"]) -> Timeline:
        policy = run.a if which == "a" else run.b
        return await asyncio.to_thread(explain_order, run.events, order_id, policy, run.until)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()


_SPAWN = multiprocessing.get_context("spawn")  # a clean interpreter: no copy of the server's threads or sockets
_counter: Any = None


def _child_init(counter: Any) -> None:
    global _counter
    _counter = counter


def _child_diff(events: Path, a: Policy, b: Policy, until: datetime | None) -> PolicyDiff:
    """`diff_policies` in the what-if process, telling the console the bytes read every 256 KiB."""
    pending = 0

    def progress(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= 1 << 18:
            with _counter.get_lock():
                _counter.value += pending
            pending = 0

    try:
        return diff_policies(events, a, b, until, progress)
    finally:
        with _counter.get_lock():
            _counter.value += pending


def threshold_changes(a: Policy, b: Policy) -> dict[str, tuple[Any, Any]]:
    da, db = a.defaults.model_dump(), b.defaults.model_dump()
    return {k: (da[k], db[k]) for k in da if da[k] != db.get(k)}


def policy_from_form(base: Policy, form: dict[str, str], version: str) -> Policy:
    """`base` with the default thresholds the form changed; a `ValueError` names a bad field."""
    values = base.defaults.model_dump()
    for name in FORM_FIELDS:
        raw = form.get(f"t_{name}")
        if raw is None or raw.strip() == "":
            continue
        current = values[name]
        try:
            values[name] = int(raw) if isinstance(current, int) and not isinstance(current, bool) else float(raw)
        except ValueError as exc:
            raise ValueError(f"{name}: not a number: {raw[:40]!r}") from exc
    defaults = Thresholds.model_validate(values)
    # A copy, not a dump and re-validation: overrides name only the fields they change (their fields-set matters).
    policy = base.model_copy(update={"defaults": defaults, "version": version})
    problems = policy.inconsistencies()
    if problems:
        raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
    return policy
