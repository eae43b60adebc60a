"""The ``intake`` queue's job: a stored message becomes part of a ticket.

Each job takes only an id, claims its row (``intake.core.states``) and is safe to run twice.
"""

from __future__ import annotations

import logging

from intake.core import runtime as runtime_module
from intake.core.acknowledgements import acknowledge_new_ticket
from intake.core.blobs import BlobStore
from intake.core.conversations import attach_to_ticket
from intake.core.customers import normalize_email
from intake.core.db.models import Attachment, Message
from intake.core.pipeline import next_job
from intake.core.states import claim_message, mark_processed, release_message
from intake.core.voicemail_tickets import (
    link_uploaded_voicemail,
    link_voicemail_mail,
    voicemail_in_mail,
)
from intake.mail.model import ParsedEmail
from intake.mail.parse import parse_email

log = logging.getLogger(__name__)

RFC822 = "message/rfc822"


def ingest_message(message_id: int) -> str:
    """Parse, thread and link one inbound email or voicemail (queue ``intake``)."""
    runtime = runtime_module.current()
    if not claim_message(runtime, message_id):
        return "skipped: already processed or being processed"
    try:
        with runtime.db.session() as session:
            message = session.get(Message, message_id)
            if message is None:
                return "skipped: message deleted"
            if message.raw_content_type != RFC822:
                # Uploaded voicemail audio (API, webhook, spool).
                ticket = link_uploaded_voicemail(session, message)
            else:
                parsed = parse_email(runtime.blobs.get(message.raw_sha256))
                apply_parsed(message, parsed, runtime.blobs)
                voicemail = voicemail_in_mail(session, message, parsed)
                if voicemail is not None:
                    ticket = link_voicemail_mail(session, message, parsed, voicemail)
                else:
                    ticket = attach_to_ticket(session, message, parsed)
            # Committed with the ticket; sent once the ticket is (acknowledgements.py says when).
            acknowledge_new_ticket(runtime, session, message, ticket)
            mark_processed(message)
            session.flush()
            ticket_id = ticket.id
            follow_up = next_job(message)
    except Exception as exc:
        release_message(runtime, message_id, f"{exc.__class__.__name__}: {exc}")
        raise
    log.info("message %s is on ticket %s", message_id, ticket_id)
    if follow_up is not None:
        runtime.jobs.enqueue(*follow_up)
    return f"ticket {ticket_id}"


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
    message.flags = sorted(parsed.flags)
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
