"""The one durable door: every collector hands raw bytes to an ``accept_*`` function.

The raw bytes go to the blob store and a ``received`` row is committed before the function
returns, so the collector acknowledges (SMTP 250, HTTP 201, IMAP flag) only what is safe on disk.
Enqueueing comes after the commit and may fail: the sweeper picks the row up later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from intake.core.db.models import Mailbox, Message, utcnow
from intake.core.jobs import INGEST_MESSAGE
from intake.core.runtime import Runtime
from intake.domain import Channel, MessageState, Source
from intake.errors import StorageError
from intake.mail.parse import peek_message_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    message_id: int
    duplicate: bool


@dataclass(frozen=True)
class RecipientMatch:
    address: str
    mailbox_id: int | None  # None: accepted by domain, no mailbox configured


def find_mailbox_for(session: Session, address: str) -> Mailbox | None:
    address = address.strip().lower()
    for mailbox in session.scalars(select(Mailbox).where(Mailbox.enabled.is_(True))):
        if address in (a.lower() for a in mailbox.addresses):
            return mailbox
    return None


def match_recipient(
    session: Session, accept_domains: Sequence[str], address: str
) -> RecipientMatch | None:
    """Is this RCPT TO ours? Mailbox addresses first, then the accepted domains."""
    address = address.strip().lower()
    mailbox = find_mailbox_for(session, address)
    if mailbox is not None:
        return RecipientMatch(address, mailbox.id)
    domain = address.rpartition("@")[2]
    if domain and (domain in accept_domains or "*" in accept_domains):
        return RecipientMatch(address, None)
    return None


def dedup_scope_for(mailbox_id: int | None, recipients: Sequence[str]) -> str:
    if mailbox_id is not None:
        return f"mailbox:{mailbox_id}"
    domains = sorted({r.rpartition("@")[2].lower() for r in recipients if "@" in r})
    return "domain:" + ",".join(domains) if domains else "unscoped"


@dataclass
class NewMessage:
    """What a collector knows about an item before any parsing."""

    source: Source
    channel: Channel
    dedup_scope: str
    dedup_key: str
    raw_sha256: str
    raw_size: int
    raw_content_type: str
    mailbox_id: int | None = None
    message_id_header: str | None = None
    envelope_from: str | None = None
    envelope_to: list[str] = field(default_factory=list)
    caller_number: str | None = None
    caller_name: str | None = None
    received_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def store_message(runtime: Runtime, item: NewMessage) -> Accepted:
    """Commit a ``received`` row for an already stored blob; a duplicate returns the first row."""
    try:
        with runtime.db.session() as session:
            existing = _find_duplicate(session, item.dedup_scope, item.dedup_key)
            if existing is not None:
                return Accepted(existing, duplicate=True)
            message = Message(
                source=item.source,
                channel=item.channel,
                state=MessageState.RECEIVED,
                dedup_scope=item.dedup_scope,
                dedup_key=item.dedup_key[:600],
                raw_sha256=item.raw_sha256,
                raw_size=item.raw_size,
                raw_content_type=item.raw_content_type,
                mailbox_id=item.mailbox_id,
                message_id_header=item.message_id_header,
                envelope_from=item.envelope_from,
                envelope_to=item.envelope_to,
                caller_number=item.caller_number,
                caller_name=item.caller_name,
                received_at=item.received_at or utcnow(),
                extra=item.extra,
            )
            session.add(message)
            session.flush()
            return Accepted(message.id, duplicate=False)
    except IntegrityError:
        # Lost a race with a concurrent delivery of the same message: that one won.
        with runtime.db.session() as session:
            existing = _find_duplicate(session, item.dedup_scope, item.dedup_key)
        if existing is None:
            raise StorageError("database refused the message") from None
        return Accepted(existing, duplicate=True)
    except SQLAlchemyError as exc:
        raise StorageError(f"database unavailable: {exc.__class__.__name__}") from exc


def _find_duplicate(session: Session, scope: str, key: str) -> int | None:
    return session.scalar(
        select(Message.id).where(Message.dedup_scope == scope, Message.dedup_key == key[:600])
    )


def accept_email(
    runtime: Runtime,
    raw: bytes,
    *,
    source: Source,
    envelope_from: str | None,
    recipients: Sequence[str],
    mailbox_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Accepted:
    """Durably store one inbound email and enqueue its processing. Raises StorageError."""
    message_id = peek_message_id(raw)
    digest = runtime.blobs.put(raw)
    accepted = store_message(
        runtime,
        NewMessage(
            source=source,
            channel=Channel.EMAIL,
            dedup_scope=dedup_scope_for(mailbox_id, recipients),
            dedup_key=message_id,
            raw_sha256=digest,
            raw_size=len(raw),
            raw_content_type="message/rfc822",
            mailbox_id=mailbox_id,
            message_id_header=message_id,
            envelope_from=envelope_from,
            envelope_to=[r.lower() for r in recipients],
            extra=extra or {},
        ),
    )
    if accepted.duplicate:
        log.info("duplicate of message %s (Message-ID %s) ignored", accepted.message_id, message_id)
    else:
        runtime.jobs.enqueue(INGEST_MESSAGE, accepted.message_id)
    return accepted
