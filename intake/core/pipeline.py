"""What follows what: the job an item needs once the previous step has finished with it."""

from __future__ import annotations

from intake.core.db.models import Message
from intake.core.jobs import CLASSIFY_TICKET, FETCH_RECORDING, TRANSCRIBE_MESSAGE, JobSpec
from intake.core.voicemail_tickets import recording_pending


def next_job(message: Message) -> tuple[JobSpec, int] | None:
    """After ``ingest_message``: audio is fetched, then transcribed; customers' text classified.

    A voicemail is classified once its transcript is there (``transcribe_message`` enqueues it);
    auto-replies and bounces are never classified.
    """
    if message.transcript is not None:
        if recording_pending(message):
            return FETCH_RECORDING, message.id
        return TRANSCRIBE_MESSAGE, message.id
    if message.ticket_id is not None and not message.is_automatic:
        return CLASSIFY_TICKET, message.ticket_id
    return None
