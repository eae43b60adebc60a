"""The loop closed over real SMTP: a customer writes, is acknowledged, an agent replies, and the
customer's answer comes back to the same ticket (also without the subject tag)."""

from __future__ import annotations

from email.utils import make_msgid
from io import BytesIO

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.models import Delivery, Message, Ticket, TicketEvent
from intake.core.runtime import Runtime
from intake.domain import DeliveryState, Direction, EventKind, OutboundKind
from tests.conftest import add_person, json_of, make_app, run_jobs
from tests.mailfactory import make_mail
from tests.outbound.conftest import Relay, send_to_collector

CUSTOMER_ID = "<order-1234.alice@customer.org>"


@pytest.fixture
def api(runtime: Runtime) -> tuple[FlaskClient, dict[str, str]]:
    token = add_person(runtime, "sam@example.com")
    return make_app(runtime).test_client(), {"Authorization": f"Bearer {token}"}


def only_ticket(runtime: Runtime) -> Ticket:
    with runtime.db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        session.expunge(ticket)
        return ticket


def inbound_ticket_ids(runtime: Runtime) -> list[int | None]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(Message.ticket_id)
                .where(Message.direction == Direction.INBOUND)
                .order_by(Message.id)
            )
        )


def test_acknowledged_then_answered_and_the_customers_answer_joins_the_ticket(
    runtime: Runtime, relay: Relay, smtp_port: int, api: tuple[FlaskClient, dict[str, str]]
) -> None:
    client, headers = api
    send_to_collector(runtime, smtp_port, make_mail(message_id=CUSTOMER_ID))
    run_jobs(runtime, "intake", "outbound")
    ticket = only_ticket(runtime)

    # The acknowledgement: threaded under the customer's mail, RFC 3834, null envelope sender.
    (ack,) = relay.received
    assert ack.mail_from == "<>" and ack.recipients == ["alice@customer.org"]  # MAIL FROM:<>
    assert ack.header("Auto-Submitted") == "auto-replied"
    assert ack.header("In-Reply-To") == CUSTOMER_ID
    assert ack.header("From") == "support@example.com"
    assert ack.header("To") == "Alice Customer <alice@customer.org>"
    assert f"[#{ticket.id}]" in ack.header("Subject")
    assert ack.header("Message-ID").endswith("@example.com>")
    assert f"ticket {ticket.id}" in ack.text
    assert "within 24 hours" in ack.text  # medium priority's default first-response target
    assert ticket.sla_due_at is not None
    assert ticket.sla_due_at.strftime("%Y-%m-%d %H:%M UTC") in ack.text

    # The agent's reply over the API: 202, queued, then sent by the outbound job.
    response = client.post(
        f"/api/tickets/{ticket.id}/replies",
        json={"text": "Hello Alice,\n\nyour parcel left today.", "cc": ["boss@customer.org"]},
        headers=headers,
    )
    assert response.status_code == 202, response.data
    queued = json_of(response)
    assert queued["direction"] == "outbound" and queued["delivery"]["state"] == "queued"
    assert queued["to"] == ["alice@customer.org"] and queued["cc"] == ["boss@customer.org"]
    run_jobs(runtime, "outbound")
    reply = relay.received[1]
    assert reply.mail_from == "support@example.com"
    assert reply.recipients == ["alice@customer.org", "boss@customer.org"]
    assert reply.header("Subject") == f"Re: Order 1234 has not arrived [#{ticket.id}]"
    assert reply.header("In-Reply-To") == CUSTOMER_ID
    assert reply.header("References") == CUSTOMER_ID
    assert reply.header("Cc") == "boss@customer.org"
    assert "Auto-Submitted" not in reply.message
    assert reply.text == "Hello Alice,\n\nyour parcel left today.\n"
    reply_id = reply.header("Message-ID").strip("<>")
    assert reply_id == queued["message_id"]

    detail = json_of(client.get(f"/api/tickets/{ticket.id}", headers=headers))
    sent = next(m for m in detail["messages"] if m["id"] == queued["id"])
    assert sent["delivery"]["state"] == "sent"
    assert sent["delivery"]["relay_answer"] == "250 2.0.0 Ok: queued as TEST1"
    with runtime.db.session() as session:
        row = session.get(Ticket, ticket.id)
        assert row is not None and row.first_response_at is not None
        kinds = session.scalars(
            select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
        ).all()
        assert EventKind.REPLY in kinds and EventKind.ACKNOWLEDGEMENT in kinds
        # The raw bytes sent are the ones stored.
        stored = session.get(Message, queued["id"])
        assert stored is not None and runtime.blobs.get(stored.raw_sha256) == reply.raw

    # The customer answers; their mail program dropped the [#id] tag from the subject.
    answer = make_mail(
        subject="Re: Order 1234 has not arrived",
        body="Thanks! It arrived.\n",
        message_id=make_msgid(domain="customer.org"),
        in_reply_to=f"<{reply_id}>",
    )
    send_to_collector(runtime, smtp_port, answer)
    run_jobs(runtime, "intake", "outbound")
    assert inbound_ticket_ids(runtime) == [ticket.id, ticket.id]
    assert len(relay.received) == 2  # no acknowledgement for a reply into an open ticket


def test_an_answer_to_the_acknowledgement_without_the_tag_joins_the_ticket(
    runtime: Runtime, relay: Relay, smtp_port: int
) -> None:
    send_to_collector(runtime, smtp_port, make_mail(message_id=CUSTOMER_ID))
    run_jobs(runtime, "intake", "outbound")
    (ack,) = relay.received
    answer = make_mail(
        subject="Re: We received your message",  # tag stripped
        body="One more thing: the order number is 1234.\n",
        in_reply_to=ack.header("Message-ID"),
    )
    send_to_collector(runtime, smtp_port, answer)
    run_jobs(runtime, "intake", "outbound")
    ticket = only_ticket(runtime)
    assert inbound_ticket_ids(runtime) == [ticket.id, ticket.id]
    assert len(relay.received) == 1


def test_a_reply_from_the_ticket_page_with_an_attachment_and_a_note_that_is_never_sent(
    runtime: Runtime, relay: Relay, smtp_port: int
) -> None:
    add_person(runtime, "sam@example.com")
    send_to_collector(runtime, smtp_port, make_mail(message_id=CUSTOMER_ID))
    run_jobs(runtime, "intake", "outbound")
    ticket = only_ticket(runtime)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    client.post("/login", data={"email": "sam@example.com", "password": "sam@example.com-pw"})

    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="reply-form"' in page and "To alice@customer.org" in page
    assert "Thanks, we are on it" in page  # a canned response, placeholders filled in
    assert "Dear Alice Customer" in page and f"ticket number is {ticket.id}" in page

    note = client.post(f"/tickets/{ticket.id}/notes", data={"text": "Called the courier."})
    assert note.status_code == 302
    sent = client.post(
        f"/tickets/{ticket.id}/replies",
        data={
            "text": "Please find the label attached.",
            "cc": "",
            "attachments": (BytesIO(b"%PDF-1.4 label"), "label.pdf", "application/pdf"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302 and "#message-" in sent.headers["Location"]
    run_jobs(runtime, "outbound")
    assert len(relay.received) == 2  # the acknowledgement and the reply, never the note
    reply = relay.received[1]
    (attachment,) = list(reply.message.iter_attachments())
    assert attachment.get_filename() == "label.pdf"
    assert attachment.get_content() == b"%PDF-1.4 label"
    assert "Called the courier" not in reply.raw.decode()

    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "Internal note · never sent" in page and "Called the courier." in page
    assert page.count('data-state="sent"') == 2
    with runtime.db.session() as session:
        deliveries = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(d.kind, d.state) for d in deliveries] == [
            (OutboundKind.ACKNOWLEDGEMENT, DeliveryState.SENT),
            (OutboundKind.REPLY, DeliveryState.SENT),
        ]
        notes = session.scalars(
            select(TicketEvent.new).where(TicketEvent.kind == EventKind.NOTE)
        ).all()
        assert notes == ["Called the courier."]
