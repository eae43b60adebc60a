"""An agent in headless Chromium: picks a canned response, replies, adds a note, takes the ticket.

Screenshots go to this test's output folder (``tmp_path``), and also to ``INTAKE_UI_SCREENSHOTS``
when set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.core.db.admin_models import CannedResponse
from intake.core.db.models import Ticket, User
from intake.core.runtime import Runtime, set_current
from intake.domain import Role
from tests.conftest import add_person, deliver, make_app, make_runtime, run_jobs
from tests.mailfactory import make_mail
from tests.outbound.conftest import Relay
from tests.web.browser import Browser, served

AGENT = "sam@example.com"


@pytest.fixture
def sending_runtime(
    tmp_path: Path, sqlite_url: str, redis_url: str, relay: Relay
) -> Iterator[Runtime]:
    rt = make_runtime(
        tmp_path, sqlite_url, redis_url, INTAKE_OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{relay.port}"
    )
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


@pytest.fixture
def site(sending_runtime: Runtime, browser: Browser) -> Iterator[str]:
    """The real app (CSRF on) on a loopback port; a fresh cookie jar."""
    add_person(sending_runtime, AGENT, Role.AGENT)
    browser.send("Network.clearBrowserCookies")
    with served(make_app(sending_runtime, TESTING=False)) as url:
        yield url


def test_an_agent_replies_with_a_canned_text_adds_a_note_and_assigns_the_ticket(
    sending_runtime: Runtime, relay: Relay, browser: Browser, site: str, tmp_path: Path
) -> None:
    runtime = sending_runtime
    ticket_id = deliver(runtime, make_mail(), "intake", "outbound").ticket_id
    assert ticket_id is not None and len(relay.received) == 1  # the acknowledgement
    with runtime.db.session() as session:
        canned_id = session.scalar(
            select(CannedResponse.id).where(CannedResponse.title == "Thanks, we are on it")
        )

    browser.open(f"{site}/login")
    browser.fill("#email", AGENT)
    browser.fill("#password", f"{AGENT}-pw")
    browser.click("form.login button[type=submit]")
    browser.open(f"{site}/tickets/{ticket_id}")
    assert browser.count(".message.outbound [data-state='sent']") == 1  # the acknowledgement
    assert browser.text("#reply-route") == "To alice@customer.org · from support@example.com"

    # The canned response goes into the reply box with the placeholders filled in (reply.js).
    browser.fill("#canned", str(canned_id))
    text = browser.evaluate("document.querySelector('#reply-text').value")
    assert text.startswith("Dear Alice Customer,") and f"ticket number is {ticket_id}" in text
    assert text.rstrip().endswith("sam")  # {agent_name}: the agent has no display name
    browser.screenshot(tmp_path / "reply_canned.png")
    browser.click("#reply-form button[type=submit]")
    assert "Reply queued for sending." in browser.text(".flash.ok")
    assert browser.count(".message.outbound [data-state='queued']") == 1

    run_jobs(runtime, "outbound")
    assert len(relay.received) == 2 and relay.received[1].text.startswith("Dear Alice Customer,")

    browser.fill("#note-text", "Customer called too; courier says Friday.")
    browser.click("#note-form button[type=submit]")
    assert "Note added." in browser.text(".flash.ok")
    assert "Customer called too; courier says Friday." in browser.text(".message.note")
    assert browser.count(".message.outbound [data-state='sent']") == 2
    assert len(relay.received) == 2  # the note was not sent

    browser.click("#assign-to-me button[type=submit]")
    assert "Ticket updated." in browser.text(".flash.ok")
    assert browser.evaluate("document.querySelector('#assignee').value") == AGENT
    timeline = browser.text("#timeline")
    assert "reply" in timeline and "note" in timeline and "assignee" in timeline
    browser.evaluate("document.querySelector('.message.note').scrollIntoView()")
    browser.screenshot(tmp_path / "reply_note_assign.png")
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.assignee is not None
        assert ticket.assignee.email == AGENT and ticket.first_response_at is not None
        assert session.scalar(select(User.email).where(User.id == ticket.assignee_id)) == AGENT
    assert (tmp_path / "reply_canned.png").stat().st_size > 10_000
    assert (tmp_path / "reply_note_assign.png").stat().st_size > 10_000
