"""RQ job entry points. Each takes only ids, claims its row, and is safe to run twice."""

from __future__ import annotations

import logging

from intake import runtime as runtime_module
from intake.db.models import Message, MessageState, utcnow
from intake.mail.parse import parse_email
from intake.voicemail.link import link_uploaded_voicemail, link_voicemail_mail, voicemail_in_mail
from intake.voicemail.transcripts import enqueue_transcription
from workers.claims import claim_message, release_after_failure
from workers.enqueue import enqueue_classification
from workers.ingest import apply_parsed, attach_to_ticket, is_automatic

log = logging.getLogger(__name__)


def process_message(message_id: int) -> str:
    """Parse, thread and link one inbound email or voicemail (queue ``intake``)."""
    runtime = runtime_module.current()
    if not claim_message(runtime, message_id):
        return "skipped: already processed or being processed"
    try:
        with runtime.db.session() as session:
            message = session.get(Message, message_id)
            if message is None:
                return "skipped: message deleted"
            if message.raw_content_type != "message/rfc822":
                # Uploaded voicemail audio whose ticket was not made when it was accepted.
                ticket = link_uploaded_voicemail(session, message)
            else:
                parsed = parse_email(runtime.blobs.get(message.raw_sha256))
                apply_parsed(message, parsed, runtime.blobs)
                voicemail = voicemail_in_mail(session, message, parsed)
                if voicemail is not None:
                    ticket = link_voicemail_mail(session, message, parsed, voicemail)
                else:
                    ticket = attach_to_ticket(session, message, parsed)
            message.state = MessageState.PROCESSED.value
            message.processed_at = utcnow()
            message.error = None
            session.flush()
            ticket_id = ticket.id
            customer_wrote = not is_automatic(message)
            has_audio = message.transcript is not None
    except Exception as exc:
        release_after_failure(runtime, message_id, f"{exc.__class__.__name__}: {exc}")
        raise
    log.info("message %s is on ticket %s", message_id, ticket_id)
    if has_audio:
        # Classified once the transcript is there (workers.transcription).
        enqueue_transcription(runtime, message_id)
    elif customer_wrote:
        enqueue_classification(runtime, ticket_id)
    return f"ticket {ticket_id}"
