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


def samples_by_stage(collapsed: str) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Samples per stage for the main thread ("main") and the others ("other": the consumer's thread), and per
    leaf frame of the samples left to framework/other, from py-spy's raw output. Without py-spy's `--threads`
    (no `thread (...)` entries) every sample counts as the main thread's."""
    entries: list[tuple[str, list[str], int]] = []
    main_threads: set[str] = set()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts = [f for f in stack.split(";") if f]
        thread = next((f for f in parts if f.startswith("thread ")), "")
        frames = [f for f in parts if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if frames[0].startswith("_run_module_as_main") or not thread:
            main_threads.add(thread)
        entries.append((thread, frames, int(count)))
    groups: dict[str, Counter[str]] = {"main": Counter(), "other": Counter()}
    other: Counter[str] = Counter()
    for thread, frames, n in entries:
        stage = classify(frames)
        groups["main" if thread in main_threads else "other"][stage] += n
        if stage == "framework/other":
            func, file = parse_frame(frames[-1])
            other[f"{func} ({_site_relative(file).rsplit('/', 1)[-1] if file else ''})"] += n
    return groups, other


def stage_table(collapsed: str, events: int, main_cpu_s: float, other_cpu_s: float = 0.0) -> dict[str, Any]:
    """CPU per event by stage, in `STAGES` order: in each thread group, a stage's share of the group's samples ×
    the group's CPU seconds (`/proc/<pid>/task/<tid>/stat` over the sampler's window: the main thread is the
    process's own id), summed, / `events`. Weighting by each thread's CPU corrects for samples of a thread that
    was runnable but not running (the sampler counts it: on a busy machine, up to twice its CPU). Without
    thread entries the whole CPU is weighted by the one group."""
    groups, other = samples_by_stage(collapsed)
    if not sum(groups["other"].values()):
        main_cpu_s, other_cpu_s = main_cpu_s + other_cpu_s, 0.0
    cpu = {"main": main_cpu_s, "other": other_cpu_s}
    micros: Counter[str] = Counter()
    for group, counts in groups.items():
        total = sum(counts.values())
        for stage, n in counts.items():
            micros[stage] += n / total * cpu[group] / events * 1e6
    all_us = sum(micros.values())
    samples = sum(sum(c.values()) for c in groups.values())
    rows = [
        {
            "stage": stage,
            "us_per_event": micros[stage],
            "share": micros[stage] / all_us if all_us else 0.0,
            "samples": groups["main"][stage] + groups["other"][stage],
        }
        for stage in STAGES
    ]
    return {
        "samples": samples,
        "samples_main_thread": sum(groups["main"].values()),
        "samples_other_threads": sum(groups["other"].values()),
        "cpu_s_main_thread": main_cpu_s,
        "cpu_s_other_threads": other_cpu_s,
        "events": events,
        "us_per_event": (main_cpu_s + other_cpu_s) / events * 1e6,
        "stages": rows,
        "other_top": [(name, n / samples if samples else 0.0) for name, n in other.most_common(8)],
    }
