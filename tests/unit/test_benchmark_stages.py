"""The benchmark's CPU-by-stage table: py-spy frames mapped to the worker's stages, CPU weighted per thread."""

from __future__ import annotations

import pytest

from benchmarks.stages import STAGES, classify, stage_table

SITE = "/work/.venv/lib/python3.11/site-packages"
MAIN = [
    "_run_module_as_main (<frozen runpy>:198)",
    "<module> (streams/cli.py:5)",
    "run_worker (streams/worker/run.py:40)",
    "BaseEventLoop._run_once (asyncio/base_events.py:1922)",
    "Handle._run (asyncio/events.py:80)",
]
AGENT = [
    *MAIN,
    f"Agent._execute_actor ({SITE}/faust/agents/agent.py:698)",
    "OrderLoop.flush (streams/worker/agents.py:75)",
]
CONSUMER_THREAD = [
    "Thread._bootstrap (threading.py:1002)",
    f"WorkerThread.run ({SITE}/mode/threads.py:62)",
    "BaseEventLoop._run_once (asyncio/base_events.py:1922)",
]


@pytest.mark.parametrize(
    ("frames", "stage"),
    [
        (
            [
                *AGENT,
                "Decider._apply (streams/worker/decide.py:259)",
                "handle_event (rules/engine.py:325)",
                "Plan.schedule (rules/base.py:162)",
                "OrderState.evolve (models/state.py:225)",
            ],
            "rules",
        ),
        (
            [*AGENT, "Decider._state (streams/worker/decide.py:90)", "decode_state (streams/worker/codec.py:53)"],
            "state",
        ),
        (
            [
                *AGENT,
                "Settler.store (streams/worker/settle.py:101)",
                "encode_state (streams/worker/codec.py:38)",
                f"TypeAdapter.dump_json ({SITE}/pydantic/type_adapter.py:651)",
            ],
            "state",
        ),
        (
            [
                *AGENT,
                "Settler.store (streams/worker/settle.py:101)",
                f"ManagedUserDict.__setitem__ ({SITE}/mode/utils/collections.py:656)",
                f"Table.on_key_set ({SITE}/faust/tables/table.py:91)",
                f"Collection.send_changelog ({SITE}/faust/tables/base.py:301)",
                f"AIOKafkaProducer.send ({SITE}/aiokafka/producer/producer.py:467)",
            ],
            "changelog",
        ),
        (
            [
                *MAIN,
                f"ProducerBuffer._send_pending ({SITE}/faust/transport/producer.py:80)",
                f"Topic.publish_message ({SITE}/faust/topics.py:409)",
            ],
            "changelog",
        ),
        (
            [
                *AGENT,
                "Decider._decide (streams/worker/decide.py:300)",
                "Outbox.action (streams/worker/outbox.py:80)",
                "dump_action (models/actions.py:200)",
            ],
            "produce",
        ),
        (
            [
                *MAIN,
                f"Sender._send_produce_req ({SITE}/aiokafka/producer/sender.py:300)",
                f"AIOKafkaConnection.send ({SITE}/aiokafka/conn.py:450)",
                "_SelectorSocketTransport.write (asyncio/selector_events.py:1057)",
            ],
            "produce",
        ),
        (
            [
                *AGENT,
                "OrderLoop.take (streams/worker/agents.py:60)",
                "Intake._decode (streams/worker/intake.py:90)",
                "parse_event (models/events.py:400)",
                f"TypeAdapter.validate_json ({SITE}/pydantic/type_adapter.py:466)",
            ],
            "decode",
        ),
        (
            [*AGENT, "OrderLoop.take (streams/worker/agents.py:60)", "Routing.route (streams/worker/routing.py:40)"],
            "worker loop",
        ),
        ([*AGENT, "Decider._fire (streams/worker/decide.py:200)", "advance (rules/engine.py:369)"], "rules"),
        ([*CONSUMER_THREAD, f"Fetcher._proc_fetch_request ({SITE}/aiokafka/consumer/fetcher.py:700)"], "fetch"),
        ([*CONSUMER_THREAD, "EpollSelector.select (selectors.py:468)"], "fetch"),
        (
            [
                *CONSUMER_THREAD,
                f"GroupCoordinator.commit_offsets ({SITE}/aiokafka/consumer/group_coordinator.py:900)",
                f"AIOKafkaConnection.send ({SITE}/aiokafka/conn.py:450)",
            ],
            "commit",
        ),
        ([*MAIN, f"Consumer._commit_handler ({SITE}/faust/transport/consumer.py:900)"], "commit"),
        (
            [
                *MAIN,
                f"Consumer._commit_livelock_detector ({SITE}/faust/transport/consumer.py:950)",
                f"Consumer.verify_all_partitions_active ({SITE}/faust/transport/consumer.py:960)",
            ],
            "framework/other",
        ),
        (
            [
                *MAIN,
                "deliver_eagerly (streams/kafka/faust_fixes.py:284)",
                f"Conductor.on_message ({SITE}/faust/transport/conductor.py:307)",
            ],
            "fetch",
        ),
        ([*MAIN, "EpollSelector.select (selectors.py:468)"], "framework/other"),
        (MAIN, "framework/other"),
    ],
)
def test_frames_map_to_stages(frames: list[str], stage: str) -> None:
    assert classify(frames) == stage


def _line(thread: str, frames: list[str], n: int) -> str:
    return ";".join([thread, *frames]) + f" {n}"


def test_cpu_per_event_is_each_threads_cpu_shared_by_its_samples() -> None:
    main = "thread (100): MainThread"
    other = "thread (101): Thread-1"
    collapsed = "\n".join(
        [
            _line(main, [*AGENT, "handle_event (rules/engine.py:325)"], 30),
            _line(
                main,
                [*AGENT, "Settler.store (streams/worker/settle.py:101)", "encode_state (streams/worker/codec.py:38)"],
                10,
            ),
            _line(other, [*CONSUMER_THREAD, "EpollSelector.select (selectors.py:468)"], 40),  # oversampled thread
        ]
    )
    table = stage_table(collapsed, events=1000, cpu_by_thread={100: 0.8, 101: 0.2})
    us = {row["stage"]: row["us_per_event"] for row in table["stages"]}
    assert [row["stage"] for row in table["stages"]] == list(STAGES)
    assert us["rules"] == pytest.approx(600.0)
    assert us["state"] == pytest.approx(200.0)
    assert us["fetch"] == pytest.approx(200.0)
    assert sum(us.values()) == pytest.approx(table["us_per_event"]) == pytest.approx(1000.0)
    assert [(t["name"], t["samples"], t["cpu_s"]) for t in table["threads"]] == [
        ("MainThread", 40, 0.8),
        ("Thread-1", 40, 0.2),
    ]


def test_cpu_of_a_thread_never_sampled_is_framework_other() -> None:
    collapsed = _line("thread (100): MainThread", [*AGENT, "handle_event (rules/engine.py:325)"], 5)
    us = {row["stage"]: row["us_per_event"] for row in stage_table(collapsed, 100, {100: 0.3, 102: 0.1})["stages"]}
    assert us["rules"] == pytest.approx(3000.0) and us["framework/other"] == pytest.approx(1000.0)


def test_without_thread_entries_the_whole_cpu_is_shared_by_all_samples() -> None:
    collapsed = "\n".join(
        [
            _line("process 5:python", [*AGENT, "handle_event (rules/engine.py:325)"], 3),
            _line("process 5:python", [*CONSUMER_THREAD, "EpollSelector.select (selectors.py:468)"], 1),
        ]
    )
    us = {row["stage"]: row["us_per_event"] for row in stage_table(collapsed, 100, {7: 0.3, 8: 0.1})["stages"]}
    assert us["rules"] == pytest.approx(3000.0) and us["fetch"] == pytest.approx(1000.0)
