"""Merging duplicate tickets: the duplicates' threads move to one ticket, a link stays behind.

A merged ticket keeps its row (its number may be quoted in mail and links) with
``merged_into_id`` pointing at the ticket that now holds its messages; it is resolved through
``update_ticket`` so the status change is logged like any other, and both tickets' activity
logs get a ``merge`` entry saying which messages moved where.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.activity import Actor, record_event
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, User
from intake.core.tickets import update_ticket
from intake.domain import EventKind, TicketStatus
from intake.errors import RejectedError

log = logging.getLogger(__name__)


def merge_tickets(
    session: Session, target: Ticket, duplicates: Sequence[Ticket], user: User | None
) -> list[int]:
    """Move every message of ``duplicates`` to ``target``; returns the moved message ids."""
    if target.merged_into_id is not None:
        raise RejectedError(
            "ticket {target_id} was itself merged into {merged_into_id}",
            target_id=target.id,
            merged_into_id=target.merged_into_id,
        )
    by = Actor.of(user)
    moved_all: list[int] = []
    for duplicate in duplicates:
        if duplicate.id == target.id:
            continue
        if duplicate.merged_into_id is not None:
            raise RejectedError(
                "ticket {duplicate_id} was already merged into {merged_into_id}",
                duplicate_id=duplicate.id,
                merged_into_id=duplicate.merged_into_id,
            )
        messages = list(session.scalars(select(Message).where(Message.ticket_id == duplicate.id)))
        for message in messages:
            message.ticket = target
        moved = [m.id for m in messages]
        moved_all.extend(moved)
        duplicate.merged_into_id = target.id
        if target.customer_id is None:
            target.customer_id = duplicate.customer_id
        record_event(session, duplicate, EventKind.MERGE, by, field="merged_into", new=target.id)
        record_event(
            session,
            target,
            EventKind.MERGE,
            by,
            field="merged_from",
            new={"ticket": duplicate.id, "messages": moved},
        )
        if duplicate.status != TicketStatus.RESOLVED:
            update_ticket(session, duplicate, {"status": TicketStatus.RESOLVED.value}, user)
        log.info("ticket %s merged into %s (%d messages)", duplicate.id, target.id, len(moved))
    target.updated_at = utcnow()
    return moved_all
