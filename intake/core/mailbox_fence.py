"""The IMAP mailbox row as a fenced store: only the current lease holder writes its sync state.

``mailboxes.lease_token`` keeps the highest fencing token a poller claimed the row with
(``intake.core.leases``). A new holder claims the row first; from then on every write of an
older holder matches no row, so a poller that lost its lease (paused past its expiry, cut off
from Redis) can no longer move the mailbox's UID bookkeeping. Writes are conditional UPDATEs,
the same on PostgreSQL and SQLite.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import or_, select, update

from intake.core.db.engine import Database
from intake.core.db.models import Mailbox, Message
from intake.domain import Source
from intake.imap.sync import SyncState

log = logging.getLogger(__name__)


def lease_name(mailbox_id: int) -> str:
    return f"imap-mailbox:{mailbox_id}"


def claim(db: Database, mailbox_id: int, token: int) -> int | None:
    """Record ``token`` as the row's fence; None when done, else the higher token it holds.

    A higher stored token means the lease counter in Redis went back (lost without
    persistence): the caller lifts the counter above it and asks for a new lease.
    """
    with db.session() as session:
        result: Any = session.execute(
            update(Mailbox)
            .where(
                Mailbox.id == mailbox_id,
                or_(Mailbox.lease_token.is_(None), Mailbox.lease_token <= token),
            )
            .values(lease_token=token)
        )
        if result.rowcount:
            return None
        stored = session.scalar(select(Mailbox.lease_token).where(Mailbox.id == mailbox_id))
    # A removed mailbox has no row: nothing to fence, and the manager stops its worker.
    return int(stored) if stored is not None else None


def save_sync_state(db: Database, mailbox_id: int, token: int, state: SyncState) -> bool:
    """Store (UIDVALIDITY, last UID); False when a newer holder has claimed the mailbox."""
    with db.session() as session:
        result: Any = session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id, Mailbox.lease_token == token)
            .values(uidvalidity=state.uidvalidity, last_uid=state.last_uid)
        )
        return bool(result.rowcount)


def holds(db: Database, mailbox_id: int, token: int) -> bool:
    """Is ``token`` still the row's fence?"""
    with db.session() as session:
        stored = session.scalar(select(Mailbox.lease_token).where(Mailbox.id == mailbox_id))
    return stored == token


def last_stored_uid(db: Database, mailbox_id: int, uidvalidity: int) -> int | None:
    """The UID of the newest message stored from this mailbox's folder under ``uidvalidity``.

    A poller that dies between storing a message and recording its UID leaves exactly this
    one behind; its successor finishes it (flag, move or delete) instead of fetching it again.
    """
    with db.session() as session:
        extra = session.scalar(
            select(Message.extra)
            .where(Message.mailbox_id == mailbox_id, Message.source == Source.IMAP)
            .order_by(Message.id.desc())
            .limit(1)
        )
    imap = extra.get("imap") if isinstance(extra, dict) else None
    if not isinstance(imap, dict) or imap.get("uidvalidity") != uidvalidity:
        return None
    uid = imap.get("uid")
    return uid if isinstance(uid, int) else None
