"""The queue in headless Chromium: filter, search 退款, bulk-assign, a new ticket appears live.

Screenshots go to this test's output folder, and also to ``INTAKE_UI_SCREENSHOTS`` when set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.core.db.models import Ticket
from intake.core.runtime import Runtime
from intake.domain import Role
from tests.conftest import add_person, make_app
from tests.search.tickets import add_ticket
from tests.web.browser import Browser, served

AGENT = "lin@example.com"


@pytest.fixture
def sqlite_site(sqlite_runtime: Runtime, browser: Browser) -> Iterator[str]:
    add_person(sqlite_runtime, AGENT, Role.AGENT)
    browser.send("Network.clearBrowserCookies")
    with served(make_app(sqlite_runtime, TESTING=False)) as url:
        yield url


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
    browser.screenshot(tmp_path / "queue_filtered.png")

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
    browser.screenshot(tmp_path / "queue_search_tuikuan.png")

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
    browser.screenshot(tmp_path / "queue_bulk_assigned.png")

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
    browser.screenshot(tmp_path / "queue_live_new_ticket.png")
    assert waited < 2.0
