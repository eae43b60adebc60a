"""Tickets with messages written the way the application writes them (ORM, one transaction)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, Transcript
from intake.domain import Channel, MessageState, Priority, Source, TicketStatus

_keys = itertools.count(1)


def add_ticket(
    session: Session,
    subject: str,
    text: str = "",
    *,
    sender: str = "someone@example.com",
    sender_name: str = "",
    priority: Priority = Priority.MEDIUM,
    sla_due_at: datetime | None = None,
    created_at: datetime | None = None,
    transcript: str | None = None,
    status: TicketStatus = TicketStatus.NEW,
    **fields: object,
) -> Ticket:
    at = created_at or utcnow()
    ticket = Ticket(
        subject=subject,
        channel=Channel.VOICEMAIL if transcript else Channel.EMAIL,
        status=status,
        priority=priority,
        priority_rank=priority.rank,
        sla_due_at=sla_due_at,
        created_at=at,
        **fields,
    )
    key = next(_keys)
    message = Message(
        ticket=ticket,
        source=Source.SMTP,
        state=MessageState.PROCESSED,
        dedup_scope="tests",
        dedup_key=f"search-{key}-{at.timestamp()}",
        raw_sha256="0" * 64,
        raw_size=1,
        from_addr=sender,
        from_name=sender_name or None,
        subject=subject,
        text=text or None,
        received_at=at,
    )
    if transcript is not None:
        message.transcript = Transcript(
            audio_sha256="1" * 64, audio_content_type="audio/wav", text=transcript
        )
    session.add_all([ticket, message])
    return ticket


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)
