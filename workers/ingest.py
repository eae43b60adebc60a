"""Turn a stored raw email into parsed fields, attachments, a customer and a ticket."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from intake.blobs import BlobStore
from intake.conversations import find_ticket
from intake.customers import customer_for_email, normalize_email
from intake.db.models import (
    Attachment,
    Message,
    Ticket,
    TicketStatus,
    utcnow,
)
from intake.domain import Priority
from intake.mail.model import MessageFlag, ParsedEmail
from intake.mail.threading import normalize_subject
from intake.sla import first_response_due

log = logging.getLogger(__name__)

AUTOMATIC_FLAGS = {MessageFlag.AUTO_REPLY.value, MessageFlag.BOUNCE.value}


def apply_parsed(message: Message, parsed: ParsedEmail, blobs: BlobStore) -> None:
    """Copy the parse result onto the row and store attachments (idempotent on re-runs)."""
    message.message_id_header = parsed.message_id
    message.in_reply_to = list(parsed.in_reply_to)
    message.references = list(parsed.references)
    if parsed.from_addr is not None:
        message.from_addr = normalize_email(parsed.from_addr.email) or None
        message.from_name = parsed.from_addr.name or None
    elif message.envelope_from:
        message.from_addr = normalize_email(message.envelope_from)
    message.to_addrs = [a.email for a in parsed.to]
    message.cc_addrs = [a.email for a in parsed.cc]
    message.subject = parsed.subject
    message.text = parsed.text
    message.new_text = parsed.new_text
    message.html = parsed.html
    message.flags = sorted(flag.value for flag in parsed.flags)
    message.auto_reason = parsed.auto_reason
    message.defects = list(parsed.defects)
    message.sent_at = parsed.date
    message.attachments.clear()
    for part in parsed.attachments:
        message.attachments.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                size=len(part.data),
                sha256=blobs.put(part.data),
                content_id=part.content_id,
                inline=part.inline,
            )
        )


def is_automatic(message: Message) -> bool:
    return bool(AUTOMATIC_FLAGS.intersection(message.flags))


def new_ticket(session: Session, message: Message, subject: str, at: datetime) -> Ticket:
    ticket = Ticket(
        subject=subject,
        channel=message.channel,
        status=TicketStatus.NEW.value,
        automatic=is_automatic(message),
        mailbox_id=message.mailbox_id,
        priority=Priority.MEDIUM.value,
        priority_rank=Priority.MEDIUM.rank,
        sla_due_at=first_response_due(session, Priority.MEDIUM.value, at),
        created_at=at,
    )
    if message.mailbox is not None:
        ticket.group = message.mailbox.default_group
    session.add(ticket)
    return ticket


def attach_to_ticket(session: Session, message: Message, parsed: ParsedEmail) -> Ticket:
    """Thread the message: join the ticket it answers, or open a new one."""
    sender = message.from_addr or message.envelope_from
    ticket = find_ticket(
        session,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        bounced_message_ids=parsed.bounced_message_ids,
        subject=parsed.subject,
        sender=sender,
    )
    at = message.received_at
    automatic = is_automatic(message)
    if ticket is None:
        subject = normalize_subject(parsed.subject) or parsed.subject
        if MessageFlag.UNPARSEABLE in parsed.flags and not subject:
            subject = "(unparseable message)"
        ticket = new_ticket(session, message, subject or "(no subject)", at)
    elif not automatic:
        ticket.automatic = False
        if ticket.status in (TicketStatus.RESOLVED.value, TicketStatus.PENDING.value):
            log.info("ticket %s reopened by message %s", ticket.id, message.id)
            ticket.status = TicketStatus.OPEN.value
            ticket.resolved_at = None
    if not automatic and sender:
        name = parsed.from_addr.name if parsed.from_addr else ""
        customer = customer_for_email(session, sender, name, at)
        if ticket.customer_id is None:
            ticket.customer = customer
    message.ticket = ticket
    ticket.updated_at = utcnow()
    return ticket
