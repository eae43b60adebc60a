"""Re-enqueue work that is stored but not queued: Redis was down, or a worker died mid-job.

Safe to run on several hosts at once: job ids are derived from rows and jobs claim rows.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import exists, func, or_, select

from intake.accept import enqueue_processing
from intake.db.models import (
    Correction,
    Message,
    MessageState,
    ModelVersion,
    Ticket,
    Transcript,
    TranscriptState,
    utcnow,
)
from intake.runtime import Runtime
from intake.voicemail.transcripts import STALE_TRANSCRIPT, enqueue_transcription
from workers.claims import STALE_CLAIM
from workers.enqueue import enqueue_classification, enqueue_retrain

log = logging.getLogger(__name__)

BATCH = 500
# Give a just-accepted message's own enqueue a moment before the sweeper second-guesses it.
GRACE = timedelta(seconds=5)
# A ticket's classification normally follows within seconds of its message being processed.
UNCLASSIFIED_AFTER = timedelta(minutes=2)
UNCLASSIFIED_UNTIL = timedelta(days=1)


def sweep_once(runtime: Runtime) -> int:
    """Enqueue stuck messages; returns how many were (re)enqueued."""
    now = utcnow()
    with runtime.db.session() as session:
        ids = list(
            session.scalars(
                select(Message.id)
                .where(
                    or_(
                        (Message.state == MessageState.RECEIVED.value)
                        & (Message.received_at < now - GRACE),
                        (Message.state == MessageState.PROCESSING.value)
                        & (Message.claimed_at < now - STALE_CLAIM),
                    )
                )
                .order_by(Message.id)
                .limit(BATCH)
            )
        )
    enqueued = sum(1 for message_id in ids if enqueue_processing(runtime, message_id))
    if ids:
        log.info("sweeper: %d of %d waiting messages enqueued", enqueued, len(ids))
    return enqueued + sweep_transcripts(runtime) + sweep_unclassified(runtime)


def sweep_transcripts(runtime: Runtime) -> int:
    """Enqueue pending transcripts, and running ones whose worker died."""
    now = utcnow()
    with runtime.db.session() as session:
        ids = list(
            session.scalars(
                select(Transcript.message_id)
                .where(
                    or_(
                        (Transcript.state == TranscriptState.PENDING.value)
                        & (Transcript.updated_at < now - GRACE),
                        (Transcript.state == TranscriptState.RUNNING.value)
                        & (Transcript.updated_at < now - STALE_TRANSCRIPT),
                    )
                )
                .order_by(Transcript.id)
                .limit(BATCH)
            )
        )
    enqueued = sum(1 for message_id in ids if enqueue_transcription(runtime, message_id))
    if ids:
        log.info("sweeper: %d of %d waiting transcripts enqueued", enqueued, len(ids))
    return enqueued


def sweep_unclassified(runtime: Runtime) -> int:
    """Enqueue classification of customer tickets whose own enqueue was lost (Redis blip)."""
    now = utcnow()
    unfinished = exists().where(
        Transcript.message_id == Message.id,
        Message.ticket_id == Ticket.id,
        Transcript.state.in_([TranscriptState.PENDING.value, TranscriptState.RUNNING.value]),
    )
    with runtime.db.session() as session:
        ids = list(
            session.scalars(
                select(Ticket.id)
                .where(
                    Ticket.classified_at.is_(None),
                    Ticket.automatic.is_(False),
                    Ticket.created_at < now - UNCLASSIFIED_AFTER,
                    # Bounded: a ticket whose classification keeps failing is not retried forever.
                    Ticket.created_at > now - UNCLASSIFIED_UNTIL,
                    ~unfinished,
                )
                .order_by(Ticket.id)
                .limit(BATCH)
            )
        )
    enqueued = sum(1 for ticket_id in ids if enqueue_classification(runtime, ticket_id))
    if ids:
        log.info("sweeper: %d of %d unclassified tickets enqueued", enqueued, len(ids))
    return enqueued


def schedule_retrain(runtime: Runtime) -> bool:
    """Queue the nightly retrain when agents corrected something since the last version."""
    with runtime.db.session() as session:
        last_correction = session.scalar(select(func.max(Correction.created_at)))
        last_version = session.scalar(
            select(func.max(ModelVersion.created_at)).where(ModelVersion.task == "category")
        )
    if last_correction is None or (last_version is not None and last_version >= last_correction):
        return False
    # One run per day: the job id is derived from the date.
    return enqueue_retrain(runtime, utcnow().strftime("%Y%m%d"))


def run_sweeper(runtime: Runtime, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sweep_once(runtime)
            schedule_retrain(runtime)
        except Exception:
            # A database or Redis outage must not kill the sweeper: try again next round.
            log.exception("sweep failed")
        stop.wait(runtime.settings.sweep_seconds)
