"""Saved queue views: a name for a filter, kept for its owner, a group, or everyone."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.core.db.admin_models import Group, GroupMember, SavedView
from intake.core.db.models import User
from intake.errors import NotFoundError, RejectedError

MAX_NAME = 100
MAX_QUERY = 2000


def user_groups(session: Session, user_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Group.name)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user_id)
            .order_by(Group.name)
        )
    )


def visible_views(session: Session, user: User) -> list[SavedView]:
    """The user's own views, then those shared with everyone or with one of their groups."""
    groups = user_groups(session, user.id)
    return list(
        session.scalars(
            select(SavedView)
            .where(
                or_(
                    SavedView.user_id == user.id,
                    SavedView.shared.is_(True),
                    SavedView.group.in_(groups) if groups else SavedView.id.is_(None),
                )
            )
            .order_by(SavedView.user_id != user.id, SavedView.name, SavedView.id)
        )
    )


def save_view(
    session: Session,
    user: User,
    name: str,
    filters: Mapping[str, str],
    *,
    shared: bool = False,
    group: str | None = None,
) -> SavedView:
    """Save (or replace, by name) one of the user's views."""
    name = " ".join(name.split())
    if not name:
        raise RejectedError("a saved view needs a name")
    if len(name) > MAX_NAME:
        raise RejectedError("view names have at most {limit} characters", limit=MAX_NAME)
    query = urlencode(sorted((k, v) for k, v in filters.items() if v))
    if len(query) > MAX_QUERY:
        raise RejectedError("this filter is too long to save")
    if group and group not in user_groups(session, user.id):
        raise RejectedError("you are not in the group {group!r}", group=group)
    view = session.scalar(
        select(SavedView).where(SavedView.user_id == user.id, SavedView.name == name)
    )
    if view is None:
        view = SavedView(user_id=user.id, name=name)
        session.add(view)
    view.query = query
    view.shared = shared
    view.group = group or None
    return view


def delete_view(session: Session, user: User, view_id: int) -> None:
    """Only the owner (or an admin) removes a view."""
    view = session.get(SavedView, view_id)
    if view is None:
        raise NotFoundError("no saved view {view_id}", view_id=view_id)
    if view.user_id != user.id and not user.is_admin:
        raise RejectedError("only its owner can delete a saved view")
    session.delete(view)
