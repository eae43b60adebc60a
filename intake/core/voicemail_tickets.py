"""Turn a stored voicemail message into a ticket with a pending transcript (inside one session).

Called by the ``ingest_message`` job for uploaded audio and for PBX voicemail emails, and by
``voicemail_ticket_now`` for the HTTP collectors, always under the message's claim. Every
function is idempotent: a message that already has its transcript or ticket keeps them.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.app_settings import app_setting
from intake.core.customers import customer_for_phone, normalize_phone
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, Transcript
from intake.core.tickets import open_ticket
from intake.domain import Channel, TranscriptState
from intake.mail.model import ParsedEmail
from intake.mail.pbx import VoicemailMail, detect_voicemail
from transcribe.formats import OCTET_STREAM, guess_audio_content_type

log = logging.getLogger(__name__)

VOICEMAIL_SENDERS_KEY = "voicemail_senders"


@dataclass(frozen=True)
class AudioRef:
    sha256: str
    content_type: str
    filename: str


def audio_content_type(head: bytes, filename: str, declared: str | None) -> str:
    """The type to serve the audio with: its bytes decide, then the sender's word, then the name."""
    sniffed = guess_audio_content_type(head)
    if sniffed != OCTET_STREAM:
        return sniffed
    declared = (declared or "").split(";")[0].strip().lower()
    if declared.startswith("audio/"):
        return declared
    guessed = mimetypes.guess_type(filename)[0]
    return guessed if guessed and guessed.startswith("audio/") else OCTET_STREAM


def caller_display(number: str | None, name: str | None) -> str:
    if name and number:
        return f"{name} ({number})"
    return name or number or "unknown caller"


def open_voicemail_ticket(session: Session, message: Message) -> Ticket:
    """A new ticket for one voicemail; the caller becomes a Customer by E.164 number."""
    if message.ticket is not None:
        return message.ticket
    at = message.received_at
    ticket = open_ticket(
        session,
        message,
        f"Voicemail from {caller_display(message.caller_number, message.caller_name)}",
        at,
    )
    e164 = normalize_phone(message.caller_number or "")
    if e164 is not None:
        ticket.customer = customer_for_phone(session, e164, message.caller_name or "", at)
    message.ticket = ticket
    ticket.updated_at = utcnow()
    return ticket


def add_transcript(message: Message, audio: AudioRef) -> Transcript:
    if message.transcript is None:
        message.transcript = Transcript(
            audio_sha256=audio.sha256,
            audio_content_type=audio.content_type,
            audio_filename=audio.filename[:500] or "voicemail",
            state=TranscriptState.PENDING,
        )
    return message.transcript


def link_uploaded_voicemail(session: Session, message: Message) -> Ticket:
    """For a message whose raw blob is the audio itself (API, webhook, spool)."""
    extra: dict[str, Any] = message.extra or {}
    add_transcript(
        message,
        AudioRef(
            sha256=message.raw_sha256,
            content_type=message.raw_content_type,
            filename=str(extra.get("filename") or "voicemail"),
        ),
    )
    return open_voicemail_ticket(session, message)


def recording_pending(message: Message) -> bool:
    """A webhook voicemail whose recording could not be downloaded yet (``fetch_recording``)."""
    return not message.raw_size and bool((message.extra or {}).get("recording_url"))


def voicemail_senders(session: Session) -> frozenset[str]:
    """Sender addresses an admin marked as voicemail sources (lower-cased)."""
    senders = app_setting(session, VOICEMAIL_SENDERS_KEY).get("senders", [])
    return frozenset(str(s).strip().lower() for s in senders if str(s).strip())


def is_marked_source(session: Session, message: Message) -> bool:
    if message.mailbox is not None and message.mailbox.is_voicemail_source:
        return True
    senders = voicemail_senders(session)
    return bool(senders) and any(
        (address or "").strip().lower() in senders
        for address in (message.from_addr, message.envelope_from)
    )


def voicemail_in_mail(
    session: Session, message: Message, parsed: ParsedEmail
) -> VoicemailMail | None:
    return detect_voicemail(parsed, marked_source=is_marked_source(session, message))


def link_voicemail_mail(
    session: Session, message: Message, parsed: ParsedEmail, voicemail: VoicemailMail
) -> Ticket:
    """A PBX voicemail email: channel voicemail, caller from the mail, the attachment transcribed.

    ``apply_parsed`` has stored the attachments already; the transcript points at the same blob.
    """
    message.channel = Channel.VOICEMAIL
    message.caller_number = (
        normalize_phone(voicemail.caller_number or "") or voicemail.caller_number
    )
    message.caller_name = voicemail.caller_name
    message.extra = {
        **(message.extra or {}),
        "pbx": voicemail.kind,
        "pbx_mailbox": voicemail.mailbox,
        "pbx_message_number": voicemail.message_number,
        "pbx_duration_s": voicemail.duration_s,
    }
    if voicemail.audio is not None:
        stored = next(
            (a for a in message.attachments if a.filename == voicemail.audio.filename), None
        )
        if stored is not None:
            add_transcript(
                message,
                AudioRef(
                    sha256=stored.sha256,
                    content_type=audio_content_type(
                        voicemail.audio.data[:64], stored.filename, stored.content_type
                    ),
                    filename=stored.filename,
                ),
            )
    ticket = open_voicemail_ticket(session, message)
    log.info(
        "message %s is a %s voicemail from %s",
        message.id,
        voicemail.kind,
        caller_display(message.caller_number, message.caller_name),
    )
    return ticket


def ticket_id_of(session: Session, message_id: int) -> int | None:
    return session.scalar(select(Message.ticket_id).where(Message.id == message_id))
