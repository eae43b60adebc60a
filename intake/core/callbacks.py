"""Calling a voicemail's caller back: the outcome goes into the ticket's activity log.

A logged call-back, whatever came of it, is the ticket's first response (the customer was
answered in the channel they chose), so it stops the first-response clock.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from intake.core.activity import Actor, record_event
from intake.core.db.base import utcnow
from intake.core.db.models import Ticket, TicketEvent
from intake.core.tickets import record_first_response
from intake.domain import CallbackOutcome, Channel, EventKind
from intake.errors import RejectedError

log = logging.getLogger(__name__)

OUTCOME_LABELS = {
    CallbackOutcome.REACHED: "Reached the caller",
    CallbackOutcome.NO_ANSWER: "No answer",
    CallbackOutcome.LEFT_MESSAGE: "Left a message",
}


def parse_outcome(value: object) -> CallbackOutcome:
    try:
        return CallbackOutcome(str(value).strip())
    except ValueError:
        raise RejectedError(
            "unknown call-back outcome {value!r}; one of {choices}",
            value=value,
            choices=", ".join(o.value for o in CallbackOutcome),
        ) from None


def has_voicemail(ticket: Ticket) -> bool:
    return ticket.channel == Channel.VOICEMAIL or any(
        m.channel == Channel.VOICEMAIL for m in ticket.messages
    )


def log_callback(
    session: Session,
    ticket: Ticket,
    outcome: CallbackOutcome,
    by: Actor,
    at: datetime | None = None,
) -> TicketEvent:
    """Record a call-back on a voicemail ticket; the first one is its first response."""
    if not has_voicemail(ticket):
        raise RejectedError("call-backs are logged on voicemail tickets only")
    at = at or utcnow()
    event = record_event(
        session, ticket, EventKind.CALLBACK, by, field="outcome", new=outcome, at=at
    )
    record_first_response(ticket, at)
    ticket.updated_at = at
    log.info("ticket %s: call-back by %s, %s", ticket.id, by.name, outcome)
    return event
