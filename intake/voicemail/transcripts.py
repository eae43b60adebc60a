"""Transcript bookkeeping shared by collectors, the sweeper, the admin pages and the job.

Kept apart from ``workers.transcription`` so that processes which only enqueue or retry (web,
sweeper, SMTP) stay clear of the job's model cache and its imports.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.db.models import AppSetting, Transcript, TranscriptState
from intake.queue import QueueName
from intake.runtime import Runtime

VOCABULARY_KEY = "speech_vocabulary"
# Long voicemails (an hour of audio is possible) must not be killed by RQ's default timeout.
TRANSCRIBE_TIMEOUT_S = 2 * 3600
# Longer than the job timeout: a running transcript older than this belongs to a dead worker.
STALE_TRANSCRIPT = timedelta(seconds=TRANSCRIBE_TIMEOUT_S) + timedelta(minutes=15)


def enqueue_transcription(runtime: Runtime, message_id: int) -> bool:
    return runtime.queues.enqueue(
        QueueName.TRANSCRIBE,
        "workers.transcription.transcribe_message",
        message_id,
        job_id=f"transcribe-message-{message_id}",
        timeout=TRANSCRIBE_TIMEOUT_S,
    )


def speech_vocabulary(session: Session) -> tuple[str, ...]:
    """The admin's terms for the recognizer (company and product names), in their order."""
    row = session.get(AppSetting, VOCABULARY_KEY)
    terms = row.value.get("terms", []) if row is not None else []
    return tuple(str(term) for term in terms if str(term).strip())


def retry_transcript(runtime: Runtime, message_id: int) -> bool:
    """Admin action: a failed (or finished) transcript goes back to pending and is enqueued."""
    with runtime.db.session() as session:
        transcript = session.scalar(select(Transcript).where(Transcript.message_id == message_id))
        if transcript is None or transcript.state == TranscriptState.RUNNING.value:
            return False
        transcript.state = TranscriptState.PENDING.value
        transcript.attempts = 0
        transcript.error = None
    enqueue_transcription(runtime, message_id)
    return True
