"""Every state change of a message and of a transcript, shared by jobs, sweeper and admin pages.

Claims are conditional UPDATEs: a job runs only if it moved the row from waiting to claimed, so
a job enqueued twice, or run on two hosts, does its work once. A claim older than its stale
limit belongs to a worker that died mid-job and may be taken over.

    message:     received ──claim──▶ processing ──▶ processed
                    ▲                    │ failure
                    └──── retry ◀── failed (after the last attempt)
    transcript:  pending ──claim──▶ running ──▶ done | no_speech | unclear |
                    ▲                    │          unsupported_language | failed
                    └────── retry ◀──────┘
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import Update, or_, select, update
from sqlalchemy.orm import Session

from intake.core.db.base import utcnow
from intake.core.db.models import Message, Transcript
from intake.core.heartbeat import living, process_name
from intake.core.jobs import INGEST_MESSAGE, TRANSCRIBE_MESSAGE, TRANSCRIBE_TIMEOUT
from intake.core.runtime import Runtime
from intake.domain import MessageState, TranscriptState

log = logging.getLogger(__name__)

# A message claim older than this belongs to a worker that died mid-job.
STALE_CLAIM = timedelta(minutes=15)
# Longer than the job timeout: a running transcript older than this belongs to a dead worker.
STALE_TRANSCRIPT = TRANSCRIBE_TIMEOUT + timedelta(minutes=15)
# Give a just-stored item's own enqueue a moment before the sweeper second-guesses it.
GRACE = timedelta(seconds=5)
# A claim older than INTAKE_ABANDONED_AFTER_SECONDS whose process stopped beating belongs to a
# dead worker: it is handed back at once, without waiting for STALE_CLAIM. A row still waiting
# INTAKE_LOST_AFTER_SECONDS is checked against the queue itself: its job record may say
# "queued" while the job was lost with a dying worker (settings.RecoverySettings).
ERROR_LIMIT = 4000  # characters of an error kept on the row


def _max_attempts(runtime: Runtime) -> int:
    return runtime.settings.job_retries + 1


# Messages


def claim_message(runtime: Runtime, message_id: int) -> bool:
    return message_id in claim_messages(runtime, [message_id])


def claim_messages(runtime: Runtime, message_ids: list[int]) -> list[int]:
    """Claim waiting messages (or ones whose claim went stale) in one statement; the ids this
    call claimed, so of two workers claiming the same row only one gets it."""
    if not message_ids:
        return []
    now = utcnow()
    with runtime.db.session() as session:
        claimed = session.scalars(
            update(Message)
            .where(
                Message.id.in_(message_ids),
                or_(
                    Message.state == MessageState.RECEIVED,
                    (Message.state == MessageState.PROCESSING)
                    & (Message.claimed_at < now - STALE_CLAIM),
                ),
            )
            .values(
                state=MessageState.PROCESSING,
                claimed_at=now,
                claimed_by=process_name(),
                attempts=Message.attempts + 1,
            )
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(claimed)


def mark_processed(message: Message) -> None:
    """In the session that made the message's ticket, so both commit together."""
    message.state = MessageState.PROCESSED
    message.processed_at = utcnow()
    message.claimed_at = None
    message.claimed_by = None
    message.error = None


def release_message(runtime: Runtime, message_id: int, error: str) -> None:
    """Record a failed attempt; after the last one the message shows as failed for an admin."""
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            return
        message.error = error[:ERROR_LIMIT]
        message.state = (
            MessageState.FAILED
            if message.attempts >= _max_attempts(runtime)
            else MessageState.RECEIVED
        )
        message.claimed_at = None
        message.claimed_by = None
    log.warning("message %s attempt failed: %s", message_id, error)


def retry_message(runtime: Runtime, message_id: int) -> bool | None:
    """Admin action on a failed or stuck message: waiting again, its job enqueued anew whatever
    RQ keeps of it. None: nothing to retry (processed, or a live worker holds it); else whether
    it was enqueued (False: Redis is down, and the sweeper enqueues it later)."""
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        if message is None or message.state == MessageState.PROCESSED:
            return None
        if message.state == MessageState.PROCESSING and message.claimed_by in live_claimants(
            runtime, [message.claimed_by]
        ):
            return None
        if message.state == MessageState.FAILED:
            message.attempts = 0
        message.state = MessageState.RECEIVED
        message.claimed_at = None
        message.claimed_by = None
    # Safe even if a copy of the job is still somewhere: the job claims the row first.
    return runtime.jobs.enqueue_anew(INGEST_MESSAGE, message_id)


def live_claimants(runtime: Runtime, claimants: list[str | None]) -> set[str]:
    """The claimants among ``claimants`` that still beat; empty while Redis is unreachable (an
    admin may then retry anything: claims are conditional)."""
    try:
        return living(runtime.jobs.connection, [c for c in claimants if c])
    except RedisError as exc:
        log.warning("cannot check which workers are alive: %s", exc)
        return set()


def waiting_message_ids(
    session: Session, now: datetime, limit: int, waited: timedelta = GRACE
) -> list[int]:
    """Messages stored but not processed (waiting longer than ``waited``): never enqueued,
    lost on the way, or claimed by a dead worker."""
    return list(
        session.scalars(
            select(Message.id)
            .where(
                or_(
                    (Message.state == MessageState.RECEIVED) & (Message.received_at < now - waited),
                    (Message.state == MessageState.PROCESSING)
                    & (Message.claimed_at < now - STALE_CLAIM),
                )
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


# Transcripts


def claim_transcript(runtime: Runtime, message_id: int) -> bool:
    now = utcnow()
    with runtime.db.session() as session:
        result = session.execute(
            update(Transcript)
            .where(
                Transcript.message_id == message_id,
                or_(
                    Transcript.state == TranscriptState.PENDING,
                    (Transcript.state == TranscriptState.RUNNING)
                    & (Transcript.updated_at < now - STALE_TRANSCRIPT),
                ),
            )
            .values(
                state=TranscriptState.RUNNING,
                attempts=Transcript.attempts + 1,
                updated_at=now,
                claimed_by=process_name(),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_transcript(transcript: Transcript, state: TranscriptState, error: str | None) -> None:
    """In the session that stores the result, so the text and its state commit together."""
    transcript.state = state
    transcript.error = error[:ERROR_LIMIT] if error else None
    transcript.claimed_by = None


def release_transcript(runtime: Runtime, message_id: int, error: str) -> None:
    """After a failed attempt: pending again for RQ's retry, or failed after the last one."""
    with runtime.db.session() as session:
        transcript = session.scalar(select(Transcript).where(Transcript.message_id == message_id))
        if transcript is None:
            return
        finish_transcript(
            transcript,
            TranscriptState.FAILED
            if transcript.attempts >= _max_attempts(runtime)
            else TranscriptState.PENDING,
            error,
        )
    log.warning("transcription of message %s failed: %s", message_id, error)


def retry_transcript(runtime: Runtime, message_id: int) -> bool:
    """Admin action: a finished, failed or stuck transcript goes back to pending and is enqueued.
    False when there is none, or a live worker is transcribing it."""
    with runtime.db.session() as session:
        transcript = session.scalar(select(Transcript).where(Transcript.message_id == message_id))
        if transcript is None:
            return False
        if transcript.state == TranscriptState.RUNNING and (
            transcript.claimed_by is None
            or transcript.claimed_by in live_claimants(runtime, [transcript.claimed_by])
        ):
            return False
        finish_transcript(transcript, TranscriptState.PENDING, None)
        transcript.attempts = 0
    runtime.jobs.enqueue_anew(TRANSCRIBE_MESSAGE, message_id)
    return True


def waiting_transcript_ids(
    session: Session, now: datetime, limit: int, waited: timedelta = GRACE
) -> list[int]:
    """Message ids of pending transcripts (waiting longer than ``waited``), and of running ones
    whose worker died."""
    return list(
        session.scalars(
            select(Transcript.message_id)
            .where(
                or_(
                    (Transcript.state == TranscriptState.PENDING)
                    & (Transcript.updated_at < now - waited),
                    (Transcript.state == TranscriptState.RUNNING)
                    & (Transcript.updated_at < now - STALE_TRANSCRIPT),
                )
            )
            .order_by(Transcript.id)
            .limit(limit)
        )
    )


# Claims of dead processes


def release_abandoned(runtime: Runtime, now: datetime) -> list[tuple[str, int]]:
    """Hand back claims whose process stopped beating; returns (kind, message id) handed back.

    Each row goes back to waiting in a conditional UPDATE naming the dead claimant, so a claim
    taken meanwhile by a live worker is never touched. The caller enqueues the rows again.
    """
    with runtime.db.session() as session:
        messages = session.execute(
            select(Message.id, Message.claimed_by).where(
                Message.state == MessageState.PROCESSING,
                Message.claimed_at < now - runtime.settings.recovery.abandoned_after,
                Message.claimed_by.is_not(None),
            )
        ).all()
        transcripts = session.execute(
            select(Transcript.message_id, Transcript.claimed_by).where(
                Transcript.state == TranscriptState.RUNNING,
                Transcript.updated_at < now - runtime.settings.recovery.abandoned_after,
                Transcript.claimed_by.is_not(None),
            )
        ).all()
    claimants = [str(by) for _, by in [*messages, *transcripts]]
    if not claimants:
        return []
    alive = living(runtime.jobs.connection, claimants)
    released: list[tuple[str, int]] = []
    with runtime.db.session() as session:
        for message_id, by in messages:
            back_to_waiting = (
                update(Message)
                .where(
                    Message.id == message_id,
                    Message.state == MessageState.PROCESSING,
                    Message.claimed_by == by,
                )
                .values(state=MessageState.RECEIVED, claimed_at=None, claimed_by=None)
            )
            if by not in alive and _changed(session, back_to_waiting):
                released.append(("message", message_id))
        for message_id, by in transcripts:
            back_to_pending = (
                update(Transcript)
                .where(
                    Transcript.message_id == message_id,
                    Transcript.state == TranscriptState.RUNNING,
                    Transcript.claimed_by == by,
                )
                .values(state=TranscriptState.PENDING, claimed_by=None)
            )
            if by not in alive and _changed(session, back_to_pending):
                released.append(("transcript", message_id))
    for kind, message_id in released:
        log.warning("%s %s was claimed by a process that died; handed back", kind, message_id)
    return released


def _changed(session: Session, statement: Update) -> bool:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]
