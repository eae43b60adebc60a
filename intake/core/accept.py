"""The one durable door: every collector hands raw bytes to an ``accept_*`` function.

The raw bytes go to the blob store and a ``received`` row is committed before the function
returns, so the collector acknowledges (SMTP 250, HTTP 201, IMAP flag) only what is safe on disk.
Enqueueing comes after the commit and may fail: the sweeper picks the row up later.

:func:`store_emails` does this for a batch (the SMTP collector's group commit,
:mod:`intake.core.group_commit`): the blobs in one sync round, every row in one transaction.
Duplicates and reused Message-IDs are decided by :mod:`intake.core.message_rows`, the same way
for a batch as one by one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from intake.core.address_book import AddressBook, AddressTable
from intake.core.jobs import INGEST_MESSAGE
from intake.core.message_rows import REUSED_MESSAGE_ID_OF as REUSED_MESSAGE_ID_OF
from intake.core.message_rows import Accepted as Accepted
from intake.core.message_rows import NewMessage as NewMessage
from intake.core.message_rows import PlannedRows, dedup_scope_for, plan_rows, store_rows
from intake.core.runtime import Runtime
from intake.domain import Channel, Source
from intake.errors import StorageError
from intake.mail.parse import peek_message_id

log = logging.getLogger(__name__)


def store_message(runtime: Runtime, item: NewMessage, *, raw: bytes | None = None) -> Accepted:
    """Commit a ``received`` row for an already stored blob; a duplicate returns the first row.

    With ``raw`` (email), a row under the same key is a duplicate only when its content is the
    same (``content_fingerprint``); otherwise the item is kept under a key of its own and flagged.
    That costs one more indexed query, and only when the key is already taken.
    """
    for attempt in (1, 2):
        try:
            with runtime.db.session() as session:
                (accepted,) = store_rows(session, runtime.blobs, [(item, raw)])
                return accepted
        except IntegrityError:
            # Lost a race with a concurrent delivery under the same key: decide again, now
            # seeing the winner's row. A second loss is a temporary failure (451, retried).
            if attempt == 2:
                raise StorageError("database refused the message") from None
        except SQLAlchemyError as exc:
            raise StorageError(f"database unavailable: {exc.__class__.__name__}") from exc
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class InboundEmail:
    """One email as a collector received it, before anything is stored."""

    raw: bytes
    source: Source
    envelope_from: str | None
    recipients: tuple[str, ...]
    mailbox_id: int | None = None
    # SMTP: one row per mailbox among the recipients, looked up in the address book inside the
    # storing transaction (so a mailbox removed since RCPT is noticed); else ``mailbox_id``.
    route_by_recipient: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# Per email of a batch: its rows (one per mailbox), or why none was kept (answer 451).
Outcome = list[Accepted] | StorageError


def store_emails(
    runtime: Runtime,
    emails: Sequence[InboundEmail],
    book: AddressBook | None = None,
    writing: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> list[Outcome]:
    """Store a batch durably: blobs in one sync round, every row in one transaction.

    The rows are decided (reads only) while the blobs sync; the rows are written only after the
    sync round, so a committed row's blob is durable and the database's writer slot is held
    just for the INSERT and the commit, inside ``writing()`` (the group committers of several
    processes on one SQLite file take turns there, see :mod:`intake.core.group_commit`).

    Nothing is enqueued here (see :func:`enqueue_ingest`), so a caller can answer its senders as
    soon as this returns. A database failure fails the whole batch: no email of it is reported
    stored unless the transaction holding its rows committed.
    """
    if not emails:
        return []
    message_ids = [peek_message_id(email.raw) for email in emails]
    try:
        # The rows are decided and inserted while the blobs sync; the commit waits for them.
        digests, blobs_synced = runtime.blobs.start_put_many([email.raw for email in emails])
    except StorageError as exc:
        return [exc] * len(emails)
    for attempt in (1, 2):
        try:
            with runtime.db.session() as session:
                routed, rows = _plan_batch(runtime, session, emails, message_ids, digests, book)
                blobs_synced()  # raises StorageError: nothing is written
                with writing():
                    stored = iter(rows.insert(session))
                    session.commit()
            outcomes = [
                routes if isinstance(routes, StorageError) else [next(stored) for _ in routes]
                for routes in routed
            ]
            break
        except StorageError as exc:
            return [exc] * len(emails)
        except (IntegrityError, DataError) as exc:
            # IntegrityError: lost a race with a concurrent delivery (another process) under the
            # same key; decide again, now seeing the winner's row. DataError: one email has a
            # value the database refuses; alone it gets 451, the others are stored.
            try:
                blobs_synced()  # the blobs are found written below: they must be durable first
            except StorageError as unsynced:
                return [unsynced] * len(emails)
            if attempt == 2 or isinstance(exc, DataError):
                if len(emails) == 1:
                    return [StorageError(f"database refused the message: {exc.__class__.__name__}")]
                return [store_emails(runtime, [e], book, writing)[0] for e in emails]
        except SQLAlchemyError as exc:
            error = StorageError(f"database unavailable: {exc.__class__.__name__}")
            error.__cause__ = exc
            return [error] * len(emails)
    for message_id, outcome in zip(message_ids, outcomes, strict=True):
        if isinstance(outcome, StorageError):
            continue
        for accepted in outcome:
            _log_outcome(accepted, message_id)
    return outcomes


def _plan_batch(
    runtime: Runtime,
    session: Session,
    emails: Sequence[InboundEmail],
    message_ids: Sequence[str],
    digests: Sequence[str],
    book: AddressBook | None,
) -> tuple[list[list[NewMessage] | StorageError], PlannedRows]:
    """Each email's rows (or why it has none) and the batch's rows decided, not yet written."""
    table = None
    if any(email.route_by_recipient for email in emails):
        book = book or AddressBook(runtime.db, runtime.settings.accept_domains)
        table = book.refresh(session)
    routed: list[list[NewMessage] | StorageError] = []
    for email, message_id, digest in zip(emails, message_ids, digests, strict=True):
        groups = {email.mailbox_id: list(email.recipients)}
        if email.route_by_recipient and book is not None and table is not None:
            by_mailbox = _route(book, table, email.recipients)
            if isinstance(by_mailbox, str):
                # Accepted at RCPT, gone by DATA (an admin just removed the mailbox): a temporary
                # failure makes the sender retry and hear 550 for that address, never a false 250.
                routed.append(StorageError(f"recipient {by_mailbox} is no longer accepted"))
                continue
            groups = by_mailbox
        routed.append(
            [_new_email(email, message_id, digest, box, rcpts) for box, rcpts in groups.items()]
        )
    items = [
        (item, email.raw)
        for email, rows in zip(emails, routed, strict=True)
        if not isinstance(rows, StorageError)
        for item in rows
    ]
    return routed, plan_rows(session, runtime.blobs, items)


def _route(
    book: AddressBook, table: AddressTable, recipients: Sequence[str]
) -> dict[int | None, list[str]] | str:
    """The recipients by mailbox (None: accepted by domain), or the first one not accepted."""
    groups: dict[int | None, list[str]] = defaultdict(list)
    for address in recipients:
        match = book.match_in(table, address)
        if match is None:
            return address
        groups[match.mailbox_id].append(address)
    return groups


def _new_email(
    email: InboundEmail, message_id: str, digest: str, mailbox_id: int | None, rcpts: list[str]
) -> NewMessage:
    return NewMessage(
        source=email.source,
        channel=Channel.EMAIL,
        dedup_scope=dedup_scope_for(mailbox_id, rcpts),
        dedup_key=message_id,
        raw_sha256=digest,
        raw_size=len(email.raw),
        raw_content_type="message/rfc822",
        mailbox_id=mailbox_id,
        message_id_header=message_id,
        envelope_from=email.envelope_from,
        envelope_to=[r.lower() for r in rcpts],
        extra=dict(email.extra),
    )


def _log_outcome(accepted: Accepted, message_id: str) -> None:
    if accepted.duplicate:
        log.info("duplicate of message %s (Message-ID %s) ignored", accepted.message_id, message_id)
    elif accepted.reused_message_id_of is not None:
        log.warning(
            "message %s reuses the Message-ID %s of message %s with different content; kept",
            accepted.message_id,
            message_id,
            accepted.reused_message_id_of,
        )


def enqueue_ingest(runtime: Runtime, outcomes: Sequence[Outcome]) -> None:
    """Queue the processing of every newly stored row, in one round trip to Redis."""
    new_ids = [
        accepted.message_id
        for outcome in outcomes
        if not isinstance(outcome, StorageError)
        for accepted in outcome
        if not accepted.duplicate
    ]
    if new_ids:
        runtime.jobs.enqueue_many(INGEST_MESSAGE, new_ids)


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
    email = InboundEmail(
        raw,
        source,
        envelope_from,
        tuple(recipients),
        mailbox_id=mailbox_id,
        extra=extra or {},
    )
    (outcome,) = store_emails(runtime, [email])
    if isinstance(outcome, StorageError):
        raise outcome
    enqueue_ingest(runtime, [outcome])
    (accepted,) = outcome
    return accepted
