"""Calling a voicemail's caller back, over HTTP: the outcome is logged, and the first call-back
is the ticket's first response (its SLA clock moves on to resolution)."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, TicketEvent
from intake.core.runtime import Runtime
from intake.domain import Channel, EventKind, Priority, SlaTarget, Source, TicketStatus
from tests.conftest import add_person, json_of, login, make_app

AGENT = "agent@example.com"


def voicemail_ticket(runtime: Runtime, channel: Channel = Channel.VOICEMAIL) -> int:
    with runtime.db.session() as session:
        ticket = Ticket(
            subject="Voicemail from +14155550123",
            channel=channel,
            status=TicketStatus.NEW,
            priority=Priority.HIGH,
            priority_rank=Priority.HIGH.rank,
            created_at=utcnow() - timedelta(minutes=30),
        )
        ticket.messages.append(
            Message(
                channel=channel,
                source=Source.API,
                dedup_scope="test",
                dedup_key=f"vm-{utcnow().timestamp()}",
                raw_sha256="0" * 64,
                raw_size=1,
                raw_content_type="audio/wav",
                caller_number="+14155550123",
            )
        )
        session.add(ticket)
        session.flush()
        return ticket.id


def agent_client(runtime: Runtime) -> tuple[FlaskClient, str]:
    token = add_person(runtime, AGENT)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, AGENT)
    return client, token


def test_a_callback_from_the_ticket_page_is_logged_and_is_the_first_response(
    runtime: Runtime,
) -> None:
    client, _token = agent_client(runtime)
    ticket_id = voicemail_ticket(runtime)
    page = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert 'id="callback"' in page and 'href="tel:+14155550123"' in page

    answer = client.post(
        f"/tickets/{ticket_id}/callbacks", data={"outcome": "no_answer"}, follow_redirects=True
    )
    assert "Call-back logged: no answer." in answer.get_data(as_text=True)
    client.post(f"/tickets/{ticket_id}/callbacks", data={"outcome": "reached"})
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        events = list(
            session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == EventKind.CALLBACK)
                .order_by(TicketEvent.id)
            )
        )
        assert [(e.actor, e.field, e.new) for e in events] == [
            (AGENT, "outcome", "no_answer"),
            (AGENT, "outcome", "reached"),
        ]
        # The first call-back answered the customer, the second did not move it.
        assert ticket.first_response_at == events[0].at
        assert ticket.sla_target == SlaTarget.RESOLUTION
        assert ticket.sla_due_at == ticket.created_at + timedelta(days=3)
    timeline = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert timeline.count('data-kind="callback"') == 2


def test_the_api_logs_callbacks_and_refuses_bad_ones(runtime: Runtime) -> None:
    client, token = agent_client(runtime)
    headers = {"Authorization": f"Bearer {token}"}
    ticket_id = voicemail_ticket(runtime)
    logged = client.post(
        f"/api/tickets/{ticket_id}/callbacks", json={"outcome": "left_message"}, headers=headers
    )
    assert logged.status_code == 201
    event = json_of(logged)
    assert (event["kind"], event["new"], event["actor"]) == ("callback", "left_message", AGENT)

    bad = client.post(
        f"/api/tickets/{ticket_id}/callbacks", json={"outcome": "maybe"}, headers=headers
    )
    assert bad.status_code == 422 and "unknown call-back outcome" in json_of(bad)["message"]
    email_ticket = voicemail_ticket(runtime, Channel.EMAIL)
    refused = client.post(
        f"/api/tickets/{email_ticket}/callbacks", json={"outcome": "reached"}, headers=headers
    )
    assert refused.status_code == 422
    assert "voicemail tickets only" in json_of(refused)["message"]
    with runtime.db.session() as session:
        ticket = session.get(Ticket, email_ticket)
        assert ticket is not None and ticket.first_response_at is None
    missing = client.post(
        "/api/tickets/999999/callbacks", json={"outcome": "reached"}, headers=headers
    )
    assert missing.status_code == 404
