"""The audit log: every admin change (who, which object, which field, old and new, when).

Changes are caught where they are written: a session whose actor is set (``audit_as``, done by
the web for every logged-in request) records, at each flush, every created, changed or deleted
row of the audited tables (users and their roles, API tokens, mailboxes, rules, SLA policies,
categories, model versions, customers, settings), field by field, in the same transaction as the
change. So a new admin page needs no audit code, and the log cannot claim a change that was
rolled back. Secrets (password hashes, token hashes, mailbox credentials) are logged as changed,
never with their values. Ticket changes are in the ticket activity log (``ticket_events``);
``search`` reads both.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, insert, inspect, or_, select
from sqlalchemy.orm import Session, UOWTransaction

from intake.core.activity import Actor
from intake.core.db.admin_models import (
    AppSetting,
    AuditEntry,
    Category,
    ModelVersion,
    Rule,
    SlaPolicy,
)
from intake.core.db.base import utcnow
from intake.core.db.models import ApiToken, Customer, Mailbox, TicketEvent, User

log = logging.getLogger(__name__)

ACTOR_KEY = "audit_actor"
OBJECT_TYPES: dict[type, str] = {
    User: "user",
    ApiToken: "token",
    Mailbox: "mailbox",
    Rule: "rule",
    SlaPolicy: "sla",
    Category: "category",
    ModelVersion: "model",
    Customer: "customer",
    AppSetting: "setting",
}
SECRET_FIELDS = frozenset({"password_hash", "token_sha256", "secret_encrypted"})
# Bookkeeping that changes with every save and says nothing about what an admin decided.
IGNORED_FIELDS = frozenset({"created_at", "updated_at", "last_used_at", "session_version"})
SECRET = "(secret)"


def _plain(value: Any) -> Any:
    """A JSON-able form of a stored value (enums as words, datetimes and bytes as text)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"({len(value)} bytes)"
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def audit_as(session: Session, actor: Actor) -> None:
    """Record the audited changes ``session`` writes from now on as made by ``actor``."""
    session.info[ACTOR_KEY] = actor


def _label(row: Any) -> str:
    for name in ("email", "name", "key", "priority", "phone"):
        value = getattr(row, name, None)
        if value:
            return str(_plain(value))[:300]
    if isinstance(row, ModelVersion):
        return f"{row.task} #{row.id}"
    return ""


def _value(field: str, value: Any) -> Any:
    if field in SECRET_FIELDS:
        return None if value is None else SECRET
    return _plain(value)


def _fields(row: Any) -> dict[str, Any]:
    mapper = inspect(row).mapper
    return {
        attr.key: _value(attr.key, getattr(row, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in IGNORED_FIELDS
    }


def _entries(session: Session, actor: Actor) -> list[dict[str, Any]]:
    now = utcnow()
    entries: list[dict[str, Any]] = []

    def add(row: Any, action: str, field: str | None, old: Any, new: Any) -> None:
        identity = inspect(row).identity
        entries.append(
            {
                "at": now,
                "actor_id": actor.user_id,
                "actor": actor.name,
                "action": action,
                "object_type": OBJECT_TYPES[type(row)],
                "object_id": ",".join(str(k) for k in identity or ()) or "?",
                "object_label": _label(row),
                "field": field,
                "old": old,
                "new": new,
            }
        )

    for row in session.new:
        if type(row) in OBJECT_TYPES:
            add(row, "create", None, None, _fields(row))
    for row in session.deleted:
        if type(row) in OBJECT_TYPES:
            add(row, "delete", None, _fields(row), None)
    for row in session.dirty:
        if type(row) not in OBJECT_TYPES:
            continue
        state = inspect(row)
        for attr in state.mapper.column_attrs:
            if attr.key in IGNORED_FIELDS:
                continue
            history = state.attrs[attr.key].history
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if _plain(old) != _plain(new):
                add(row, "update", attr.key, _value(attr.key, old), _value(attr.key, new))
    return entries


@event.listens_for(Session, "after_flush")
def _record_admin_changes(session: Session, _context: UOWTransaction) -> None:
    # After the flush (new rows have their ids) and before history is reset; written on the
    # flush's own connection, so it commits or rolls back with the change.
    actor = session.info.get(ACTOR_KEY)
    if not isinstance(actor, Actor):
        return
    entries = _entries(session, actor)
    if entries:
        session.connection().execute(insert(AuditEntry), entries)


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    object_label: str
    field: str | None
    old: Any
    new: Any

    @property
    def object(self) -> str:
        return f"{self.object_type}:{self.object_id}"


@dataclass(frozen=True)
class AuditQuery:
    actor: str = ""  # part of the actor's name (email), any case
    object: str = ""  # "user", "ticket:12", or part of the object's label
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 500


def _admin_rows(session: Session, query: AuditQuery) -> list[AuditRow]:
    where: list[Any] = []
    if query.actor:
        where.append(AuditEntry.actor.ilike(f"%{query.actor}%"))
    if query.object:
        kind, _, ident = query.object.partition(":")
        if ident:
            where += [AuditEntry.object_type == kind, AuditEntry.object_id == ident]
        else:
            where.append(
                or_(AuditEntry.object_type == kind, AuditEntry.object_label.ilike(f"%{kind}%"))
            )
    if query.since:
        where.append(AuditEntry.at >= query.since)
    if query.until:
        where.append(AuditEntry.at < query.until)
    rows = session.scalars(
        select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(query.limit)
    )
    return [
        AuditRow(
            r.at,
            r.actor,
            r.action,
            r.object_type,
            r.object_id,
            r.object_label,
            r.field,
            r.old,
            r.new,
        )
        for r in rows
    ]


def _ticket_rows(session: Session, query: AuditQuery) -> list[AuditRow]:
    where: list[Any] = []
    if query.object:
        kind, _, ident = query.object.partition(":")
        if kind != "ticket":
            return []
        if ident:
            if not ident.isdigit():
                return []
            where.append(TicketEvent.ticket_id == int(ident))
    if query.actor:
        where.append(TicketEvent.actor.ilike(f"%{query.actor}%"))
    if query.since:
        where.append(TicketEvent.at >= query.since)
    if query.until:
        where.append(TicketEvent.at < query.until)
    rows = session.scalars(
        select(TicketEvent)
        .where(*where)
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        .limit(query.limit)
    )
    return [
        AuditRow(e.at, e.actor, str(e.kind), "ticket", str(e.ticket_id), "", e.field, e.old, e.new)
        for e in rows
    ]


def search(session: Session, query: AuditQuery) -> list[AuditRow]:
    """Admin changes and ticket changes, newest first, at most ``query.limit``."""
    rows = _admin_rows(session, query) + _ticket_rows(session, query)
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows[: query.limit]


def as_text(value: Any) -> str:
    """A logged value as one line for the page and the CSV."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
