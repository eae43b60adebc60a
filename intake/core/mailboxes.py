"""Mailbox administration shared by the CLI and the admin UI: add, update, remove, list.

Credentials go in encrypted (Fernet, :mod:`intake.core.secrets`) and never come out of this module:
:class:`MailboxView` has no field that could carry them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.db.base import utcnow
from intake.core.db.models import Mailbox
from intake.core.mailbox_state import config_from_row
from intake.core.secrets import decrypt, encrypt
from intake.core.settings import Settings
from intake.errors import NotFoundError, RejectedError
from intake.imap.config import (
    AfterAction,
    Credentials,
    MailboxConfig,
    TlsMode,
    default_port,
    parse_after_action,
)

log = logging.getLogger(__name__)

MIN_POLL_SECONDS = 1
MAX_POLL_SECONDS = 24 * 3600


@dataclass
class MailboxSpec:
    """What an admin sets; ``credentials`` None on update keeps the stored secret."""

    name: str
    addresses: list[str] = field(default_factory=list)
    imap_host: str | None = None
    imap_port: int | None = None
    imap_tls: TlsMode = TlsMode.IMPLICIT
    imap_user: str | None = None
    folder: str = "INBOX"
    after: str = "seen"
    poll_seconds: int = 60
    backfill_days: int = 0
    enabled: bool = True
    default_group: str | None = None
    default_category: str | None = None


@dataclass(frozen=True)
class MailboxView:
    id: int
    name: str
    addresses: list[str]
    enabled: bool
    imap_host: str | None
    imap_port: int | None
    imap_tls: str
    imap_user: str | None
    auth_kind: str
    has_secret: bool
    folder: str
    after_action: str
    poll_seconds: int
    backfill_days: int
    default_group: str | None
    default_category: str | None
    state: str
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    alerted: bool
    check: ConnectionCheck

    @property
    def is_imap(self) -> bool:
        return bool(self.imap_host)


@dataclass(frozen=True)
class ConnectionCheck:
    """The admin's last "test connection": asked for, then answered by the check_mailbox job."""

    requested_at: datetime | None = None
    checked_at: datetime | None = None
    ok: bool | None = None
    message: str | None = None

    @property
    def pending(self) -> bool:
        return self.requested_at is not None and (
            self.checked_at is None or self.checked_at < self.requested_at
        )


def view_of(row: Mailbox) -> MailboxView:
    return MailboxView(
        id=row.id,
        name=row.name,
        addresses=list(row.addresses or []),
        enabled=row.enabled,
        imap_host=row.imap_host,
        imap_port=row.imap_port,
        imap_tls=row.imap_tls,
        imap_user=row.imap_user,
        auth_kind=row.auth_kind,
        has_secret=row.secret_encrypted is not None,
        folder=row.folder,
        after_action=row.after_action,
        poll_seconds=row.poll_seconds,
        backfill_days=row.backfill_days,
        default_group=row.default_group,
        default_category=row.default_category,
        state=row.state if row.enabled else "disabled",
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        consecutive_failures=row.consecutive_failures,
        alerted=row.alerted_at is not None,
        check=ConnectionCheck(
            row.check_requested_at, row.checked_at, row.check_ok, row.check_message
        ),
    )


def validate(spec: MailboxSpec) -> AfterAction:
    """Raise RejectedError with a sentence an admin can act on."""
    if not spec.name.strip() or len(spec.name) > 200:
        raise RejectedError("a mailbox needs a name of 1 to 200 characters")
    for address in spec.addresses:
        local, at, domain = address.partition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in address):
            raise RejectedError("{address!r} is not an email address", address=address)
    try:
        after = parse_after_action(spec.after)
    except ValueError as exc:
        raise RejectedError(str(exc)) from None
    if not MIN_POLL_SECONDS <= spec.poll_seconds <= MAX_POLL_SECONDS:
        raise RejectedError(
            "poll interval must be {low} to {high} seconds",
            low=MIN_POLL_SECONDS,
            high=MAX_POLL_SECONDS,
        )
    if spec.backfill_days < 0:
        raise RejectedError("backfill days cannot be negative")
    if spec.imap_host:
        if any(c.isspace() or c in "/@" for c in spec.imap_host.strip()):
            raise RejectedError("{imap_host!r} is not a host name", imap_host=spec.imap_host)
        if spec.imap_port is not None and not 1 <= spec.imap_port <= 65535:
            raise RejectedError("IMAP port must be 1 to 65535")
        if not spec.imap_user:
            raise RejectedError("an IMAP mailbox needs a user name")
        if not spec.folder.strip():
            raise RejectedError("folder cannot be empty")
    elif not spec.addresses:
        raise RejectedError("give an IMAP host, an inbound address, or both")
    return after


def _apply(row: Mailbox, spec: MailboxSpec, after: AfterAction) -> None:
    row.name = spec.name.strip()
    row.addresses = sorted({a.strip().lower() for a in spec.addresses})
    row.imap_host = spec.imap_host.strip() if spec.imap_host else None
    row.imap_tls = spec.imap_tls.value
    row.imap_port = spec.imap_port or (default_port(spec.imap_tls) if spec.imap_host else None)
    row.imap_user = spec.imap_user or None
    row.folder = spec.folder.strip() or "INBOX"
    row.after_action = str(after)
    row.poll_seconds = spec.poll_seconds
    row.backfill_days = spec.backfill_days
    row.enabled = spec.enabled
    row.default_group = spec.default_group or None
    row.default_category = spec.default_category or None


def _store_credentials(settings: Settings, row: Mailbox, credentials: Credentials) -> None:
    row.secret_encrypted = encrypt(settings, credentials.to_json())
    row.auth_kind = credentials.kind.value


def get_mailbox(session: Session, name_or_id: str | int) -> Mailbox:
    if isinstance(name_or_id, int):
        row = session.get(Mailbox, name_or_id)
    else:
        row = session.scalar(select(Mailbox).where(Mailbox.name == name_or_id))
    if row is None:
        raise NotFoundError("no mailbox {name_or_id!r}", name_or_id=name_or_id)
    return row


def add_mailbox(
    session: Session, settings: Settings, spec: MailboxSpec, credentials: Credentials | None
) -> MailboxView:
    after = validate(spec)
    if session.scalar(select(Mailbox.id).where(Mailbox.name == spec.name.strip())) is not None:
        raise RejectedError("a mailbox named {name!r} already exists", name=spec.name)
    if spec.imap_host and credentials is None:
        raise RejectedError("an IMAP mailbox needs a password or an OAuth2 grant")
    _check_addresses_free(session, spec.addresses, None)
    row = Mailbox()
    _apply(row, spec, after)
    if credentials is not None:
        _store_credentials(settings, row, credentials)
    session.add(row)
    session.flush()
    log.info("mailbox %s added", row.name)
    return view_of(row)


def update_mailbox(
    session: Session,
    settings: Settings,
    name_or_id: str | int,
    spec: MailboxSpec,
    credentials: Credentials | None = None,
) -> MailboxView:
    """Replace the settings; a changed server or folder starts sync state afresh."""
    row = get_mailbox(session, name_or_id)
    after = validate(spec)
    clash = session.scalar(
        select(Mailbox.id).where(Mailbox.name == spec.name.strip(), Mailbox.id != row.id)
    )
    if clash is not None:
        raise RejectedError("a mailbox named {name!r} already exists", name=spec.name)
    _check_addresses_free(session, spec.addresses, row.id)
    moved = (row.imap_host, row.imap_user, row.folder) != (
        spec.imap_host.strip() if spec.imap_host else None,
        spec.imap_user or None,
        spec.folder.strip() or "INBOX",
    )
    _apply(row, spec, after)
    if credentials is not None:
        _store_credentials(settings, row, credentials)
    if spec.imap_host and row.secret_encrypted is None:
        raise RejectedError("an IMAP mailbox needs a password or an OAuth2 grant")
    if moved:
        # Other account or folder: old UIDs mean nothing there (dedup still guards re-imports).
        row.uidvalidity = None
        row.last_uid = None
    row.consecutive_failures = 0
    row.alerted_at = None
    session.flush()
    log.info("mailbox %s updated", row.name)
    return view_of(row)


def set_enabled(session: Session, name_or_id: str | int, enabled: bool) -> MailboxView:
    row = get_mailbox(session, name_or_id)
    row.enabled = enabled
    if enabled:
        row.consecutive_failures = 0
        row.alerted_at = None
    session.flush()
    return view_of(row)


def remove_mailbox(session: Session, name_or_id: str | int) -> None:
    """Delete the mailbox; its stored messages stay (their mailbox link becomes empty)."""
    row = get_mailbox(session, name_or_id)
    session.delete(row)
    session.flush()
    log.info("mailbox %s removed", row.name)


def list_mailboxes(session: Session) -> list[MailboxView]:
    return [view_of(r) for r in session.scalars(select(Mailbox).order_by(Mailbox.name))]


def failing_mailboxes(session: Session) -> list[MailboxView]:
    """Mailboxes past the alert threshold: the admin banner shows these."""
    rows = session.scalars(
        select(Mailbox)
        .where(Mailbox.enabled.is_(True), Mailbox.alerted_at.is_not(None))
        .order_by(Mailbox.name)
    )
    return [view_of(r) for r in rows]


def connection_config(
    session: Session, settings: Settings, name_or_id: str | int
) -> tuple[MailboxConfig, Credentials]:
    """The stored settings and decrypted credentials, for a connection test."""
    row = get_mailbox(session, name_or_id)
    if not row.imap_host:
        raise RejectedError("mailbox {name!r} has no IMAP server", name=row.name)
    if row.secret_encrypted is None:
        raise RejectedError("mailbox {name!r} has no stored credentials", name=row.name)
    try:
        config = config_from_row(row)
    except ValueError as exc:
        raise RejectedError(str(exc)) from None
    try:
        credentials = Credentials.from_json(decrypt(settings, row.secret_encrypted))
    except ValueError as exc:
        raise RejectedError(str(exc)) from None
    return config, credentials


def _check_addresses_free(session: Session, addresses: list[str], own_id: int | None) -> None:
    wanted = {a.strip().lower() for a in addresses}
    if not wanted:
        return
    for other in session.scalars(select(Mailbox).where(Mailbox.id != (own_id or -1))):
        taken = wanted & {str(a).lower() for a in other.addresses or ()}
        if taken:
            raise RejectedError(
                "{addresses} already belongs to mailbox {other_name!r}",
                addresses=", ".join(sorted(taken)),
                other_name=other.name,
            )


def request_check(session: Session, mailbox_id: int) -> MailboxView:
    """Mark a connection test as asked for; the caller enqueues ``CHECK_MAILBOX``."""
    row = get_mailbox(session, mailbox_id)
    if not row.imap_host:
        raise RejectedError("mailbox {name!r} has no IMAP server", name=row.name)
    row.check_requested_at = utcnow()
    return view_of(row)


def record_check(session: Session, mailbox_id: int, ok: bool, message: str) -> None:
    row = get_mailbox(session, mailbox_id)
    row.checked_at = utcnow()
    row.check_ok = ok
    row.check_message = message
