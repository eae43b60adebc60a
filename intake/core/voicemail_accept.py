"""The durable door for voicemail audio (API upload, Twilio webhook, spool folder).

The audio goes to the blob store and a voicemail message row is committed before anything is
acknowledged, exactly as for email, and the ``ingest_message`` job opens its ticket.

The HTTP collectors answer with the ticket id (``POST /api/voicemail`` returns 201 with it), so
they run that same intake step at once for their own message, under the same claim as the job:
``voicemail_ticket_now``. If it cannot finish, the job is enqueued and does it later.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy.exc import SQLAlchemyError

from intake.core.accept import Accepted, NewMessage, store_message
from intake.core.acknowledgements import acknowledge_new_ticket
from intake.core.customers import normalize_phone
from intake.core.db.models import Message
from intake.core.jobs import INGEST_MESSAGE
from intake.core.metrics import count_accepted
from intake.core.pipeline import next_job
from intake.core.runtime import Runtime
from intake.core.states import claim_message, mark_processed, release_message
from intake.core.voicemail_tickets import audio_content_type, link_uploaded_voicemail, ticket_id_of
from intake.domain import Channel, Source
from intake.errors import IntakeError, RejectedError, StorageError

log = logging.getLogger(__name__)

# How long an HTTP collector waits for a worker that claimed its message first.
CLAIMED_ELSEWHERE_WAIT_S = 5.0


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
            raise RejectedError(
                "the audio is larger than the limit of {max_bytes} bytes", max_bytes=self.max_bytes
            )
        return chunk


def store_audio(runtime: Runtime, audio: bytes | IO[bytes]) -> tuple[str, int, bytes]:
    """Store the audio blob; returns (sha256, size, first bytes). RejectedError when too large."""
    limit = runtime.settings.max_audio_bytes
    if isinstance(audio, bytes):
        if len(audio) > limit:
            raise RejectedError("the audio is larger than the limit of {limit} bytes", limit=limit)
        return runtime.blobs.put(audio), len(audio), audio[:64]
    digest, size = runtime.blobs.put_stream(_LimitedReader(audio, limit))  # type: ignore[arg-type]
    with runtime.blobs.path(digest).open("rb") as handle:
        head = handle.read(64)
    return digest, size, head


def store_voicemail(
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
) -> Accepted:
    """Durably store one voicemail (audio blob and ``received`` row); a duplicate finds the first.

    Empty or undecodable audio is stored too: the ticket shows the transcription failure and
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
            dedup_scope=f"voicemail:{source}",
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
    count_accepted(source.value)
    return accepted


def voicemail_ticket_now(runtime: Runtime, message_id: int) -> int:
    """The ticket of a stored voicemail, opening it now through the intake step's claim.

    Raises StorageError when it cannot be opened now; the ``ingest_message`` job is then
    enqueued, and a client's retry finds this message again by its dedup key.
    """
    with runtime.db.session() as session:
        ticket_id = ticket_id_of(session, message_id)
    if ticket_id is not None:
        return ticket_id
    if not claim_message(runtime, message_id):
        return _wait_for_ticket(runtime, message_id)
    try:
        with runtime.db.session() as session:
            message = session.get(Message, message_id)
            if message is None:
                raise StorageError(f"voicemail message {message_id} vanished")
            ticket = link_uploaded_voicemail(session, message)
            acknowledge_new_ticket(runtime, session, message, ticket)
            mark_processed(message)
            session.flush()
            ticket_id = ticket.id
            follow_up = next_job(message)
    except (SQLAlchemyError, IntakeError) as exc:
        release_message(runtime, message_id, f"{exc.__class__.__name__}: {exc}")
        runtime.jobs.enqueue(INGEST_MESSAGE, message_id)
        if isinstance(exc, StorageError):
            raise
        raise StorageError(f"could not open a ticket for voicemail {message_id}: {exc}") from exc
    if follow_up is not None:
        runtime.jobs.enqueue(*follow_up)
    return ticket_id


def _wait_for_ticket(runtime: Runtime, message_id: int) -> int:
    """A worker claimed this message first (a sweep, or a client's retry): wait for its result."""
    deadline = time.monotonic() + CLAIMED_ELSEWHERE_WAIT_S
    while time.monotonic() < deadline:
        time.sleep(0.1)
        with runtime.db.session() as session:
            ticket_id = ticket_id_of(session, message_id)
        if ticket_id is not None:
            return ticket_id
    raise StorageError(f"voicemail {message_id} is still being processed; try again")


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 (a trailing Z allowed); a time without offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _default_dedup_key(
    digest: str, caller: str | None, called: str | None, received_at: datetime | None
) -> str:
    # A client retrying the same upload is the same voicemail; the same audio at another time
    # or from another caller is not.
    seed = (
        f"{digest}|{caller or ''}|{called or ''}|{received_at.isoformat() if received_at else ''}"
    )
    return "audio:" + hashlib.sha256(seed.encode()).hexdigest()
