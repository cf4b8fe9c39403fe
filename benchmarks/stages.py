"""The worker's CPU per event by stage, from py-spy's samples (`py-spy record --format raw --threads`).

Each sample's stack is given one stage:

1. if any frame is one of the stages that own a whole call tree (`OUTER`, checked in this order): *commit*
   (committing offsets, wherever it runs), *changelog* (a table write's changelog record: Faust's
   `send_changelog` and its producer buffer), *fetch* (anything else in the consumer's thread, where Faust runs
   aiokafka's consumer: fetch requests, responses, record parsing, that thread's event loop);
2. else the innermost frame that belongs to a stage (`INNER`): *state* (the state codec, the table and its
   store), *rules* (`rules/`), *decode* (events decoded: `models.events`, the intake's decoding, Faust's key
   and value deserializers), *produce* (actions serialized and sent: the outbox, Faust's and aiokafka's
   producer, its sender, and aiokafka's connections outside the consumer's thread: the producer's), *fetch*
   (Faust's consumer, conductor and stream delivering records to the agent), *worker loop* (postsale's own
   code around them: batching, alignment, routing, settling, bookkeeping);
3. else *framework/other* (the main thread's event loop and `select`, Faust's and mode's services, Faust's
   livelock detector).

`models` frames take the stage of their caller (a state copy inside a rule is the rule's). The network send
of the producer's batches is one task for the actions and the changelog records alike: it counts under
*produce*. The stages add up to the measured CPU: see `stage_table` for the weighting.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

STAGES = ("fetch", "decode", "rules", "state", "changelog", "produce", "commit", "worker loop", "framework/other")

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Rule:
    stage: str
    file: re.Pattern[str]
    func: re.Pattern[str]

    def matches(self, func: str, file: str) -> bool:
        return bool(self.file.search(file)) and bool(self.func.search(func))


def _rule(stage: str, file: str, func: str = "") -> Rule:
    return Rule(stage, re.compile(file), re.compile(func))


_ANY = r"."
_OURS = r"(^|/)streams/"  # postsale's shell (its `models` frames take the stage of their caller)
_ENTRY = r"(^|/)streams/(cli|__main__)\.py|(^|/)streams/worker/run\.py"  # under every sample of the main thread

#: stages that own everything under a frame of theirs, first match wins
OUTER: tuple[Rule, ...] = (
    _rule("framework/other", r"faust/transport/consumer\.py", r"_commit_livelock_detector"),
    _rule("commit", r"(faust|aiokafka|mode|streams)/", r"(?i)commit(?!ted)(?!.*livelock)"),
    _rule("changelog", r"faust/tables/", r"send_changelog|on_key_set|on_key_del"),
    _rule("changelog", r"faust/transport/producer\.py", r"^ProducerBuffer\."),
    _rule("fetch", r"mode/threads\.py", r"^(WorkerThread|ServiceThread)\."),
    _rule("fetch", r"aiokafka/consumer/", _ANY),
)

#: stages of the innermost frame that has one, tried in this order on each frame from the leaf up
INNER: tuple[Rule, ...] = (
    _rule("state", r"(^|/)streams/worker/codec\.py"),
    _rule("state", r"(^|/)streams/worker/decide\.py", r"^Decider\._state$"),
    _rule("state", r"(faust/stores/|faust/tables/|rocksdict)"),
    _rule("state", _ANY, r"^ManagedUserDict\."),
    _rule("rules", r"(^|/)rules/"),
    _rule("decode", r"(^|/)models/events\.py"),
    _rule("decode", r"(^|/)streams/worker/intake\.py", r"^Intake\._decode$"),
    _rule("decode", r"faust/serializers/"),
    _rule("produce", r"(^|/)streams/worker/outbox\.py"),
    _rule("produce", r"(^|/)models/actions\.py"),
    _rule("produce", r"aiokafka/producer/"),
    _rule("produce", r"faust/transport/drivers/aiokafka\.py", r"^Producer\."),
    _rule("produce", r"faust/topics\.py"),
    # reached only outside the consumer's thread (OUTER), where aiokafka's connections are the producer's
    _rule("produce", r"aiokafka/(conn\.py|client\.py|protocol/)"),
    _rule("fetch", r"(faust/transport/(consumer|conductor)\.py|faust/streams\.py|faust/channels\.py)"),
    _rule("fetch", r"(^|/)streams/kafka/faust_fixes\.py"),
    _rule("fetch", r"aiokafka/consumer/"),
    _rule("framework/other", _ENTRY),
    _rule("worker loop", _OURS),
)


def parse_frame(frame: str) -> tuple[str, str]:
    """(function, file) of a py-spy frame `func (file:line)`."""
    m = _FRAME.match(frame)
    if m is None:
        return frame, ""
    return m["func"], m["file"]


def _site_relative(file: str) -> str:
    """Library files as `faust/...`, `aiokafka/...`, so that a checkout's own `streams/` is told from theirs."""
    return file.split("site-packages/", 1)[1] if "site-packages/" in file else file


def classify(frames: list[str]) -> str:
    """The stage of one sample: its frames from the root to the leaf (process and thread entries left out)."""
    parsed = [(func, _site_relative(file)) for func, file in map(parse_frame, frames)]
    for rule in OUTER:
        if any(rule.matches(func, file) for func, file in parsed):
            return rule.stage
    for func, file in reversed(parsed):
        for rule in INNER:
            if rule.matches(func, file):
                return rule.stage
    return "framework/other"


_THREAD = re.compile(r"^thread \((?P<tid>\d+)\)(?::\s*(?P<name>.*))?$")


def samples_by_stage(collapsed: str) -> tuple[dict[int | None, Counter[str]], dict[int | None, str], Counter[str]]:
    """Samples per stage for each thread (by its OS thread id, from py-spy's `--threads` entries
    `thread (<tid>): <name>`; None for samples without one), the threads' names, and the samples left to
    framework/other by leaf frame, from py-spy's raw output."""
    groups: dict[int | None, Counter[str]] = {}
    names: dict[int | None, str] = {}
    other: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = [f for f in stack.split(";") if f]
        label = next((f for f in parts if f.startswith("thread ")), "")
        m = _THREAD.match(label)
        tid = int(m["tid"]) if m else None
        frames = [f for f in parts if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n = int(count)
        stage = classify(frames)
        groups.setdefault(tid, Counter())[stage] += n
        names.setdefault(tid, (m["name"] or "") if m else "")
        if stage == "framework/other":
            func, file = parse_frame(frames[-1])
            other[f"{func} ({_site_relative(file).rsplit('/', 1)[-1] if file else ''})"] += n
    return groups, names, other


def stage_table(collapsed: str, events: int, cpu_by_thread: dict[int, float]) -> dict[str, Any]:
    """CPU per event by stage, in `STAGES` order: for each thread, a stage's share of that thread's samples ×
    the thread's CPU seconds (`cpu_by_thread`: by OS thread id, `/proc/<pid>/task/<tid>/stat` over the
    sampler's window), summed over the threads, / `events`. Weighting by each thread's own CPU corrects py-spy's
    samples, which over-count CPU time and unevenly across threads (on a busy machine, 3 to 6 times a thread's
    CPU: benchmarks/README.md). Samples without a known thread share the CPU of the threads that have no samples of
    their own; CPU of threads never sampled, if no such samples, counts as framework/other."""
    groups, names, other = samples_by_stage(collapsed)
    known = {tid for tid in groups if tid is not None and tid in cpu_by_thread}
    rest_cpu = sum(cpu for tid, cpu in cpu_by_thread.items() if tid not in known)
    micros: Counter[str] = Counter()
    threads = []
    for tid, counts in groups.items():
        cpu = cpu_by_thread[tid] if tid in known else 0.0
        threads.append({"tid": tid, "name": names.get(tid, ""), "samples": sum(counts.values()), "cpu_s": cpu})
    rest = Counter[str]()
    for tid, counts in groups.items():
        if tid not in known:
            rest.update(counts)
    weighted = [(groups[tid], cpu_by_thread[tid]) for tid in known]
    if sum(rest.values()):
        weighted.append((rest, rest_cpu))
    elif rest_cpu:
        micros["framework/other"] += rest_cpu / events * 1e6
    for counts, cpu in weighted:
        total = sum(counts.values())
        for stage, n in counts.items():
            micros[stage] += n / total * cpu / events * 1e6
    all_us = sum(micros.values())
    samples = sum(sum(c.values()) for c in groups.values())
    rows = [
        {
            "stage": stage,
            "us_per_event": micros[stage],
            "share": micros[stage] / all_us if all_us else 0.0,
            "samples": sum(c[stage] for c in groups.values()),
        }
        for stage in STAGES
    ]
    return {
        "samples": samples,
        "threads": sorted(threads, key=lambda t: -t["samples"]),
        "cpu_s": sum(cpu_by_thread.values()),
        "events": events,
        "us_per_event": sum(cpu_by_thread.values()) / events * 1e6,
        "stages": rows,
        "other_top": [(name, n / samples if samples else 0.0) for name, n in other.most_common(8)],
    }
