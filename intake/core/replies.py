"""Agents' replies to the customer, and internal notes that are never sent.

A reply goes to the customer's last message (its Reply-To, else its From), threaded under it
(``In-Reply-To``/``References``), with the ticket's ``[#<id>]`` tag in the subject and our own
Message-ID, so the customer's answer joins the ticket again (``intake.core.conversations``)
even when their mail program drops the tag.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from intake.core.activity import Actor, record_event
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, User
from intake.core.outbox import queue_mail
from intake.core.runtime import Runtime
from intake.core.senders import reply_sender
from intake.domain import Channel, Direction, EventKind, MessageState, OutboundKind, Source
from intake.errors import NotFoundError, RejectedError
from intake.mail.compose import (
    OutgoingAttachment,
    OutgoingMail,
    checked_address,
    make_message_id,
    plain_text,
    reply_subject,
    thread_references,
)
from intake.mail.model import Address
from intake.mail.parse import header_block, parse_email

log = logging.getLogger(__name__)

MAX_TEXT = 100_000  # characters of a reply or note
MAX_CC = 20
NOTE_SCOPE = "note"


@dataclass(frozen=True)
class ReplyRequest:
    text: str
    cc: tuple[str, ...] = ()
    attachments: tuple[OutgoingAttachment, ...] = ()
    # Attachments already on this ticket (a customer's photo sent on to someone in cc, say).
    attachment_ids: tuple[int, ...] = ()


def last_customer_message(ticket: Ticket) -> Message | None:
    """The customer's newest mail on the ticket (no auto-replies, bounces or voicemail)."""
    for message in reversed(ticket.messages):
        if (
            message.direction is Direction.INBOUND
            and message.channel is Channel.EMAIL
            and not message.is_automatic
        ):
            return message
    return None


def customer_address(runtime: Runtime, ticket: Ticket, parent: Message | None) -> Address:
    """Where a reply goes: the Reply-To of the customer's last mail, its From, or the customer."""
    if parent is not None and parent.raw_content_type == "message/rfc822":
        try:
            # The header block only: the ticket page asks this, and the body may be 25 MB.
            parsed = parse_email(header_block(runtime.blobs.get(parent.raw_sha256)))
        except NotFoundError:
            parsed = None
        if parsed is not None:
            for candidate in (parsed.reply_to, parsed.from_addr):
                if candidate is not None and candidate.email:
                    try:
                        return Address(candidate.name, checked_address(candidate.email))
                    except RejectedError:
                        continue
    customer = ticket.customer
    if customer is not None and customer.email:
        return Address(customer.name or "", checked_address(customer.email))
    raise RejectedError(
        "ticket {ticket_id} has no customer email address to reply to", ticket_id=ticket.id
    )


def _cc_addresses(cc: Sequence[str]) -> tuple[Address, ...]:
    addresses = [checked_address(a) for a in cc if a.strip()]
    if len(addresses) > MAX_CC:
        raise RejectedError("at most {limit} cc addresses", limit=MAX_CC)
    return tuple(Address("", a) for a in dict.fromkeys(addresses))


def _ticket_attachments(
    runtime: Runtime, ticket: Ticket, ids: Sequence[int]
) -> list[OutgoingAttachment]:
    on_ticket = {a.id: a for m in ticket.messages for a in m.attachments}
    found = []
    for attachment_id in ids:
        row = on_ticket.get(attachment_id)
        if row is None:
            raise RejectedError(
                "attachment {attachment_id} is not on ticket {ticket_id}",
                attachment_id=attachment_id,
                ticket_id=ticket.id,
            )
        found.append(
            OutgoingAttachment(row.filename, row.content_type, runtime.blobs.get(row.sha256))
        )
    return found


def queue_reply(
    runtime: Runtime, session: Session, ticket: Ticket, user: User | None, request: ReplyRequest
) -> Message:
    """Store the reply and queue it for the relay (sent once ``session`` commits)."""
    text = request.text.strip()
    if not text:
        raise RejectedError("a reply needs some text")
    if len(text) > MAX_TEXT:
        raise RejectedError("a reply has at most {limit} characters", limit=MAX_TEXT)
    parent = last_customer_message(ticket)
    to = customer_address(runtime, ticket, parent)
    sender = reply_sender(runtime.settings, ticket, parent)
    attachments = [
        *request.attachments,
        *_ticket_attachments(runtime, ticket, request.attachment_ids),
    ]
    mail = OutgoingMail(
        sender=sender,
        to=(to,),
        cc=tuple(a for a in _cc_addresses(request.cc) if a.email != to.email),
        subject=reply_subject(
            ticket.subject or (parent.subject if parent else "") or "", ticket.id
        ),
        text=plain_text(text),
        message_id=make_message_id(sender.email),
        date=utcnow(),
        in_reply_to=parent.message_id_header if parent else None,
        references=thread_references(
            parent.message_id_header if parent else None, parent.references if parent else ()
        ),
        attachments=tuple(attachments),
    )
    message = queue_mail(
        runtime, session, mail, kind=OutboundKind.REPLY, ticket=ticket, created_by=user
    )
    ticket.updated_at = utcnow()
    log.info(
        "reply %s on ticket %s queued by %s", message.id, ticket.id, user.email if user else "-"
    )
    return message


def add_note(
    runtime: Runtime, session: Session, ticket: Ticket, user: User | None, text: str
) -> Message:
    """An internal note in the ticket's thread: stored like a message, never sent."""
    text = text.strip()
    if not text:
        raise RejectedError("a note needs some text")
    if len(text) > MAX_TEXT:
        raise RejectedError("a note has at most {limit} characters", limit=MAX_TEXT)
    raw = plain_text(text).encode("utf-8")
    digest = runtime.blobs.put(raw)
    now = utcnow()
    message = Message(
        ticket=ticket,
        channel=ticket.channel,
        direction=Direction.NOTE,
        source=Source.GATEWAY,
        state=MessageState.PROCESSED,
        # Notes have no Message-ID; the key only has to be unique.
        dedup_scope=NOTE_SCOPE,
        dedup_key=uuid.uuid4().hex,
        raw_sha256=digest,
        raw_size=len(raw),
        raw_content_type="text/plain; charset=utf-8",
        from_addr=user.email if user else None,
        from_name=(user.name or None) if user else None,
        subject=None,
        text=text,
        new_text=text,
        received_at=now,
        processed_at=now,
    )
    session.add(message)
    record_event(session, ticket, EventKind.NOTE, Actor.of(user), new=_preview(text))
    ticket.updated_at = now
    session.flush()
    return message


def _preview(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
