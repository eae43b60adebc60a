"""The resolution email: resolve a ticket, the customer's mail arrives through a real relay with
signed rating links under INTAKE_BASE_URL, and one of them rates the ticket (once)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from intake.core.automatic_mail import MailTemplate
from intake.core.db.analytics_models import TicketRating
from intake.core.db.base import utcnow
from intake.core.db.models import Delivery, Mailbox, Message, Ticket, TicketEvent
from intake.core.resolutions import (
    ResolutionSettings,
    load_resolution_settings,
    save_resolution_settings,
)
from intake.core.runtime import Runtime, set_current
from intake.core.tickets import update_ticket
from intake.domain import Channel, EventKind, OutboundKind, Role
from intake.errors import RejectedError
from tests.analytics.seeding import Seed, add_customer, insert_tickets
from tests.conftest import add_person, deliver, login, make_app, make_runtime, run_jobs
from tests.mailfactory import make_mail
from tests.outbound.conftest import Relay

BASE = "https://help.example.com/intake"
LINK = re.compile(r"https://help\.example\.com/intake/rate/\S+")


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, redis_url: str, relay: Relay) -> Iterator[Runtime]:
    rt = make_runtime(
        tmp_path,
        database_url,
        redis_url,
        INTAKE_OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
        INTAKE_BASE_URL=BASE,
    )
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


def resolution_mails(relay: Relay) -> list[str]:
    return [
        r.text for r in relay.received if r.header("Subject").startswith(("Resolved", "已解决"))
    ]


def deliveries(runtime: Runtime, ticket_id: int) -> list[Delivery]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(Delivery)
                .join(Message, Message.id == Delivery.message_id)
                .where(Message.ticket_id == ticket_id, Delivery.kind == OutboundKind.RESOLUTION)
            )
        )


def test_resolving_through_the_api_mails_a_rating_link_that_rates_the_ticket_once(
    runtime: Runtime, relay: Relay
) -> None:
    raw = make_mail(subject="Cold food again", message_id="<cold-1@customer.org>")
    ticket_id = deliver(runtime, raw, "intake", "outbound").ticket_id
    assert ticket_id is not None
    token = add_person(runtime, "sam@example.com")
    client = make_app(runtime).test_client()
    headers = {"Authorization": f"Bearer {token}"}

    response = client.patch(
        f"/api/tickets/{ticket_id}", json={"status": "resolved"}, headers=headers
    )
    assert response.status_code == 200, response.data
    run_jobs(runtime, "outbound")

    mail = relay.received[-1]
    assert mail.recipients == ["alice@customer.org"]
    assert mail.header("Subject") == f"Resolved: Cold food again [#{ticket_id}]"
    assert mail.header("Auto-Submitted") == "auto-generated"
    assert mail.header("In-Reply-To") == "<cold-1@customer.org>"
    links = LINK.findall(mail.text)
    assert len(links) == 3 and "Dear Alice Customer" in mail.text
    assert [d.state for d in deliveries(runtime, ticket_id)] == ["sent"]
    with runtime.db.session() as session:
        event = session.scalar(
            select(TicketEvent).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.kind == EventKind.RESOLUTION_EMAIL
            )
        )
        assert event is not None and event.new == "alice@customer.org"
        assert event.actor == "sam@example.com"  # who resolved it

    bad = urlsplit(links[2]).path.removeprefix("/intake")  # the app itself is mounted at /
    page = client.get(bad)
    assert page.status_code == 200 and b'name="comment"' in page.data
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert csrf is not None  # the page's own form, as the customer's browser posts it
    form = {"csrf_token": csrf.group(1).decode(), "rating": "bad", "comment": "still cold"}
    thanks = client.post(bad, data=form)
    assert thanks.status_code == 200
    with runtime.db.session() as session:
        rating = session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket_id))
        assert rating is not None and (rating.rating, rating.comment) == ("bad", "still cold")
    assert client.get(bad).status_code == 410  # works once
    good = urlsplit(links[0]).path.removeprefix("/intake")
    assert client.post(good, data={**form, "rating": "good"}).status_code == 410
    forged = bad[:-3] + ("AAA" if not bad.endswith("AAA") else "BBB")
    assert client.get(forged).status_code == 400

    # The same resolution mails nothing again; nor does a new one of a rated ticket.
    client.patch(f"/api/tickets/{ticket_id}", json={"status": "resolved"}, headers=headers)
    client.patch(f"/api/tickets/{ticket_id}", json={"status": "open"}, headers=headers)
    client.patch(f"/api/tickets/{ticket_id}", json={"status": "resolved"}, headers=headers)
    run_jobs(runtime, "outbound")
    assert len(deliveries(runtime, ticket_id)) == 1


def test_a_chinese_ticket_resolved_in_the_ui_gets_the_chinese_text(
    runtime: Runtime, relay: Relay
) -> None:
    raw = make_mail(subject="外卖送到都凉了", body="外卖送到都凉了，请退款。\n")
    ticket_id = deliver(runtime, raw, "intake", "outbound").ticket_id
    with runtime.db.session() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(language="zh"))
    add_person(runtime, "sam@example.com")
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "sam@example.com")
    assert client.post(f"/tickets/{ticket_id}", data={"status": "resolved"}).status_code == 302
    run_jobs(runtime, "outbound")
    mail = relay.received[-1]
    assert mail.header("Subject") == f"已解决：外卖送到都凉了 [#{ticket_id}]"
    assert "满意：https://help.example.com/intake/rate/" in mail.text


def test_bulk_resolving_mails_each_customer_but_not_merged_voicemail_or_switched_off(
    runtime: Runtime, relay: Relay
) -> None:
    first = deliver(runtime, make_mail(sender="a@customer.org", subject="One"), "intake")
    second = deliver(runtime, make_mail(sender="b@customer.org", subject="Two"), "intake")
    duplicate = deliver(runtime, make_mail(sender="a@customer.org", subject="One again"), "intake")
    with runtime.db.session() as session:
        (voicemail_id,) = insert_tickets(session, [Seed(utcnow(), "call me", channel="voicemail")])
        box = Mailbox(name="quiet", addresses=["quiet@example.com"])
        session.add(box)
        session.flush()
        quiet_id = insert_tickets(session, [Seed(utcnow(), "hush", mailbox_id=box.id)])[0]
        session.execute(update(Ticket).where(Ticket.id == quiet_id).values(customer_id=None))
        save_resolution_settings(session, ResolutionSettings(mailboxes_off=frozenset({box.id})))
    token = add_person(runtime, "sam@example.com")
    client = make_app(runtime).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    merged = client.post(
        "/api/tickets/bulk",
        json={"ids": [first.ticket_id, duplicate.ticket_id], "merge_into": first.ticket_id},
        headers=headers,
    )
    assert merged.status_code == 200, merged.data
    ids = [first.ticket_id, second.ticket_id, voicemail_id, quiet_id]
    response = client.post(
        "/api/tickets/bulk", json={"ids": ids, "changes": {"status": "resolved"}}, headers=headers
    )
    assert response.status_code == 200, response.data
    run_jobs(runtime, "outbound")
    rated = {r.recipients[0] for r in relay.received if r.header("Subject").startswith("Resolved")}
    assert rated == {"a@customer.org", "b@customer.org"}
    assert deliveries(runtime, duplicate.ticket_id or 0) == []
    assert deliveries(runtime, voicemail_id) == [] and deliveries(runtime, quiet_id) == []


def test_a_voicemail_caller_with_an_email_address_is_written_to(
    runtime: Runtime, relay: Relay
) -> None:
    with runtime.db.session() as session:
        customer = add_customer(session, "caller@customer.org", utcnow() - timedelta(days=1))
        box = Mailbox(name="phones", addresses=["phones@example.com"])  # the mail's From
        session.add(box)
        session.flush()
        (ticket_id,) = insert_tickets(
            session,
            [Seed(utcnow(), "ring", channel="voicemail", customer_id=customer, mailbox_id=box.id)],
        )
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.channel is Channel.VOICEMAIL
        update_ticket(session, ticket, {"status": "resolved"}, None)
    run_jobs(runtime, "outbound")
    assert [r.recipients for r in relay.received] == [["caller@customer.org"]]
    assert len(LINK.findall(relay.received[0].text)) == 3


def test_the_admin_edits_the_texts_and_a_text_without_a_rating_link_is_refused(
    runtime: Runtime,
) -> None:
    add_person(runtime, "boss@example.com", Role.ADMIN)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "boss@example.com")
    page = client.get("/admin/acknowledgements")
    assert page.status_code == 200 and b'id="resolution-form"' in page.data
    form = {
        "resolution_domain_mail": "1",
        "resolution_en_subject": "Done: {subject}",
        "resolution_en_body": "Rate us: {rate_good} / {rate_bad}",
        "resolution_zh_subject": "完成：{subject}",
        "resolution_zh_body": "请评价：{rate_good}",
    }
    assert client.post("/admin/resolution-emails", data=form).status_code == 302
    with runtime.db.session() as session:
        saved = load_resolution_settings(session)
        assert saved.templates["en"] == MailTemplate("Done: {subject}", form["resolution_en_body"])
    refused = {**form, "resolution_en_body": "Thanks, bye."}
    client.post("/admin/resolution-emails", data=refused)
    with runtime.db.session() as session:
        assert load_resolution_settings(session).templates["en"].body == form["resolution_en_body"]
        with pytest.raises(RejectedError):
            save_resolution_settings(
                session,
                ResolutionSettings(templates={"en": MailTemplate("x", "no link")}),
            )
