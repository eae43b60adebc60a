"""Groups of agents: who belongs where, and which tickets each person may see.

``Ticket.group`` holds a group's name. Admins see every ticket; an agent sees the tickets of the
groups they belong to, the tickets assigned to them, and the tickets of no (defined) group,
which are the whole team's until something routes them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import ColumnElement, delete, exists, or_, select, true, update
from sqlalchemy.orm import Session

from intake.core.db.admin_models import Group, GroupMember
from intake.core.db.models import Ticket, User
from intake.domain import AssignmentStrategy
from intake.errors import RejectedError

log = logging.getLogger(__name__)

MAX_NAME = 100
MAX_CAP = 10_000


def _member_group_names(user_id: int) -> ColumnElement[bool]:
    names = (
        select(Group.name)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
    )
    return Ticket.group.in_(names)


def visible_to(user_id: int | None, is_admin: bool) -> ColumnElement[bool]:
    """A SQL condition on ``Ticket``: the tickets this person may see (add it to any query)."""
    if is_admin:
        return true()
    ungrouped = or_(Ticket.group.is_(None), ~exists().where(Group.name == Ticket.group))
    if user_id is None:
        return ungrouped
    return or_(ungrouped, Ticket.assignee_id == user_id, _member_group_names(user_id))


def group_named(session: Session, name: str) -> Group | None:
    return session.scalar(select(Group).where(Group.name == name))


def all_groups(session: Session) -> list[Group]:
    return list(session.scalars(select(Group).order_by(Group.name)))


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise RejectedError("a group needs a name")
    if len(name) > MAX_NAME:
        raise RejectedError("group names have at most {limit} characters", limit=MAX_NAME)
    return name


def _checked_cap(max_open: int | None) -> int | None:
    if max_open is not None and not 1 <= max_open <= MAX_CAP:
        raise RejectedError(
            "the cap of open tickets per agent is between 1 and {limit}", limit=MAX_CAP
        )
    return max_open


def parse_strategy(value: str) -> AssignmentStrategy:
    try:
        return AssignmentStrategy(value.strip())
    except ValueError:
        raise RejectedError(
            "unknown assignment {value!r}; one of {choices}",
            value=value,
            choices=", ".join(s.value for s in AssignmentStrategy),
        ) from None


def create_group(
    session: Session,
    name: str,
    strategy: AssignmentStrategy = AssignmentStrategy.MANUAL,
    max_open: int | None = None,
) -> Group:
    name = _checked_name(name)
    if group_named(session, name) is not None:
        raise RejectedError("group {name!r} already exists", name=name)
    group = Group(name=name, strategy=strategy, max_open=_checked_cap(max_open))
    session.add(group)
    session.flush()
    return group


def configure_group(
    session: Session, group: Group, strategy: AssignmentStrategy, max_open: int | None
) -> None:
    group.strategy = strategy
    group.max_open = _checked_cap(max_open)


def rename_group(session: Session, group: Group, name: str) -> int:
    """Rename, carrying its tickets along; returns how many tickets moved."""
    name = _checked_name(name)
    if name == group.name:
        return 0
    if group_named(session, name) is not None:
        raise RejectedError("group {name!r} already exists", name=name)
    moved = session.execute(update(Ticket).where(Ticket.group == group.name).values(group=name))
    group.name = name
    return int(getattr(moved, "rowcount", 0) or 0)


def delete_group(session: Session, group: Group) -> None:
    """The group goes; its tickets keep the name and become visible to every agent."""
    session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    session.delete(group)


def set_members(session: Session, group: Group, user_ids: Iterable[int]) -> None:
    wanted = set(user_ids)
    known = set(session.scalars(select(User.id).where(User.id.in_(wanted))))
    unknown = wanted - known
    if unknown:
        raise RejectedError("no user with id {ids}", ids=", ".join(map(str, sorted(unknown))))
    current = set(
        session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group.id))
    )
    for user_id in wanted - current:
        session.add(GroupMember(group_id=group.id, user_id=user_id))
    if current - wanted:
        session.execute(
            delete(GroupMember).where(
                GroupMember.group_id == group.id, GroupMember.user_id.in_(current - wanted)
            )
        )
    session.flush()
    session.expire(group, ["members"])
    log.info("group %s members: %s", group.name, sorted(wanted))


def set_away(session: Session, user: User, away: bool) -> None:
    """Away agents keep their tickets but get no new ones from automatic assignment."""
    user.away = away
