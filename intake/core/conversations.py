"""Threading: which ticket an inbound email belongs to, and joining it (or opening one)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.core.customers import customer_for_email, normalize_email
from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Message, Ticket
from intake.core.tickets import open_ticket
from intake.domain import MessageFlag, TicketStatus
from intake.mail.model import ParsedEmail
from intake.mail.threading import extract_ticket_tag, normalize_subject

log = logging.getLogger(__name__)


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


def sender_of(message: Message, parsed: ParsedEmail) -> tuple[str, str, datetime] | None:
    """The customer ``attach_to_ticket`` links the ticket to, as ``(address, display name,
    time)``; None for automatic mail and mail without a sender (no customer)."""
    sender = message.from_addr or message.envelope_from
    if message.is_automatic or not sender:
        return None
    return sender, parsed.from_addr.name if parsed.from_addr else "", message.received_at


def attach_to_ticket(
    session: Session, message: Message, parsed: ParsedEmail, customer: Customer | None = None
) -> Ticket:
    """Thread the message: join the ticket it answers (reopening it), or open a new one.

    ``customer``: the sender's (``sender_of``), when the caller looked it up already (a batch
    looks up all its senders at once); otherwise it is looked up here.
    """
    sender = message.from_addr or message.envelope_from
    ticket = find_ticket(
        session,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        bounced_message_ids=parsed.bounced_message_ids,
        subject=parsed.subject,
        sender=sender,
    )
    automatic = message.is_automatic
    wanted = sender_of(message, parsed)
    if wanted is None:
        customer = None
    elif customer is None:
        # Before the ticket is opened, so that the new ticket is written (and its SLA clock set
        # and its text indexed, both flush hooks) once, with its customer, not twice.
        customer = customer_for_email(session, *wanted)
    at = message.received_at
    if ticket is None:
        subject = normalize_subject(parsed.subject) or parsed.subject
        if MessageFlag.UNPARSEABLE in parsed.flags and not subject:
            subject = "(unparseable message)"
        ticket = open_ticket(session, message, subject or "(no subject)", at)
    elif not automatic:
        ticket.automatic = False
        if ticket.status in (TicketStatus.RESOLVED, TicketStatus.PENDING):
            log.info("ticket %s reopened by message %s", ticket.id, message.id)
            ticket.status = TicketStatus.OPEN
            ticket.resolved_at = None
    if customer is not None and ticket.customer_id is None:
        ticket.customer = customer
    message.ticket = ticket
    ticket.updated_at = utcnow()
    return ticket
