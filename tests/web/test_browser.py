"""The UI as a person uses it, in headless Chromium against the real app on a loopback port.

Skipped when Chromium is not installed, except in CI (``CI=true``), where that is a failure.
Screenshots stay in each test's output folder; ``INTAKE_UI_SCREENSHOTS=/some/dir`` collects copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.core.accept import accept_email
from intake.core.db.admin_models import Category
from intake.core.db.admin_models import Rule as RuleRow
from intake.core.db.models import Ticket
from intake.core.runtime import Runtime
from intake.domain import Role, Source
from tests.conftest import add_person, make_app, run_jobs
from tests.mailfactory import make_mail
from tests.web.browser import Browser, served

ADMIN = "boss@example.com"
AGENT = "sam@example.com"


@pytest.fixture
def site(runtime: Runtime, browser: Browser) -> Iterator[str]:
    """The real app (CSRF on) served by a threaded WSGI server; a fresh cookie jar."""
    add_person(runtime, ADMIN, Role.ADMIN)
    add_person(runtime, AGENT, Role.AGENT)
    browser.send("Network.clearBrowserCookies")
    with served(make_app(runtime, TESTING=False)) as url:
        yield url


def log_in(browser: Browser, site: str, email: str) -> None:
    browser.open(f"{site}/login")
    browser.fill("#email", email)
    browser.fill("#password", f"{email}-pw")
    browser.click("form.login button[type=submit]")
    assert browser.url == f"{site}/"


def test_an_agent_opens_a_ticket_from_the_queue_and_changes_its_status(
    runtime: Runtime, browser: Browser, site: str, tmp_path: Path
) -> None:
    accept_email(
        runtime,
        make_mail(),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    run_jobs(runtime, "intake")

    log_in(browser, site, AGENT)
    assert "Order 1234 has not arrived" in browser.text("#queue")
    assert browser.count("#queue tbody tr[data-ticket]") == 1
    browser.screenshot(tmp_path / "queue.png")

    browser.click("#queue a[href^='/tickets/']")
    assert browser.text("h1").endswith("Order 1234 has not arrived")
    assert "my order 1234 has not arrived yet" in browser.text("article.message")
    browser.screenshot(tmp_path / "ticket.png")

    browser.fill("#status", "pending")
    browser.click("aside form button[type=submit]")
    assert "Ticket updated." in browser.text(".flash.ok")
    assert browser.evaluate("document.querySelector('#status').value") == "pending"
    with runtime.db.session() as session:
        assert session.scalar(select(Ticket.status)) == "pending"

    browser.open(f"{site}/admin/categories")
    assert "Forbidden" in browser.text()

    browser.open(f"{site}/")
    assert browser.count("a[href='/admin/people']") == 0
    browser.click("header a[href='/analytics']")
    assert browser.text("#stat-open .num") == "1"
    # Today's only ticket is the peak: its bar fills the whole column.
    bar = "document.querySelector('#per-day .col:last-child .bar.email')"
    assert browser.evaluate(f"{bar}.offsetHeight === {bar}.parentElement.clientHeight")
    browser.screenshot(tmp_path / "analytics_agent.png")


def test_an_admin_adds_a_category_and_a_rule_using_it_through_the_forms(
    runtime: Runtime, browser: Browser, site: str, tmp_path: Path
) -> None:
    log_in(browser, site, ADMIN)
    browser.click("header a[href='/admin/categories']")
    browser.fill("#add-category input[name=key]", "warranty")
    browser.fill("#add-category input[name=label]", "Warranty claim")
    browser.click("#add-category button[type=submit]")
    assert "Category 'warranty' added." in browser.text(".flash.ok")
    assert "Warranty claim" in browser.evaluate(
        "document.querySelector('tr[data-category=warranty] input[name=label]').value"
    )

    browser.click("header a[href='/admin/rules']")
    browser.fill(
        "#add-rule-json textarea",
        '{"name": "Bad", "conditions": [{"field": '
        '"subject", "op": "regex", "value": "(["}], "actions": {"set_priority": "low"}}',
    )
    browser.click("#add-rule-json button[type=submit]")
    assert browser.text("#rule-error").startswith("rule 'Bad': invalid regular expression '(['")

    browser.fill("#add-rule input[name=name]", "Warranty mail")
    browser.fill("#add-rule select[name=field]", "subject")
    browser.fill("#add-rule select[name=op]", "contains")
    browser.fill("#add-rule input[name=value]", "warranty")
    browser.fill("#add-rule select[name=set_category]", "warranty")
    browser.click("#add-rule button[type=submit]")
    assert "Rule 'Warranty mail' added." in browser.text(".flash.ok")
    assert 'subject contains "warranty" → category warranty' in browser.text("#rules")
    browser.screenshot(tmp_path / "rules.png")
    browser.click("header a[href='/admin/categories']")
    browser.screenshot(tmp_path / "categories.png")
    browser.click("header a[href='/analytics']")
    assert browser.count("#per-day .col") == 30
    browser.screenshot(tmp_path / "analytics.png")
    browser.click("header a[href='/admin/people']")
    assert browser.count("#people tr[data-user]") == 2
    browser.screenshot(tmp_path / "people.png")
    browser.click(f"#people tr[data-user='{AGENT}'] a")
    browser.screenshot(tmp_path / "people_detail.png")
    browser.click("header a[href='/admin/customers']")
    browser.screenshot(tmp_path / "customers.png")

    with runtime.db.session() as session:
        assert session.scalar(select(Category.label).where(Category.key == "warranty")) == (
            "Warranty claim"
        )
        rule = session.scalar(select(RuleRow))
        assert rule is not None and rule.enabled
        assert rule.definition["actions"] == {"set_category": "warranty"}


def test_an_agent_switches_the_ui_to_chinese(
    runtime: Runtime, browser: Browser, site: str, tmp_path: Path
) -> None:
    accept_email(
        runtime,
        make_mail(subject="退款还没到账", body="我上周申请的退款到现在还没有到账，请尽快处理。"),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    run_jobs(runtime, "intake")
    log_in(browser, site, AGENT)
    assert "Queue" in browser.text("header.top")

    browser.open(f"{site}/preferences")
    browser.fill("#language", "zh")
    browser.fill("#timezone", "Asia/Shanghai")
    browser.click("main form button[type=submit]")
    assert "偏好设置已保存。" in browser.text(".flash.ok")
    browser.open(f"{site}/")
    header = browser.text("header.top")
    assert "队列" in header and "分析" in header and "Queue" not in header
    assert "退款还没到账" in browser.text("#queue")
    browser.screenshot(tmp_path / "queue_zh.png")

    browser.click("#queue a[href^='/tickets/']")
    assert "回复客户" in browser.text("main") and "状态" in browser.text("aside")
    browser.screenshot(tmp_path / "ticket_zh.png")
    assert (tmp_path / "queue_zh.png").stat().st_size > 0
