"""What if through the console's HTTP interface: an uploaded history and a pasted policy file, run in the
background with progress, the result page, the changes as CSV, and an example order under both policies."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp

from streams.console.board import Board
from tests.unit.console.support import close, console_client

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "streams" / "samples" / "day.jsonl"
POLICY = ROOT / "models" / "default_policy.yaml"


def test_an_uploaded_history_and_policy_file_run_in_the_background(tmp_path: Path) -> None:
    b_yaml = (
        POLICY.read_text()
        .replace('version: "2026.11-default"', 'version: "try-no-reorder"')
        .replace("max_reorder_attempts: 1 ", "max_reorder_attempts: 0 ")
    )

    async def go() -> None:
        client, closers = await console_client(tmp_path / "work", Board(), None)
        try:
            page = await (await client.get("/whatif")).text()
            assert 'value="day.jsonl"' in page  # the server's own files are offered
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf
            form = aiohttp.FormData()
            form.add_field("csrf", csrf.group(1))
            form.add_field("events_file", "")
            form.add_field("events_upload", SAMPLE.read_bytes(), filename="mine.jsonl")
            form.add_field("policy_upload", b_yaml.encode(), filename="b.yaml")
            started = await client.post("/whatif", data=form, allow_redirects=False)
            assert started.status == 303, await started.text()
            run_url = started.headers["Location"]
            for _ in range(300):
                status = await (await client.get(f"{run_url}/status")).json()
                assert 0 <= status["progress"] <= 1
                if status["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.1)
            assert status["status"] == "done", status
            result = await (await client.get(run_url)).text()
            assert "uploaded file" in result and "try-no-reorder" in result
            assert "+168.73" in result and "+1692.00" in result and "+48" in result
            csv = await (await client.get(f"{run_url}/changes.csv?rule=no_stock")).text()
            rows = csv.strip().splitlines()
            assert rows[0] == "change,order,rule,type,under A,under B,action_id"
            assert len(rows) > 1 and all(",no_stock," in r for r in rows[1:])
            example = re.search(r'href="(/whatif/[^"]+/orders/[^"]+)"', result)
            assert example
            both = await (await client.get(example.group(1))).text()
            assert "2026.11-default" in both and "try-no-reorder" in both
        finally:
            await close(closers)

    asyncio.run(go())


def test_a_bad_policy_or_no_history_is_explained(tmp_path: Path) -> None:
    async def go() -> None:
        client, closers = await console_client(tmp_path / "work", Board(), None)
        try:
            page = await (await client.get("/whatif")).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf
            form = aiohttp.FormData()
            form.add_field("csrf", csrf.group(1))
            form.add_field("events_file", "day.jsonl")
            form.add_field("policy_yaml", "version: x\ndefaults: {handling_time_hours: -1}\n")
            bad = await client.post("/whatif", data=form)
            assert bad.status == 400 and "handling_time_hours" in await bad.text()
            form = aiohttp.FormData()
            form.add_field("csrf", csrf.group(1))
            form.add_field("events_file", "../../etc/passwd")
            outside = await client.post("/whatif", data=form)
            assert outside.status == 400 and "choose an events file" in await outside.text()
            form = aiohttp.FormData()
            form.add_field("csrf", "forged")
            form.add_field("events_file", "day.jsonl")
            assert (await client.post("/whatif", data=form)).status == 403  # an expired or forged form
        finally:
            await close(closers)

    asyncio.run(go())


def test_nothing_is_uploaded_before_the_form_is_checked(tmp_path: Path) -> None:
    async def go() -> None:
        work = tmp_path / "work"
        client, closers = await console_client(work, Board(), None)
        try:
            await client.get("/whatif")  # a session, whose token this form does not carry first
            form = aiohttp.FormData()
            form.add_field("events_upload", SAMPLE.read_bytes(), filename="mine.jsonl")
            form.add_field("csrf", "forged")
            refused = await client.post("/whatif", data=form)
            assert refused.status == 400 and "expired" in await refused.text()
            assert not list(work.glob("run-*/events.jsonl"))
        finally:
            await close(closers)

    asyncio.run(go())


def test_a_run_shows_progress_and_the_pages_stay_quick_meanwhile(tmp_path: Path) -> None:
    import time
    from datetime import UTC, datetime

    from streams.simulator import generate, write_jsonl

    events_dir = tmp_path / "events"
    events_dir.mkdir()
    write_jsonl(events_dir / "month.jsonl", generate(seed=2, orders=800, start=datetime(2026, 11, 1, tzinfo=UTC)))

    async def go() -> None:
        client, closers = await console_client(tmp_path / "work", Board(), None, events_dir=events_dir)
        try:
            page = await (await client.get("/whatif")).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf and 'value="month.jsonl"' in page
            form = {"csrf": csrf.group(1), "events_file": "month.jsonl", "t_max_reorder_attempts": "0"}
            started = await client.post("/whatif", data=form, allow_redirects=False)
            run_url = started.headers["Location"]
            seen: list[float] = []
            slowest = 0.0
            for _ in range(1200):
                status = await (await client.get(f"{run_url}/status")).json()
                seen.append(status["progress"])
                if status["status"] in ("done", "failed"):
                    break
                t0 = time.monotonic()
                assert (await client.get("/live")).status == 200
                slowest = max(slowest, time.monotonic() - t0)
                await asyncio.sleep(0.05)
            assert status["status"] == "done", status
            assert any(0 < p < 1 for p in seen), seen  # the bar moved before the end
            assert seen == sorted(seen) and seen[-1] == 1
            assert slowest < 1.0, f"a page took {slowest:.2f} s while the run was going"
        finally:
            await close(closers)

    asyncio.run(go())
