"""POSTSALE_LOG_FORMAT: the worker's and the executor's log lines, through their logging set-up."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from models.actions import Action
from streams.build import package_version
from streams.logconfig import _Handler, configure_logging
from streams.settings import load_settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for h in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(h)
    root.setLevel(level)


def run_worker_logging(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    """`run_worker` with Faust's worker replaced by one that logs a line: what the process writes to stderr."""
    import streams.worker.run as run

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)

    class FakeWorker:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def execute_from_commandline(self) -> None:
            logging.getLogger("postsale.worker").warning("partition %d assigned", 3)
            try:
                raise RuntimeError("broker gone")
            except RuntimeError:
                logging.getLogger("postsale.worker").exception("send failed")

    monkeypatch.setattr(run, "build", lambda settings, policy: SimpleNamespace(app=None))
    monkeypatch.setattr(run, "StartingWorker", FakeWorker)
    run.run_worker(settings, policy=None)  # type: ignore[arg-type]
    return stderr.getvalue()


def test_a_worker_log_line_is_json_with_its_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_worker_logging(monkeypatch, {"POSTSALE_LOG_FORMAT": "json", "POSTSALE_APP_ID": "shop-a"})
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["message"] == "partition 3 assigned"
    assert first["level"] == "WARNING" and first["logger"] == "postsale.worker"
    assert first["service"] == "postsale-worker" and first["app_id"] == "shop-a"
    assert first["version"] == package_version()
    stamp = datetime.fromisoformat(first["timestamp"])
    assert stamp.tzinfo is not None and abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert second["level"] == "ERROR" and "RuntimeError: broker gone" in second["exc_info"]


def test_the_default_stays_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_worker_logging(monkeypatch, {})
    first = out.splitlines()[0]
    assert first.endswith("WARNING postsale.worker: partition 3 assigned")
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)


def test_a_bad_log_format_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.settings import SettingsError

    monkeypatch.setenv("POSTSALE_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="POSTSALE_LOG_FORMAT"):
        load_settings()


def test_setting_up_twice_does_not_double_lines() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", service="postsale-worker", app_id="postsale", stream=stream)
    configure_logging("info", "json", service="postsale-worker", app_id="postsale", stream=stream)
    logging.getLogger("postsale.worker").info("once")
    assert len(stream.getvalue().splitlines()) == 1
    assert len([h for h in logging.getLogger().handlers if isinstance(h, _Handler)]) == 1


def test_an_executor_line_carries_the_action_fields_and_nothing_about_the_customer() -> None:
    from streams.executor.delivery import log_fields

    stream = io.StringIO()
    configure_logging("info", "json", service="postsale-executor", app_id="postsale-executor", stream=stream)
    action = Action(
        action_id="act-1",
        order_id="o-1",
        store_id="store-a",
        type="refund",
        rule="no_stock",
        policy_version="p1",
        decided_at=datetime(2026, 3, 1, tzinfo=UTC),
        caused_by=("e-1",),
        reason="not shipped",
        party="customer",
        amount=Decimal("12.50"),
        currency="USD",
    )
    logging.getLogger("postsale.executor").error(
        "refund act-1 failed", extra=log_fields(action, "failed", http_status=401, reason="HTTP 401")
    )
    line = json.loads(stream.getvalue())
    assert line["service"] == "postsale-executor"
    assert {k: line[k] for k in ("action_id", "action_type", "store_id", "status", "http_status")} == {
        "action_id": "act-1",
        "action_type": "refund",
        "store_id": "store-a",
        "status": "failed",
        "http_status": 401,
    }
    assert set(log_fields(action, "done")) == {"action_id", "action_type", "order_id", "store_id", "status"}
