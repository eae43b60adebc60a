"""The durable door for voicemail audio (API upload, Twilio webhook, spool folder).

The audio goes to the blob store and a voicemail message row is committed before anything is
acknowledged, exactly as for email. The ticket and its pending transcript are then made at once,
in a second short transaction, so the caller of :func:`accept_voicemail` gets a ticket id; the
transcript fills in later on the ``transcribe`` queue.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy.exc import SQLAlchemyError

from intake.accept import NewMessage, enqueue_processing, store_message
from intake.customers import normalize_phone
from intake.db.models import Channel, Message, Source
from intake.errors import IntakeError, RejectedError, StorageError
from intake.runtime import Runtime
from intake.voicemail.link import audio_content_type, link_uploaded_voicemail, ticket_id_of
from intake.voicemail.transcripts import enqueue_transcription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoicemailAccepted:
    message_id: int
    ticket_id: int
    duplicate: bool


class _LimitedReader(io.RawIOBase):
    """A stream that refuses to read past ``max_bytes`` (RejectedError, not a storage fault)."""

    def __init__(self, stream: IO[bytes], max_bytes: int) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise RejectedError(f"the audio is larger than the limit of {self.max_bytes} bytes")
        return chunk


def store_audio(runtime: Runtime, audio: bytes | IO[bytes]) -> tuple[str, int, bytes]:
    """Store the audio blob; returns (sha256, size, first bytes). RejectedError when too large."""
    limit = runtime.settings.max_audio_bytes
    if isinstance(audio, bytes):
        if len(audio) > limit:
            raise RejectedError(f"the audio is larger than the limit of {limit} bytes")
        return runtime.blobs.put(audio), len(audio), audio[:64]
    digest, size = runtime.blobs.put_stream(_LimitedReader(audio, limit))  # type: ignore[arg-type]
    with runtime.blobs.path(digest).open("rb") as handle:
        head = handle.read(64)
    return digest, size, head


def accept_voicemail(
    runtime: Runtime,
    audio: bytes | IO[bytes],
    *,
    filename: str,
    content_type: str | None,
    caller: str | None,
    called: str | None,
    caller_name: str | None = None,
    received_at: datetime | None = None,
    source: Source,
    dedup_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> VoicemailAccepted:
    """Durably store one voicemail, open its ticket and enqueue its transcription.

    Empty or undecodable audio is accepted too: the ticket shows the transcription failure and
    the audio stays downloadable. Raises RejectedError (too large) or StorageError (retry later).
    """
    digest, size, head = store_audio(runtime, audio)
    caller_number = (normalize_phone(caller) or caller.strip() or None) if caller else None
    key = dedup_key or _default_dedup_key(digest, caller_number, called, received_at)
    accepted = store_message(
        runtime,
        NewMessage(
            source=source,
            channel=Channel.VOICEMAIL,
            dedup_scope=f"voicemail:{source.value}",
            dedup_key=key,
            raw_sha256=digest,
            raw_size=size,
            raw_content_type=audio_content_type(head, filename, content_type),
            envelope_to=[called] if called else [],
            caller_number=caller_number,
            caller_name=(caller_name or "").strip() or None,
            received_at=received_at,
            extra={**(extra or {}), "filename": filename, "caller_raw": caller, "called": called},
        ),
    )
    if accepted.duplicate:
        with runtime.db.session() as session:
            ticket_id = ticket_id_of(session, accepted.message_id)
        if ticket_id is not None:
            log.info("duplicate voicemail ignored: message %s", accepted.message_id)
            return VoicemailAccepted(accepted.message_id, ticket_id, duplicate=True)
    ticket_id = _link(runtime, accepted.message_id)
    enqueue_transcription(runtime, accepted.message_id)
    return VoicemailAccepted(accepted.message_id, ticket_id, duplicate=accepted.duplicate)


def _link(runtime: Runtime, message_id: int) -> int:
    try:
        with runtime.db.session() as session:
            message = session.get(Message, message_id)
            if message is None:
                raise StorageError(f"voicemail message {message_id} vanished")
            ticket = link_uploaded_voicemail(session, message)
            session.flush()
            return ticket.id
    except (SQLAlchemyError, IntakeError) as exc:
        # The audio and row are safe; the processing job (or the sweeper) makes the ticket, and
        # a client retry finds this message again by its dedup key.
        enqueue_processing(runtime, message_id)
        if isinstance(exc, StorageError):
            raise
        raise StorageError(f"could not open a ticket for voicemail {message_id}: {exc}") from exc


def _default_dedup_key(
    digest: str, caller: str | None, called: str | None, received_at: datetime | None
) -> str:
    # A client retrying the same upload is the same voicemail; the same audio at another time
    # or from another caller is not.
    seed = (
        f"{digest}|{caller or ''}|{called or ''}|{received_at.isoformat() if received_at else ''}"
    )
    return "audio:" + hashlib.sha256(seed.encode()).hexdigest()
