"""The ``outbound`` queue's job: one stored outbound mail to the relay, at most once when it works.

The delivery row is claimed first (``intake.core.outbox``), so a job enqueued twice, a retry
that fires after a person's retry succeeded, or a job run on two hosts sends nothing twice. A
temporary failure (connection refused, a 4xx answer) raises, so RQ retries with backoff; a
permanent one (a 5xx answer, no relay configured) fails the delivery at once. Either way the
relay's answer is on the row, shown on the ticket with a retry button.
"""

from __future__ import annotations

import logging

from intake.core import runtime as runtime_module
from intake.core.db.base import utcnow
from intake.core.jobs import SEND_MESSAGE
from intake.core.outbox import (
    abandoned_delivery_ids,
    claim_delivery,
    mark_failed,
    mark_sent,
    queued_delivery_ids,
)
from intake.core.relay import RelayError, relay_config, send_raw
from intake.core.runtime import Runtime
from intake.errors import NotFoundError

log = logging.getLogger(__name__)

BATCH = 500


def send_message(message_id: int) -> str:
    """Send one outbound message through ``INTAKE_OUTBOUND_SMTP_URL`` (queue ``outbound``)."""
    runtime = runtime_module.current()
    claimed = claim_delivery(runtime, message_id)
    if claimed is None:
        return "skipped: already sent, being sent, failed or not an outbound message"
    try:
        raw = runtime.blobs.get(claimed.raw_sha256)
        answer = send_raw(
            relay_config(runtime.settings.outbound_smtp_url),
            claimed.mail_from,
            claimed.recipients,
            raw,
        )
    except NotFoundError as exc:  # the stored bytes are gone: no retry brings them back
        mark_failed(runtime, message_id, str(exc), permanent=True)
        return f"failed: {exc}"
    except RelayError as exc:
        if mark_failed(runtime, message_id, str(exc), permanent=exc.permanent):
            raise  # RQ retries with backoff
        return f"failed: {exc}"
    except Exception as exc:
        mark_failed(runtime, message_id, f"{exc.__class__.__name__}: {exc}", permanent=False)
        raise
    mark_sent(runtime, message_id, answer)
    return f"sent: {answer}"


def sweep_outbound(runtime: Runtime) -> int:
    """Enqueue deliveries whose job was lost (Redis down) or whose worker died mid-send."""
    now = utcnow()
    with runtime.db.session() as session:
        queued = queued_delivery_ids(session, now, BATCH)
        abandoned = abandoned_delivery_ids(session, now, BATCH)
    enqueued = sum(1 for key in queued if runtime.jobs.enqueue(SEND_MESSAGE, key))
    enqueued += sum(1 for key in abandoned if runtime.jobs.enqueue_anew(SEND_MESSAGE, key))
    if queued or abandoned:
        log.info(
            "sweeper: %d of %d waiting outbound mails enqueued",
            enqueued,
            len(queued) + len(abandoned),
        )
    return enqueued
