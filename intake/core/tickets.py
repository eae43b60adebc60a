"""Tickets: opening one for a new conversation, and the changes people make (agents'
corrections are kept as training data)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.activity import Actor, record_change
from intake.core.assignment import auto_assign
from intake.core.db.admin_models import Category, Correction
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, User
from intake.core.search import keeps_index_in_step  # noqa: F401 (registers the listener)
from intake.core.sla import recompute_and_log as recompute_sla
from intake.domain import Priority, SetBy, TicketStatus
from intake.errors import RejectedError

EDITABLE = ("status", "category", "priority", "assignee", "group", "tags")


def open_ticket(session: Session, first: Message, subject: str, at: datetime) -> Ticket:
    """A new ticket started by ``first``, at medium priority until it is classified."""
    ticket = Ticket(
        subject=subject,
        channel=first.channel,
        status=TicketStatus.NEW,
        automatic=first.is_automatic,
        mailbox_id=first.mailbox_id,
        priority=Priority.MEDIUM,
        priority_rank=Priority.MEDIUM.rank,
        # Its SLA clock starts at its first flush, once the customer (and tier) may be known.
        created_at=at,
    )
    if first.mailbox is not None:
        ticket.group = first.mailbox.default_group
    session.add(ticket)
    return ticket


def active_categories(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Category.key).where(Category.retired.is_(False)).order_by(Category.position)
        )
    )


def ticket_training_text(ticket: Ticket) -> str:
    first = next((m for m in ticket.messages if m.direction == "inbound"), None)
    body = (first.new_text or first.text or "") if first is not None else ""
    return f"{ticket.subject}\n{body}".strip()


def update_ticket(
    session: Session, ticket: Ticket, changes: Mapping[str, Any], user: User | None
) -> list[str]:
    """Apply validated changes, each logged in the activity log; returns the fields that changed."""
    by = Actor.of(user)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise RejectedError("cannot change {fields}", fields=", ".join(sorted(unknown)))
    changed: list[str] = []
    if "status" in changes:
        try:
            status = TicketStatus(str(changes["status"]))
        except ValueError:
            raise RejectedError("unknown status {value!r}", value=changes["status"]) from None
        if status != ticket.status:
            record_change(session, ticket, "status", ticket.status, status, by)
            ticket.status = status
            ticket.resolved_at = utcnow() if status == TicketStatus.RESOLVED else None
            changed.append("status")
            if status == TicketStatus.RESOLVED:
                # Imported here: the outbox the resolution email goes through imports this module.
                from intake.core.resolutions import resolution_email_on_resolve

                resolution_email_on_resolve(session, ticket, by)
    if "category" in changes:
        category = str(changes["category"])
        if category not in active_categories(session):
            raise RejectedError("unknown category {category!r}", category=category)
        if category != ticket.category:
            _record_correction(session, ticket, "category", ticket.category, category, user)
            record_change(session, ticket, "category", ticket.category, category, by)
            ticket.category = category
            changed.append("category")
        ticket.category_set_by = SetBy.AGENT
    if "priority" in changes:
        try:
            priority = Priority(str(changes["priority"]))
        except ValueError:
            raise RejectedError("unknown priority {value!r}", value=changes["priority"]) from None
        if priority != ticket.priority:
            _record_correction(session, ticket, "priority", ticket.priority, priority, user)
            record_change(session, ticket, "priority", ticket.priority, priority, by)
            ticket.priority = priority
            ticket.priority_rank = priority.rank
            ticket.priority_reasons = [f"set by {user.email if user else 'an agent'}"]
            recompute_sla(session, ticket, by)
            changed.append("priority")
        ticket.priority_set_by = SetBy.AGENT
    if "assignee" in changes:
        assignee = _assignee(session, changes["assignee"])
        if (assignee.id if assignee else None) != ticket.assignee_id:
            old = ticket.assignee.email if ticket.assignee else None
            new = assignee.email if assignee else None
            record_change(session, ticket, "assignee", old, new, by)
            ticket.assignee = assignee
            changed.append("assignee")
    if "group" in changes:
        group = str(changes["group"] or "")
        if len(group) > 100:
            raise RejectedError("group names have at most 100 characters")
        if (group or None) != ticket.group:
            record_change(session, ticket, "group", ticket.group, group or None, by)
            ticket.group = group or None
            changed.append("group")
            if "assignee" not in changes:
                # Moved to a group that assigns by itself: one of its members gets it now.
                auto_assign(session, ticket, by)
    if "tags" in changes:
        tags = changes["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise RejectedError("tags must be a list of strings")
        new_tags = sorted({t.strip() for t in tags if t.strip()})
        if new_tags != sorted(ticket.tags or []):
            record_change(session, ticket, "tags", sorted(ticket.tags or []), new_tags, by)
            ticket.tags = new_tags
            changed.append("tags")
    ticket.updated_at = utcnow()
    return changed


def _assignee(session: Session, value: Any) -> User | None:
    if value in (None, ""):
        return None
    user = session.scalar(select(User).where(User.email == str(value).strip().lower()))
    if user is None:
        raise RejectedError("no user {value!r}", value=value)
    return user


def record_first_response(ticket: Ticket, at: datetime) -> None:
    """The first reply sent or call-back logged stops the first-response clock; later ones don't."""
    if ticket.first_response_at is None:
        ticket.first_response_at = at


def _record_correction(
    session: Session, ticket: Ticket, field: str, old: str | None, new: str, user: User | None
) -> None:
    session.add(
        Correction(
            ticket_id=ticket.id,
            field=field,
            old_value=old,
            new_value=new,
            text=ticket_training_text(ticket),
            user_id=user.id if user else None,
        )
    )
