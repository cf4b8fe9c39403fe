"""The after-sales console in a real browser (Debian's chromium, driven by Playwright), against a real broker,
worker, executor and Standard Webhooks receiver, with the console itself run as `postsale console`.

What a manager does is what is checked: the live feed shows a decision within seconds of its event; a held
refund is released from the page, the receiver is paid once (a second release finds nothing to release), and
the audit trail on the order's page says who and why; an order's page shows its timeline; an account scoped to
one store cannot see another store's order; a what-if run shows the customer refunds and penalty points moved.

Each page is photographed at 1280x800 (and the live page at phone width) into `build/screenshots/console/`
(or `POSTSALE_SCREENSHOTS`), outside git, for a person to look at. These tests are never skipped: without
chromium they fail, saying how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from models.actions import Action, dump_action
from streams.demo.broker import EmbeddedBroker
from streams.simulator import generate
from tests.factories import cancel_requested, paid, placed
from tests.integration.conftest import broker  # noqa: F401 - the session's broker
from tests.integration.executor_support import (
    Receiver,
    cli,
    executor_env,
    serve_receiver,
    start_executor,
    until,
    write_config,
)
from tests.integration.kafka import (
    ROOT,
    Wire,
    WorkerProcess,
    free_port,
    new_wire,
    produce_events,
    produce_raw,
    spawn,
    start_worker,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]
T = TypeVar("T")

CHROMIUM = os.environ.get("POSTSALE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOTS = Path(os.environ.get("POSTSALE_SCREENSHOTS", ROOT / "build" / "screenshots" / "console"))
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ANA_TOKEN = "ana-0b6a2f4c9d1e7358"  # every store
SAM_TOKEN = "sam-7c3e9a1f05d2b846"  # store-b only


def shot(page: Any, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _event(e: Any) -> dict[str, Any]:
    return orjson.loads(e.model_dump_json(exclude_none=True))


def cancelled_order(order_id: str, store: str, amount: str, now: datetime) -> list[dict[str, Any]]:
    """A paid, unshipped order the buyer cancels: the engine cancels it and refunds the customer `amount` USD."""
    return [
        _event(placed(order_id, at=now, currency="USD", amount=amount, store_id=store, marketplace="shopify",
                      dest="US", event_id=f"{order_id}-placed")),
        _event(paid(order_id, at=now, event_id=f"{order_id}-paid")),
        _event(cancel_requested(order_id, at=now, event_id=f"{order_id}-cancel")),
    ]  # fmt: skip


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a thread of its own: Playwright's sync API keeps an event loop in this one, and the Kafka
    helpers start their own with `asyncio.run`."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result(300)


def send(wire: Wire, events: list[dict[str, Any]]) -> None:
    off_loop(produce_events, wire, events)


def history(now: datetime) -> list[dict[str, Any]]:
    """Three weeks of a simulated store (three shops, every playbook row), up to a minute ago: the pages show a
    store's ordinary day besides each test's own orders."""
    events = generate(seed=5, orders=60, start=now - timedelta(days=21), orders_per_hour=0.25)
    return [e for e in events if datetime.fromisoformat(e["occurred_at"]) < now - timedelta(minutes=1)]


@dataclass
class Stack:
    wire: Wire
    receiver: Receiver
    worker: WorkerProcess
    executor: WorkerProcess
    console: WorkerProcess
    env: dict[str, str]
    url: str


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("console")
    wire = off_loop(new_wire, broker, "console")
    rec_iter = serve_receiver()
    receiver = next(rec_iter)
    web_port, console_port = free_port(), free_port()
    worker = start_worker(wire, tmp, "w", POSTSALE_WEB_ENABLED="true", POSTSALE_WEB_PORT=str(web_port))
    env = executor_env(wire, write_config(tmp, receiver.port, single="100", per_hour="100000"))
    executor = start_executor(env, tmp, "ex")
    users = tmp / "users.yaml"
    users.write_text(
        "users:\n"
        "  - {name: Ana Lima, token_env: CONSOLE_TOKEN_ANA}\n"
        "  - {name: Sam Okafor, token_env: CONSOLE_TOKEN_SAM, store: store-b}\n"
    )
    console_env = {
        **env,
        "POSTSALE_CONSOLE_PORT": str(console_port),
        "POSTSALE_CONSOLE_WORKERS": f"http://127.0.0.1:{web_port}",
        "POSTSALE_CONSOLE_USERS_FILE": str(users),
        "POSTSALE_CONSOLE_WORK_DIR": str(tmp / "console-work"),
        "CONSOLE_TOKEN_ANA": ANA_TOKEN,
        "CONSOLE_TOKEN_SAM": SAM_TOKEN,
    }
    console = WorkerProcess(spawn(["streams.cli", "console"], console_env, tmp / "console.log"), tmp / "console.log")
    url = f"http://127.0.0.1:{console_port}"
    try:
        until(lambda: "console: http://" in console.log_text() or not console.alive(), 60, "the console to listen")
        assert console.alive(), console.log_text()[-3000:]
        until(lambda: _get(f"http://127.0.0.1:{web_port}/health/ready") == 200, 90, "the worker to be ready")
        send(wire, history(datetime.now(UTC).replace(microsecond=0)))
        yield Stack(wire, receiver, worker, executor, console, env, url)
    finally:
        console.stop()
        executor.stop()
        worker.stop()
        for _ in rec_iter:
            pass


def _get(url: str) -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own loopback endpoint
            return int(resp.status)
    except OSError as exc:
        return int(getattr(exc, "code", 0) or 0)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMIUM)):
        pytest.fail(
            f"{CHROMIUM} is missing: the console's browser tests need Debian's chromium "
            "(apt-get install -y chromium chromium-driver; scripts/setup --with-system does it as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


def signed_in(browser: Any, stack: Stack, token: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """A fresh browser context signed in through the sign-in page."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{stack.url}/live")
    assert "/login" in page.url
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/live"))
    return page


def test_the_live_feed_shows_a_decision_within_seconds(stack: Stack, browser: Any) -> None:
    page = signed_in(browser, stack, ANA_TOKEN)
    page.wait_for_selector("#live-state:text('live')", timeout=15_000)
    now = datetime.now(UTC).replace(microsecond=0)
    sent = time.monotonic()
    send(stack.wire, cancelled_order("L-100", "store-b", "30.00", now))
    row = page.locator("#live tbody tr", has_text="L-100").filter(has_text="refund customer 30.00 USD")
    row.first.wait_for(timeout=20_000)
    seconds = time.monotonic() - sent
    assert seconds < 15, f"the decision took {seconds:.1f} s to show"
    print(f"live feed: a decision on the page {seconds:.1f} s after its events were sent")
    assert row.first.locator("td").nth(3).inner_text() == "customer_cancel"
    # Each row links to its order.
    assert row.first.locator("a").get_attribute("href") == "/orders/L-100"
    # Filters narrow the list (server side) and the CSV export carries them.
    page.goto(f"{stack.url}/live?type=refund")
    types = page.locator("#live tbody tr td:nth-child(5)").all_inner_texts()
    assert types and all(t.startswith("refund") for t in types)
    csv_href = page.locator("a.csv").get_attribute("href")
    assert csv_href == "/live.csv?type=refund"
    csv_text = page.request.get(f"{stack.url}{csv_href}").text()
    assert "L-100" in csv_text and "cancel_supplier_order" not in csv_text
    page.goto(f"{stack.url}/live")
    page.wait_for_selector("#live-state:text('live')")
    shot(page, "live")
    phone = signed_in(browser, stack, ANA_TOKEN, PHONE)
    phone.wait_for_selector("#live tbody tr")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # no sideways page scroll
    shot(phone, "live-phone")
    phone.context.close()
    page.context.close()


def test_a_held_refund_is_released_from_the_page_and_paid_once(stack: Stack, browser: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    send(stack.wire, cancelled_order("H-200", "store-a", "250.00", now))  # above the 100 USD limit
    page = signed_in(browser, stack, ANA_TOKEN)
    card = page.locator("article.card.held", has_text="H-200")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page.goto(f"{stack.url}/needs")
        if card.count():
            break
        time.sleep(1)
    assert card.count() == 1, "the held refund never reached the page"
    assert "250.00 USD" in card.inner_text() and "single-refund limit" in card.inner_text()
    action_id = card.get_attribute("data-action")
    assert action_id and stack.receiver.keys_for("H-200") == []  # held: the receiver was never called
    # The engine escalated it too (a person must decide), listed among the escalations.
    escalation = page.locator("table tr", has_text="H-200").filter(has_text="refund_held")
    until(lambda: page.reload() is not None and escalation.count() > 0, 30, "the refund_held escalation")
    shot(page, "needs")
    card = page.locator("article.card.held", has_text="H-200")
    card.locator("input[name=operator]").fill("Ana Lima")
    card.locator("input[name=reason]").fill("buyer confirmed the cancellation by phone")
    card.locator("button[value=release]").click()
    page.wait_for_selector("#confirm")
    assert "Release this refund?" in page.inner_text("h1")
    shot(page, "confirm")
    page.click("#confirm")
    page.wait_for_url(re.compile(r".*/orders/H-200\?decided=.*"), timeout=60_000)
    assert "release: done" in page.inner_text("#decided")
    until(lambda: stack.receiver.keys_for("H-200") == [action_id], 10, "the receiver's call")
    # The audit trail, read back from its topic by the console, says who and why.
    audit = page.locator("#audit tbody tr")
    until(lambda: page.reload() is not None and audit.count() == 1, 30, "the audit record on the order's page")
    row = audit.first.inner_text()
    assert "release" in row and "done" in row and "Ana Lima" in row and "buyer confirmed the cancellation" in row
    assert "console (Ana Lima)" in row
    # The engine hears of the refund: the order's refund turns confirmed.
    until(lambda: page.reload() is not None and "confirmed" in page.locator("#refunds").inner_text(), 60,
          "the refund to be confirmed by the engine")  # fmt: skip
    shot(page, "order-after-release")
    # Released twice is paid once: the confirmation sent again, and the CLI, find nothing held.
    page.goto(f"{stack.url}/needs")
    assert page.locator("article.card.held", has_text="H-200").count() == 0
    with page.expect_navigation():
        page.evaluate(
            """([id, csrf]) => { const f = document.createElement('form'); f.method = 'post';
            f.action = '/needs/' + id + '/decide';
            for (const [k, v] of Object.entries({csrf: csrf, decision: 'release', operator: 'Ana Lima', reason: 'again',
                                                 confirmed: 'yes'})) {
              const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
            document.body.appendChild(f); f.submit(); }""",
            [action_id, _csrf(page)],
        )
    assert "not held any more" in page.content()
    again = cli(stack.env, "release", action_id, "--operator", "ops", "--reason", "retry")
    assert again.returncode == 1 and "not held" in again.stderr
    time.sleep(1)
    assert stack.receiver.keys_for("H-200") == [action_id]  # one call, one refund of 250.00
    assert stack.receiver.applied[action_id] == Decimal("250.00")
    # The command line is the same mechanism: a drop there is in the same audit trail, shown on the page.
    send(stack.wire, cancelled_order("H-201", "store-a", "300.00", datetime.now(UTC).replace(microsecond=0)))
    card = page.locator("article.card.held", has_text="H-201")
    until(lambda: page.goto(f"{stack.url}/needs") is not None and card.count() == 1, 60, "H-201 held")
    other = card.get_attribute("data-action")
    assert other
    dropped = cli(stack.env, "drop", other, "--operator", "Ravi Menon", "--reason", "duplicate of a manual refund")
    assert dropped.returncode == 0, dropped.stderr
    audit = page.locator("#audit tbody tr")
    until(lambda: page.goto(f"{stack.url}/orders/H-201") is not None and audit.count() == 1, 30, "the CLI's record")
    row = audit.first.inner_text()
    assert "drop" in row and "dropped" in row and "Ravi Menon" in row and "duplicate of a manual refund" in row
    assert "cli" in row
    assert stack.receiver.keys_for("H-201") == []
    page.context.close()


def _csrf(page: Any) -> str:
    value = page.locator("input[name=csrf]").first.get_attribute("value")
    assert value
    return str(value)


def test_an_order_page_shows_its_timeline(stack: Stack, browser: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    send(stack.wire, cancelled_order("T-300", "store-b", "40.00", now))
    page = signed_in(browser, stack, ANA_TOKEN)
    until(lambda: page.goto(f"{stack.url}/live") is not None and "T-300" in page.content(), 30, "T-300")
    page.fill("header input[name=q]", "T-300")
    page.press("header input[name=q]", "Enter")
    page.wait_for_url(re.compile(r".*/orders/T-300"))
    timeline = page.locator("#timeline tbody")
    until(lambda: page.reload() is not None and "order.cancel_requested" in timeline.inner_text(), 30, "the events")
    text = timeline.inner_text()
    for event in ("order.placed", "order.paid", "order.cancel_requested"):
        assert event in text
    refund = page.locator("#timeline tr.k-decision", has_text="customer_cancel").filter(has_text="refund")
    assert refund.count() >= 1
    assert "2026.11-default" in refund.first.inner_text()  # the policy version of the decision
    # Found by SKU as well as by id.
    page.goto(f"{stack.url}/orders?q=SKU-1")
    assert page.locator("ul.matches a", has_text="T-300").count() == 1
    page.goto(f"{stack.url}/orders/T-300")
    shot(page, "order")
    page.goto(f"{stack.url}/stores")
    store = page.locator("article.store[data-store='store-b']")
    until(lambda: page.reload() is not None and store.count() == 1, 30, "store-b on the stores page")
    assert "refund" in store.inner_text()
    shot(page, "stores")
    page.context.close()


def test_every_page_fits_a_phone(stack: Stack, browser: Any) -> None:
    page = signed_in(browser, stack, ANA_TOKEN, PHONE)
    for path in ("/live", "/needs", "/orders/H-200", "/orders?q=SKU-1", "/stores", "/whatif"):
        page.goto(f"{stack.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"{path} is {width} px wide on a {PHONE['width']} px phone"
    page.goto(f"{stack.url}/orders/H-200")
    shot(page, "order-phone")
    page.context.close()


def test_a_store_scoped_account_cannot_see_another_stores_order(stack: Stack, browser: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    send(stack.wire, cancelled_order("S-400", "store-a", "20.00", now))
    send(stack.wire, cancelled_order("S-401", "store-b", "21.00", now))
    ana = signed_in(browser, stack, ANA_TOKEN)
    until(lambda: ana.goto(f"{stack.url}/orders/S-400").status == 200, 30, "S-400 for an account of every store")
    ana.context.close()
    sam = signed_in(browser, stack, SAM_TOKEN)
    assert "Sam Okafor · store-b" in sam.inner_text("header")
    until(lambda: sam.goto(f"{stack.url}/orders/S-401").status == 200, 30, "S-401 for store-b's account")
    response = sam.goto(f"{stack.url}/orders/S-400")
    assert response.status == 404 and "Not found" in sam.inner_text("h1")
    assert sam.locator("#timeline").count() == 0
    sam.goto(f"{stack.url}/orders/H-200")  # the held refund's order, store-a
    assert sam.locator("#timeline").count() == 0
    sam.goto(f"{stack.url}/live")
    stores = set(sam.locator("#live tbody tr td:nth-child(2)").all_inner_texts())
    assert stores == {"store-b"}, stores
    csv_text = sam.request.get(f"{stack.url}/live.csv").text()
    assert "store-a" not in csv_text and "store-b" in csv_text
    sam.goto(f"{stack.url}/needs")
    assert "H-200" not in sam.content()
    assert sam.goto(f"{stack.url}/whatif").status == 403
    sam.context.close()


def test_a_what_if_run_shows_the_refunds_moved(stack: Stack, browser: Any) -> None:
    page = signed_in(browser, stack, ANA_TOKEN)
    page.goto(f"{stack.url}/whatif")
    page.select_option("select[name=events_file]", "day.jsonl")
    page.fill("input[name=t_max_reorder_attempts]", "0")  # refund at once instead of trying another supplier
    shot(page, "whatif")
    page.click("#run")
    page.wait_for_selector("#done", timeout=120_000)
    money = page.locator("#money").inner_text()
    assert "USD" in money and "+168.73" in money and "+1692.00" in money
    assert "+48" in page.locator("#penalty").inner_text()
    assert int(page.inner_text("#added")) > 0 and int(page.inner_text("#removed")) > 0
    assert "max_reorder_attempts 1 → 0" in page.inner_text("main")
    shot(page, "whatif-result")
    example = page.locator("#examples a").first
    example.click()
    page.wait_for_selector("table.timeline-a")
    a_text, b_text = page.inner_text("table.timeline-a"), page.inner_text("table.timeline-b")
    assert a_text != b_text  # the same order, decided differently under the two policies
    assert page.locator("tr.only").count() > 0  # and the decisions of one policy only are marked
    shot(page, "whatif-order", full_page=True)
    page.context.close()


def test_sign_in_is_required_and_a_wrong_token_is_refused(stack: Stack, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{stack.url}/needs")
    assert "/login" in page.url
    page.fill("input[name=token]", "not-a-token")
    page.click("button[type=submit]")
    assert "not known" in page.inner_text("main")
    shot(page, "sign-in")
    context.close()


FLOOD = 100_000


def test_a_hundred_thousand_actions_do_not_slow_the_live_page(
    broker: EmbeddedBroker,  # noqa: F811
    browser: Any,
    tmp_path: Path,
) -> None:
    """A console of its own, on topics of its own, open (no sign-in: loopback only) with the default window."""
    wire = off_loop(new_wire, broker, "console-flood")
    port = free_port()
    env = {**executor_env(wire, write_config(tmp_path, free_port())), "POSTSALE_CONSOLE_PORT": str(port)}
    console = WorkerProcess(spawn(["streams.cli", "console"], env, tmp_path / "c.log"), tmp_path / "c.log")
    try:
        until(lambda: "console: http://" in console.log_text() or not console.alive(), 60, "the console")
        assert console.alive(), console.log_text()[-2000:]
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.goto(f"http://127.0.0.1:{port}/live")
        page.wait_for_selector("#live-state:text('live')", timeout=15_000)
        window = int(page.get_attribute("#live", "data-window"))
        page.evaluate(
            """() => { window.maxGap = 0; let last = performance.now();
            const tick = (t) => { window.maxGap = Math.max(window.maxGap, t - last); last = t;
                                  requestAnimationFrame(tick); };
            requestAnimationFrame(tick); }"""
        )
        template = Action.model_validate(
            {"action_id": "act-0", "order_id": "F-0", "store_id": "store-f", "type": "notify_customer",
             "rule": "promotion", "policy_version": "flood", "decided_at": datetime.now(UTC).isoformat(),
             "caused_by": ["evt-0"], "reason": "a proactive notice <b>not bold</b>", "notice": "promotion_delay"}
        )  # fmt: skip
        records = [
            (wire.topics["actions"], f"F-{i % 5000}".encode(),
             dump_action(template.model_copy(update={"action_id": f"act-{i:024x}", "order_id": f"F-{i % 5000}"})),
             None)
            for i in range(FLOOD)
        ]  # fmt: skip
        off_loop(produce_raw, wire, records)

        def arrived() -> int:
            got = page.evaluate(
                "() => [document.getElementById('live').getAttribute('data-received'),"
                " document.getElementById('live').getAttribute('data-server-dropped')]"
            )
            return int(got[0] or 0) + int(got[1] or 0)

        until(lambda: arrived() >= FLOOD, 180, "every action to reach the page (shown or counted as skipped)")
        assert arrived() == FLOOD
        page.wait_for_timeout(500)
        assert page.locator("#live tbody tr").count() == window  # a bounded window, whatever came
        assert page.locator("#live tbody b").count() == 0  # event text is text, not markup
        # The page redraws at most its window five times a second, whatever arrives; the bound on the longest
        # frame leaves room for a machine whose cores are shared with other work.
        gap = page.evaluate("window.maxGap")
        assert gap < 5000, f"the page froze for {gap:.0f} ms"
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
        assert heap < 100 * 2**20, f"{heap / 2**20:.0f} MB of JavaScript heap"
        started = time.monotonic()  # the console filters 100,000 actions on the server: still quick
        page.goto(f"http://127.0.0.1:{port}/live?type=notify_customer&q=F-42")
        page.wait_for_selector("#live tbody tr")
        assert time.monotonic() - started < 10
        orders = set(page.locator("#live tbody tr td:nth-child(3)").all_inner_texts())
        assert orders and all("F-42" in o for o in orders)
        page.select_option("select[name=type]", "notify_customer")
        page.context.close()
    finally:
        console.stop()


def test_the_demo_prints_the_console_url_and_a_person_uses_it(browser: Any, tmp_path: Path) -> None:
    """The README's first command: `postsale demo` prints the console's URL; at it a person watches the simulated
    store, releases a held refund, reads an order's timeline and runs a what-if, without signing in (loopback)."""
    import subprocess
    import threading

    proc = subprocess.Popen(
        [*_postsale(), "demo", "--duration", "150", "--no-prometheus", "--web-port", "0", "--console-port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out: list[str] = []
    threading.Thread(target=lambda: out.extend(proc.stdout or ()), daemon=True).start()
    try:
        until(lambda: any("console: http://" in line for line in out) or proc.poll() is not None, 120, "the URL")
        line = next((x for x in out if "console: http://" in x), "")
        found = re.search(r"console: (http://127\.0\.0\.1:\d+/)", line)
        assert found, "".join(out)[-3000:]
        url = found.group(1).rstrip("/")
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.goto(url)  # the printed URL itself
        page.wait_for_selector("#live-state:text('live')", timeout=30_000)
        page.locator("#live tbody tr").nth(5).wait_for(timeout=60_000)  # the simulated store's decisions arrive
        shot(page, "demo-live")
        card = page.locator("article.card.held").first
        until(lambda: page.goto(f"{url}/needs") is not None and card.count() == 1, 90, "a held refund in the demo")
        order_id = card.locator("h3 a").inner_text()
        card.locator("input[name=operator]").fill("Demo Operator")
        card.locator("input[name=reason]").fill("looked at the order: the refund is right")
        card.locator("button[value=release]").click()
        page.click("#confirm")
        page.wait_for_url(re.compile(rf".*/orders/{re.escape(order_id)}\?decided=.*"), timeout=60_000)
        assert "release:" in page.inner_text("#decided")
        audit = page.locator("#audit tbody tr")
        until(lambda: page.reload() is not None and audit.count() == 1, 30, "the audit record")
        assert "Demo Operator" in audit.first.inner_text()
        assert page.locator("#timeline tr.k-decision").count() >= 1  # the order's timeline, decisions and all
        page.goto(f"{url}/whatif")
        page.fill("input[name=t_max_reorder_attempts]", "0")
        page.click("#run")
        page.wait_for_selector("#done", timeout=120_000)
        assert "+168.73" in page.locator("#money").inner_text()
        page.context.close()
        assert proc.poll() is None  # still running: nothing above stopped the demo
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert proc.returncode == 0, "".join(out)[-3000:]
    assert "receiver:" in "".join(out)  # the demo's closing summary


def _postsale() -> list[str]:
    import sys

    return [sys.executable, "-m", "streams.cli"]
