"""A ticket's activity log: every change, reply, note, call-back and merge, with who and when.

Entries are written in the same transaction as the change they describe, so the log never
claims what did not happen and never misses what did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.db.base import utcnow
from intake.core.db.models import Ticket, TicketEvent, User
from intake.domain import EventKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acted: a user, or the gateway itself (classifier, rules, SLA clock, acknowledgements)."""

    user_id: int | None
    name: str

    SYSTEM: ClassVar[Actor]

    @classmethod
    def of(cls, user: User | None) -> Actor:
        return cls.SYSTEM if user is None else cls(user.id, user.email)


Actor.SYSTEM = Actor(None, "system")


def _plain(value: object) -> Any:
    """A JSON-able form of a field's value (enums as their words, datetimes as ISO 8601)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def record_event(
    session: Session,
    ticket: Ticket,
    kind: EventKind,
    by: Actor,
    *,
    field: str | None = None,
    old: object = None,
    new: object = None,
    at: datetime | None = None,
) -> TicketEvent:
    if ticket.id is None:
        session.flush()  # a ticket opened in this transaction needs its id first
    event = TicketEvent(
        ticket_id=ticket.id,
        at=at or utcnow(),
        actor_id=by.user_id,
        actor=by.name,
        kind=kind,
        field=field,
        old=_plain(old),
        new=_plain(new),
    )
    session.add(event)
    log.debug("ticket %s: %s %s by %s", ticket.id, kind, field or "", by.name)
    return event


def record_change(
    session: Session, ticket: Ticket, field: str, old: object, new: object, by: Actor
) -> TicketEvent | None:
    """Log a field's change; nothing when the value stayed the same."""
    if _plain(old) == _plain(new):
        return None
    return record_event(session, ticket, EventKind.CHANGE, by, field=field, old=old, new=new)


def events_of(session: Session, ticket_id: int) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
    )
