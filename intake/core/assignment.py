"""Automatic assignment: a new ticket in a group goes to one of its members.

Per group: ``manual`` (nobody is picked), ``round_robin`` (members in turn, by id) or
``least_open`` (the member with the fewest unresolved tickets; ties go round-robin). Members
who are away or deactivated are skipped, and so is anyone at the group's cap of unresolved
tickets (``max_open``, counted over all their tickets, since an agent has one workload). When
nobody can take the ticket it stays unassigned in the group, for its members to pick up.

The group row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer at a
time anyway) while a member is picked, so two workers assigning at once do not both hand the
"next" ticket to the same person.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.core.activity import Actor, record_event
from intake.core.db.admin_models import Group, GroupMember
from intake.core.db.base import utcnow
from intake.core.db.models import Ticket, User
from intake.domain import AssignmentStrategy, EventKind, TicketStatus

log = logging.getLogger(__name__)


def eligible_members(session: Session, group: Group) -> list[User]:
    """Members who can take a ticket now, by id: active and not away."""
    return list(
        session.scalars(
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(
                GroupMember.group_id == group.id,
                User.active.is_(True),
                User.away.is_(False),
            )
            .order_by(User.id)
        )
    )


def open_counts(session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    """Unresolved tickets assigned to each of ``user_ids``."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(Ticket.assignee_id, func.count(Ticket.id))
        .where(Ticket.assignee_id.in_(user_ids), Ticket.status != TicketStatus.RESOLVED)
        .group_by(Ticket.assignee_id)
    )
    counts = {user_id: 0 for user_id in user_ids}
    counts.update({user_id: count for user_id, count in rows if user_id is not None})
    return counts


def _in_turn(members: Sequence[User], last_id: int | None) -> list[User]:
    """Members starting with the one after ``last_id`` (in id order), wrapping around."""
    if last_id is None:
        return list(members)
    after = [m for m in members if m.id > last_id]
    return after + [m for m in members if m.id <= last_id]


def pick_member(session: Session, group: Group) -> User | None:
    """Whom the group's strategy hands its next ticket to; None for manual or nobody free."""
    if group.strategy is AssignmentStrategy.MANUAL:
        return None
    members = _in_turn(eligible_members(session, group), group.last_assigned_id)
    counts = open_counts(session, [m.id for m in members])
    if group.max_open is not None:
        members = [m for m in members if counts[m.id] < group.max_open]
    if not members:
        return None
    if group.strategy is AssignmentStrategy.LEAST_OPEN:
        # min() keeps the first of equals: the one whose turn it is.
        return min(members, key=lambda m: counts[m.id])
    return members[0]


def auto_assign(session: Session, ticket: Ticket, by: Actor = Actor.SYSTEM) -> User | None:
    """Assign an unassigned, unresolved customer ticket by its group's strategy.

    Returns whom it was given to; None when it keeps its assignee, has no (automatic) group,
    or no member can take it.
    """
    if (
        ticket.assignee_id is not None
        or not ticket.group
        or ticket.automatic
        or ticket.status == TicketStatus.RESOLVED
    ):
        return None
    group = session.scalar(select(Group).where(Group.name == ticket.group).with_for_update())
    if group is None:
        return None
    member = pick_member(session, group)
    if member is None:
        if group.strategy is not AssignmentStrategy.MANUAL:
            log.info("ticket %s: nobody in %s can take it now", ticket.id, group.name)
        return None
    ticket.assignee = member
    ticket.updated_at = utcnow()
    group.last_assigned_id = member.id
    record_event(
        session,
        ticket,
        EventKind.ASSIGNMENT,
        by,
        field="assignee",
        old=None,
        new=member.email,
    )
    log.info(
        "ticket %s assigned to %s (%s, %s)", ticket.id, member.email, group.name, group.strategy
    )
    return member
