"""Conditional-UPDATE claims that make every job safe to run twice or concurrently."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, update

from intake.db.models import Message, MessageState, utcnow
from intake.runtime import Runtime

log = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died mid-job.
STALE_CLAIM = timedelta(minutes=15)


def claim_message(runtime: Runtime, message_id: int) -> bool:
    now = utcnow()
    with runtime.db.session() as session:
        result = session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                or_(
                    Message.state == MessageState.RECEIVED.value,
                    (Message.state == MessageState.PROCESSING.value)
                    & (Message.claimed_at < now - STALE_CLAIM),
                ),
            )
            .values(
                state=MessageState.PROCESSING.value,
                claimed_at=now,
                attempts=Message.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release_after_failure(runtime: Runtime, message_id: int, error: str) -> None:
    """Record the error; after the last attempt the message shows as failed for an admin."""
    max_attempts = runtime.settings.job_retries + 1
    with runtime.db.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            return
        message.error = error[:4000]
        message.state = (
            MessageState.FAILED.value
            if message.attempts >= max_attempts
            else MessageState.RECEIVED.value
        )
        message.claimed_at = None
    log.warning("message %s attempt failed: %s", message_id, error)
