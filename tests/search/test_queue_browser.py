"""The queue in headless Chromium: filter, search 退款, bulk-assign, a new ticket appears live.

Screenshots go to this test's output folder, and also to ``INTAKE_UI_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from intake.core.db.models import Ticket
from intake.core.runtime import Runtime
from intake.domain import Role
from tests.conftest import IN_CI, add_person, make_app
from tests.search.tickets import add_ticket
from tests.web.browser import Browser, find_chromium

AGENT = "lin@example.com"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        if IN_CI:
            pytest.fail("CI=true but Chromium is not installed (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    chromium = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@pytest.fixture
def sqlite_site(sqlite_runtime: Runtime, browser: Browser) -> Iterator[str]:
    add_person(sqlite_runtime, AGENT, Role.AGENT)
    server = make_server("127.0.0.1", 0, make_app(sqlite_runtime, TESTING=False), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    browser.send("Network.clearBrowserCookies")
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def screenshot(browser: Browser, folder: Path, name: str) -> None:
    browser.screenshot(folder / name)
    extra = os.environ.get("INTAKE_UI_SCREENSHOTS")
    if extra:
        shutil.copy(folder / name, Path(extra) / name)


def wait_for(browser: Browser, expression: str, seconds: float) -> float:
    """Seconds until ``expression`` is true in the page; fails after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if browser.evaluate(expression):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {expression}")


def test_an_agent_filters_searches_bulk_assigns_and_sees_new_tickets_live(
    sqlite_runtime: Runtime, browser: Browser, sqlite_site: str, tmp_path: Path
) -> None:
    runtime = sqlite_runtime
    with runtime.db.session() as session:
        refund = add_ticket(
            session, "申请退款", "我申请退款已经一个星期了，客服一直没有回复", language="zh"
        )
        add_ticket(session, "外卖评价", "送餐速度很快，味道也不错", language="zh")
        add_ticket(session, "Card declined", "My card was declined twice", language="en")
        add_ticket(session, "Where is my parcel?", "Ordered two weeks ago", language="en")
        session.flush()
        refund_id = refund.id

    browser.open(f"{sqlite_site}/login")
    browser.fill("#email", AGENT)
    browser.fill("#password", f"{AGENT}-pw")
    browser.click("form.login button[type=submit]")
    assert browser.count("#queue tbody tr[data-ticket]") == 4

    browser.fill("#f-language", "zh")
    browser.click("#filters button[type=submit]")
    assert "language=zh" in browser.url
    assert browser.count("#queue tbody tr[data-ticket]") == 2
    screenshot(browser, tmp_path, "queue_filtered.png")

    browser.open(f"{sqlite_site}/")
    browser.fill("#f-q", "退款")
    browser.click("#filters button[type=submit]")
    assert browser.count("#queue tbody tr[data-ticket]") == 1
    assert (
        browser.evaluate(
            "document.querySelector('#queue tbody tr[data-ticket] .snippet mark').textContent"
        )
        == "退款"
    )
    assert browser.evaluate(
        "document.querySelector('#queue tbody tr[data-ticket]').dataset.ticket"
    ) == str(refund_id)
    screenshot(browser, tmp_path, "queue_search_tuikuan.png")

    browser.open(f"{sqlite_site}/?language=en")
    browser.evaluate(
        "document.querySelectorAll('#queue tbody input[name=ids]').forEach(b => b.click())"
    )
    browser.fill("#bulk-assignee", "me")
    browser.click("#bulk-assign")
    assert "2 tickets: assignee set to" in browser.text(".flash.ok")
    assert browser.text("#queue tbody").count(AGENT) == 2
    with runtime.db.session() as session:
        assigned = session.scalars(select(Ticket.language).where(Ticket.assignee_id.is_not(None)))
        assert list(assigned) == ["en", "en"]
    screenshot(browser, tmp_path, "queue_bulk_assigned.png")

    browser.open(f"{sqlite_site}/")
    browser.evaluate("window.__stillThisPage = 1")
    time.sleep(1.2)  # the page's first look at the server has happened
    with runtime.db.session() as session:
        fresh = add_ticket(session, "Arrived while watching", "Hello from a new customer")
        session.flush()
        fresh_id = fresh.id
    waited = wait_for(
        browser, f"document.querySelector('#queue tr[data-ticket=\"{fresh_id}\"]') !== null", 2.0
    )
    assert browser.evaluate("window.__stillThisPage === 1"), "the page was reloaded"
    assert browser.evaluate(
        f"document.querySelector('#queue tr[data-ticket=\"{fresh_id}\"]').classList"
        ".contains('fresh')"
    )
    screenshot(browser, tmp_path, "queue_live_new_ticket.png")
    assert waited < 2.0
