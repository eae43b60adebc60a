"""The collector's reads and writes of the ``mailboxes`` table, as targeted column updates.

Workers never hold ORM rows: an admin editing a mailbox in the UI at the same moment must not
have their change overwritten by a worker flushing a stale object.
"""

from __future__ import annotations

import logging
from enum import Enum

from sqlalchemy import select, update

from intake.core.db.base import utcnow
from intake.core.db.engine import Database
from intake.core.db.models import Mailbox
from intake.imap.config import MailboxConfig, TlsMode, default_port, parse_after_action
from intake.imap.failures import Failure
from intake.imap.sync import SyncState

log = logging.getLogger(__name__)

DEFAULT_ALERT_AFTER = 5


class ConnState(str, Enum):
    CONNECTING = "connecting"
    SYNCING = "syncing"
    IDLE = "idle"  # connected, waiting in IMAP IDLE
    POLLING = "polling"  # connected, server has no IDLE
    ERROR = "error"  # backing off before the next attempt
    STOPPED = "stopped"


def config_from_row(row: Mailbox) -> MailboxConfig:
    """Raises ValueError for a setting the collector cannot use."""
    if not row.imap_host:
        raise ValueError(f"mailbox {row.name!r} has no IMAP server")
    tls = TlsMode(row.imap_tls)
    return MailboxConfig(
        id=row.id,
        name=row.name,
        host=row.imap_host,
        port=row.imap_port or default_port(tls),
        tls=tls,
        user=row.imap_user or "",
        folder=row.folder or "INBOX",
        after=parse_after_action(row.after_action or "seen"),
        poll_seconds=max(1, row.poll_seconds or 60),
        backfill_days=max(0, row.backfill_days or 0),
        addresses=tuple(str(a) for a in row.addresses or ()),
        secret_encrypted=row.secret_encrypted,
    )


def load_imap_configs(db: Database) -> list[MailboxConfig]:
    """Enabled mailboxes with an IMAP host; rows with an unusable setting are logged and skipped."""
    configs = []
    with db.session() as session:
        rows = session.scalars(
            select(Mailbox).where(Mailbox.enabled.is_(True), Mailbox.imap_host.is_not(None))
        )
        for row in rows:
            try:
                configs.append(config_from_row(row))
            except ValueError as exc:
                log.error("mailbox %s is misconfigured and skipped: %s", row.name, exc)
    return configs


def read_sync_state(db: Database, mailbox_id: int) -> SyncState:
    with db.session() as session:
        row = session.execute(
            select(Mailbox.uidvalidity, Mailbox.last_uid).where(Mailbox.id == mailbox_id)
        ).first()
    if row is None:
        return SyncState(None, None)
    return SyncState(row.uidvalidity, row.last_uid)


def save_sync_state(db: Database, mailbox_id: int, state: SyncState) -> None:
    with db.session() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id)
            .values(uidvalidity=state.uidvalidity, last_uid=state.last_uid)
        )


def set_state(db: Database, mailbox_id: int, state: ConnState) -> None:
    with db.session() as session:
        session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(state=state.value))


def record_success(db: Database, mailbox_id: int, state: ConnState) -> None:
    with db.session() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id)
            .values(
                state=state.value, last_success_at=utcnow(), consecutive_failures=0, alerted_at=None
            )
        )


def record_failure(
    db: Database, mailbox_id: int, failure: Failure, alert_after: int = DEFAULT_ALERT_AFTER
) -> bool:
    """Store the error; True exactly once per outage, when the failure count reaches alert_after."""
    now = utcnow()
    with db.session() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id)
            .values(
                state=ConnState.ERROR.value,
                last_error=f"[{failure.kind.value}] {failure.message}",
                last_error_at=now,
                consecutive_failures=Mailbox.consecutive_failures + 1,
            )
        )
        # The conditional UPDATE makes "alert once" hold even with two processes racing.
        claimed = session.execute(
            update(Mailbox)
            .where(
                Mailbox.id == mailbox_id,
                Mailbox.consecutive_failures >= alert_after,
                Mailbox.alerted_at.is_(None),
            )
            .values(alerted_at=now)
        )
        return bool(getattr(claimed, "rowcount", 0))


def save_secret(db: Database, mailbox_id: int, secret_encrypted: bytes) -> None:
    with db.session() as session:
        session.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id)
            .values(secret_encrypted=secret_encrypted)
        )
