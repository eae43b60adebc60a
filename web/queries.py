"""Ticket queue queries shared by the HTML views and the JSON API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from intake.core.db.models import Message, Ticket

FILTERS = ("status", "channel", "category", "priority", "sentiment", "language", "group")


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None
    channel: str | None = None
    category: str | None = None
    priority: str | None = None
    sentiment: str | None = None
    language: str | None = None
    group: str | None = None
    q: str | None = None
    include_automatic: bool = False
    needs_review: bool | None = None
    complaint: str | None = None  # "yes" | "no"

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilter:
        values = {name: (args.get(name) or None) for name in FILTERS}
        review = args.get("needs_review")
        complaint = (args.get("complaint") or "").strip().lower()
        return cls(
            **values,
            complaint=complaint if complaint in ("yes", "no") else None,
            q=(args.get("q") or "").strip() or None,
            include_automatic=args.get("automatic") in ("1", "true", "yes"),
            needs_review=None if review in (None, "") else review in ("1", "true", "yes"),
        )


def queue_query(flt: QueueFilter) -> Select[Ticket]:
    query = select(Ticket)
    for name in FILTERS:
        value = getattr(flt, name)
        if value:
            query = query.where(getattr(Ticket, name) == value)
    if not flt.include_automatic:
        query = query.where(Ticket.automatic.is_(False))
    if flt.needs_review is not None:
        query = query.where(Ticket.needs_review.is_(flt.needs_review))
    if flt.complaint is not None:
        query = query.where(Ticket.complaint.is_(flt.complaint == "yes"))
    if flt.q:
        pattern = f"%{flt.q}%"
        in_messages = exists().where(
            Message.ticket_id == Ticket.id,
            or_(Message.text.ilike(pattern), Message.from_addr.ilike(pattern)),
        )
        query = query.where(or_(Ticket.subject.ilike(pattern), in_messages))
    # Most pressing first: priority, then SLA due time, then age.
    return query.order_by(
        Ticket.priority_rank, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.created_at
    )


def list_tickets(
    session: Session, flt: QueueFilter, limit: int = 100, offset: int = 0
) -> list[Ticket]:
    query = (
        queue_query(flt)
        .options(selectinload(Ticket.customer), selectinload(Ticket.assignee))
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def load_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.scalar(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(
            selectinload(Ticket.messages).selectinload(Message.attachments),
            selectinload(Ticket.messages).selectinload(Message.transcript),
            selectinload(Ticket.customer),
        )
    )
