"""Re-enqueue work that is stored but not queued: Redis was down, or a worker died mid-job.

Safe to run on several hosts at once: job ids are derived from rows and jobs claim rows.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import or_, select

from intake.accept import enqueue_processing
from intake.db.models import Message, MessageState, Transcript, TranscriptState, utcnow
from intake.runtime import Runtime
from intake.voicemail.transcripts import STALE_TRANSCRIPT, enqueue_transcription
from workers.claims import STALE_CLAIM

log = logging.getLogger(__name__)

BATCH = 500
# Give a just-accepted message's own enqueue a moment before the sweeper second-guesses it.
GRACE = timedelta(seconds=5)


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
    return enqueued + sweep_transcripts(runtime)


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


def run_sweeper(runtime: Runtime, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sweep_once(runtime)
        except Exception:
            # A database or Redis outage must not kill the sweeper: try again next round.
            log.exception("sweep failed")
        stop.wait(runtime.settings.sweep_seconds)
