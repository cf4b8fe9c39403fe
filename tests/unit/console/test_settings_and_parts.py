"""The console's settings (safe bind, accounts), the what-if policy form, the workers' figures, and the one
mechanism for a person's decision (`Who`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from models.policy_file import load_policy
from streams.console.settings import Accounts, ConsoleSettings, load_console_settings, load_users
from streams.console.whatif import FORM_FIELDS, policy_from_form, threshold_changes
from streams.console.workers import Figures, add_metrics
from streams.executor.commands import Who
from streams.executor.settings import ExecutorSettings
from streams.offline.commands import diff_policies
from streams.settings import Settings, SettingsError
from streams.worker.metrics import Metrics

SAMPLE = Path(__file__).resolve().parents[3] / "streams" / "samples" / "day.jsonl"


def _executor() -> ExecutorSettings:
    return ExecutorSettings(kafka=Settings(), dry_run=True)


def test_it_binds_to_loopback_and_refuses_elsewhere_without_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ConsoleSettings(executor=_executor()).host == "127.0.0.1"
    with pytest.raises(SettingsError, match="refusing to listen on 0.0.0.0 without sign-in"):
        load_console_settings(_executor(), host="0.0.0.0")  # noqa: S104
    assert load_console_settings(_executor(), host="0.0.0.0", token="t" * 20).host == "0.0.0.0"  # noqa: S104
    assert load_console_settings(_executor(), host="::1").host == "::1"
    monkeypatch.setenv("POSTSALE_CONSOLE_WORKERS", "http://w1:6066/, http://w2:6066")
    assert load_console_settings(_executor()).workers == ["http://w1:6066", "http://w2:6066"]
    monkeypatch.setenv("POSTSALE_CONSOLE_WORKERS", "w1:6066")
    with pytest.raises(SettingsError, match="not an http"):
        load_console_settings(_executor())


def test_accounts_from_a_users_file(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"bea-token").hexdigest()
    users = tmp_path / "users.yaml"
    users.write_text(
        f"users:\n  - {{name: Ana, token_env: TOK_ANA}}\n  - {{name: Bea, token_sha256: {digest}, store: store-b}}\n"
    )
    accounts = Accounts(load_users(users, {"TOK_ANA": "ana-token"}))
    ana, bea = accounts.find("ana-token"), accounts.find("bea-token")
    assert ana is not None and ana.store is None and ana.sees("store-x")
    assert bea is not None and bea.store == "store-b" and not bea.sees("store-a") and bea.sees("store-b")
    assert accounts.find("wrong") is None and accounts.find("") is None and not accounts.open
    with pytest.raises(SettingsError, match="TOK_ANA is not set"):
        load_users(users, {})
    users.write_text("users:\n  - {name: Ana}\n")
    with pytest.raises(SettingsError, match="token_sha256 or token_env"):
        load_users(users, {})


def test_the_policy_form_changes_only_what_it_names() -> None:
    a = load_policy()
    unchanged = policy_from_form(a, {"t_unknown": "3"}, "b")
    assert threshold_changes(a, unchanged) == {}
    assert diff_policies(SAMPLE, a, unchanged).to_json()["added"] == 0  # overrides survive the copy
    b = policy_from_form(a, {"t_max_reorder_attempts": "0", "t_evidence_wait_days": " "}, "b")
    assert threshold_changes(a, b) == {"max_reorder_attempts": (1, 0)}
    d = diff_policies(SAMPLE, a, b)
    moved = d.money_moved()
    assert moved["USD"] > 0 and moved["CNY"] > 0 and d.penalty_moved() == {"store-hz-01": 48}
    with pytest.raises(ValueError, match="max_reorder_attempts: not a number"):
        policy_from_form(a, {"t_max_reorder_attempts": "many"}, "b")
    with pytest.raises(ValueError):
        policy_from_form(a, {"t_handling_time_hours": "-5"}, "b")
    assert "penalty_points_alert_at" in FORM_FIELDS and "calendar" not in FORM_FIELDS


def test_diff_reports_progress_over_both_passes() -> None:
    read: list[int] = []
    a = load_policy()
    diff_policies(SAMPLE, a, a, on_progress=read.append)
    assert sum(read) == 2 * SAMPLE.stat().st_size


def test_store_figures_are_summed_over_the_workers() -> None:
    texts = []
    for points in (30, 18):
        registry = CollectorRegistry()
        m = Metrics.create(registry, Settings())
        m.store_penalty_points.labels(store="s1").set(points)
        m.store_orders_in_window.labels(store="s1").set(100)
        m.store_disputes_in_window.labels(store="s1").set(3)
        m.refunds.labels(party="customer", currency="USD", store="s1").inc(2)
        m.refund_amount.labels(party="customer", currency="USD", store="s1").inc(55.5)
        m.refunds.labels(party="supplier", currency="USD", store="s1").inc(7)
        m.open_orders.labels(stage="shipped").set(4)
        texts.append(generate_latest(registry).decode())
    figures = Figures()
    for text in texts:
        add_metrics(figures, text)
    s1 = figures.stores["s1"]
    assert (s1.penalty_points, s1.orders_in_window, s1.disputes_in_window) == (48, 200, 6)
    assert s1.refunds == {"USD": 4} and s1.refund_amount == {"USD": 111.0} and s1.dispute_rate == 0.03
    assert figures.open_orders["shipped"] == 8


def test_a_decision_needs_an_operator_and_a_reason() -> None:
    with pytest.raises(ValueError, match="operator name and a reason"):
        Who(operator=" ", reason="because")
    with pytest.raises(ValueError):
        Who(operator="Ana", reason="")
    assert Who(operator="Ana", reason="checked", via="console", store="s1").store == "s1"


def test_decisions_on_one_action_take_turns_and_leave_nothing_behind() -> None:
    import asyncio

    from streams.executor import commands

    order: list[str] = []

    async def decide(name: str, action_id: str) -> None:
        async with commands._deciding(action_id):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    async def go() -> None:
        await asyncio.gather(decide("a", "act-1"), decide("b", "act-1"), decide("c", "act-1"))

    asyncio.run(go())
    assert order == ["a in", "a out", "b in", "b out", "c in", "c out"]
    assert commands._decisions == {}
