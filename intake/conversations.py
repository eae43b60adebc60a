"""Threading: which ticket does an inbound message belong to?"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.customers import normalize_email
from intake.db.models import Customer, Message, Ticket
from intake.mail.threading import extract_ticket_tag


def ticket_by_message_ids(session: Session, message_ids: Iterable[str]) -> Ticket | None:
    """The ticket of the newest stored or sent message among ``message_ids``."""
    ids = [i for i in dict.fromkeys(message_ids) if i]
    if not ids:
        return None
    return session.scalar(
        select(Ticket)
        .join(Message, Message.ticket_id == Ticket.id)
        .where(Message.message_id_header.in_(ids[-200:]))
        .order_by(Message.id.desc())
        .limit(1)
    )


def sender_is_on_ticket(session: Session, ticket: Ticket, sender: str) -> bool:
    sender = normalize_email(sender)
    if ticket.customer_id is not None:
        customer = session.get(Customer, ticket.customer_id)
        if customer is not None and customer.email == sender:
            return True
    return (
        session.scalar(
            select(Message.id)
            .where(
                Message.ticket_id == ticket.id,
                or_(Message.from_addr == sender, Message.envelope_from == sender),
            )
            .limit(1)
        )
        is not None
    )


def ticket_by_subject_tag(session: Session, subject: str, sender: str | None) -> Ticket | None:
    """``[#123]`` joins ticket 123 only when the sender already took part in it."""
    tag = extract_ticket_tag(subject)
    if tag is None or not sender:
        return None
    ticket = session.get(Ticket, tag)
    if ticket is None or not sender_is_on_ticket(session, ticket, sender):
        return None
    return ticket


def find_ticket(
    session: Session,
    *,
    in_reply_to: Iterable[str],
    references: Iterable[str],
    bounced_message_ids: Iterable[str],
    subject: str,
    sender: str | None,
) -> Ticket | None:
    return (
        ticket_by_message_ids(session, [*references, *in_reply_to])
        or ticket_by_message_ids(session, bounced_message_ids)
        or ticket_by_subject_tag(session, subject, sender)
    )
