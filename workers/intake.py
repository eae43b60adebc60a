"""The ``intake`` queue's job: a stored message becomes part of a ticket.

Each job takes only an id, claims its row (``intake.core.states``) and is safe to run twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.core import read_once
from intake.core import runtime as runtime_module
from intake.core.acknowledgements import acknowledge_new_ticket
from intake.core.blobs import BlobStore
from intake.core.conversations import attach_to_ticket, sender_of
from intake.core.customers import customers_for_emails, normalize_email
from intake.core.db.models import Attachment, Customer, Message, Ticket
from intake.core.jobs import CLASSIFY_TICKET, INGEST_MESSAGE, JobSpec
from intake.core.pipeline import next_job
from intake.core.states import claim_messages, mark_processed, release_message
from intake.core.voicemail_tickets import (
    link_uploaded_voicemail,
    link_voicemail_mail,
    voicemail_in_mail,
)
from intake.mail.model import ParsedEmail
from intake.mail.parse import parse_email
from intake.mail.pbx import VoicemailMail
from workers.batching import give_back, take_queued

log = logging.getLogger(__name__)

RFC822 = "message/rfc822"


# Messages one job stores at most: the waiting ones behind it on the queue join its transaction
# (workers.batching). Bounded, so the database's one writer is not held long (SQLite): the SMTP
# group commits and the classify worker wait for it.
BATCH = 20


@dataclass(frozen=True)
class _Done:
    ticket_id: int | None  # None: the row was deleted meanwhile
    follow_up: tuple[JobSpec, int] | None
    new_ticket: bool = False  # opened by this batch


def _enqueue_follow_ups(runtime: runtime_module.Runtime, done: list[_Done]) -> None:
    """Each next job once; the classification of the batch's new tickets in one go (no job of
    theirs can have read them before this batch committed, see ``Jobs.enqueue_many``)."""
    new_tickets: dict[int, None] = {}
    others: dict[tuple[JobSpec, int], None] = {}
    for outcome in done:
        if outcome.follow_up is None:
            continue
        spec, key = outcome.follow_up
        if spec is CLASSIFY_TICKET and outcome.new_ticket:
            new_tickets[key] = None
        else:
            others[(spec, key)] = None
    if new_tickets:
        runtime.jobs.enqueue_many(CLASSIFY_TICKET, list(new_tickets), new_items=True)
    for spec, key in others:
        runtime.jobs.enqueue(spec, key)


def ingest_message(message_id: int) -> str:
    """Parse, thread and link one inbound email or voicemail (queue ``intake``).

    Waiting messages queued behind it are taken into the same transaction (up to ``BATCH``).
    If the batch fails, each message is tried alone: one that fails is handed back (its own job
    retries it) while the others commit.
    """
    runtime = runtime_module.current()
    taken = take_queued(runtime, INGEST_MESSAGE, BATCH - 1, exclude=message_id)
    try:
        claimed = claim_messages(runtime, [message_id, *taken])
    except Exception:
        give_back(runtime, INGEST_MESSAGE, taken)
        raise
    # A taken message that could not be claimed is processed, or another worker holds it.
    if not claimed:
        return "skipped: already processed or being processed"
    done: dict[int, _Done] = {}
    failed: dict[int, Exception] = {}
    try:
        done = _ingest_together(runtime, claimed)
    except Exception as batch_error:
        if len(claimed) == 1:
            failed[claimed[0]] = batch_error
        else:
            # Nothing of the batch was stored: each message again in a transaction of its own,
            # so the one at fault fails alone.
            log.warning("a batch of %d messages failed (%s); one by one", len(claimed), batch_error)
            for claimed_id in claimed:
                try:
                    done.update(_ingest_together(runtime, [claimed_id]))
                except Exception as alone_error:
                    failed[claimed_id] = alone_error
    for claimed_id, error in failed.items():
        release_message(runtime, claimed_id, f"{error.__class__.__name__}: {error}")
    give_back(runtime, INGEST_MESSAGE, [i for i in failed if i != message_id])
    _enqueue_follow_ups(runtime, list(done.values()))
    for claimed_id, outcome in done.items():
        log.info("message %s is on ticket %s", claimed_id, outcome.ticket_id)
    if message_id in failed:
        raise failed[message_id]
    own = done.get(message_id)
    summary = f"{len(done)} of {len(claimed)} messages stored in a batch"
    if own is None:
        return f"skipped: already processed or being processed; {summary}"
    if own.ticket_id is None:
        return f"skipped: message deleted; {summary}"
    return f"ticket {own.ticket_id}; {summary}"


def _ingest_together(runtime: runtime_module.Runtime, message_ids: list[int]) -> dict[int, _Done]:
    """Ingest claimed messages in one transaction (no savepoints: on SQLite a transaction opened
    by a SAVEPOINT reads first and then cannot take the write lock once another process wrote)."""
    with runtime.db.session() as session:
        # Policies and settings are read once for the batch: this session never edits them.
        read_once.hold(session)
        # The rows and what a re-run replaces or checks (attachments, a voicemail's transcript)
        # in three queries for the batch, not three a message.
        # (Held here: the session keeps only weak references.)
        loaded = session.scalars(
            select(Message)
            .where(Message.id.in_(message_ids))
            .options(selectinload(Message.attachments), selectinload(Message.transcript))
        ).all()
        prepared = [_prepare(runtime, session, message_id) for message_id in message_ids]
        customers = _customers(session, [p for p in prepared if p is not None])
        tickets = {
            p.message.id: _link(runtime, session, p, customers.get(p.message.id))
            for p in prepared
            if p is not None
        }
        opened = {key for key, ticket in tickets.items() if ticket in session.new}
        # One flush for the batch (unless threading or an acknowledgement needs one earlier):
        # its hooks (SLA clocks, search index, contact facts) run once over all its tickets.
        session.flush()
        del loaded
        done = {message_id: _Done(None, None) for message_id in message_ids}
        for p in prepared:
            if p is not None:
                key = p.message.id
                done[key] = _Done(tickets[key].id, next_job(p.message), key in opened)
        return done


@dataclass
class _Prepared:
    message: Message
    parsed: ParsedEmail | None  # None: uploaded voicemail audio (API, webhook, spool)
    voicemail: VoicemailMail | None


def _prepare(
    runtime: runtime_module.Runtime, session: Session, message_id: int
) -> _Prepared | None:
    """Parse a message onto its row; None when the row was deleted meanwhile."""
    message = session.get(Message, message_id)
    if message is None:
        return None
    if message.raw_content_type != RFC822:
        return _Prepared(message, None, None)
    parsed = parse_email(runtime.blobs.get(message.raw_sha256))
    apply_parsed(message, parsed, runtime.blobs)
    return _Prepared(message, parsed, voicemail_in_mail(session, message, parsed))


def _customers(session: Session, prepared: list[_Prepared]) -> dict[int, Customer]:
    """The customers of the batch's customer mail, by message id, looked up (and the new ones
    created) together instead of one message at a time."""
    wanted: dict[int, tuple[str, str, datetime]] = {}
    for p in prepared:
        if p.parsed is not None and p.voicemail is None:
            sender = sender_of(p.message, p.parsed)
            if sender is not None:
                wanted[p.message.id] = sender
    found = customers_for_emails(session, list(wanted.values())) if wanted else []
    return dict(zip(wanted, found, strict=True))


def _link(
    runtime: runtime_module.Runtime,
    session: Session,
    prepared: _Prepared,
    customer: Customer | None,
) -> Ticket:
    """Put a prepared message on its ticket, queue the acknowledgement, mark it processed."""
    message, parsed = prepared.message, prepared.parsed
    if parsed is None:
        ticket = link_uploaded_voicemail(session, message)
    elif prepared.voicemail is not None:
        ticket = link_voicemail_mail(session, message, parsed, prepared.voicemail)
    else:
        ticket = attach_to_ticket(session, message, parsed, customer)
    # Committed with the ticket; sent once the ticket is (acknowledgements.py says when).
    acknowledge_new_ticket(runtime, session, message, ticket)
    mark_processed(message)
    return ticket


def apply_parsed(message: Message, parsed: ParsedEmail, blobs: BlobStore) -> None:
    """Copy the parse result onto the row and store attachments (idempotent on re-runs)."""
    message.message_id_header = parsed.message_id
    message.in_reply_to = list(parsed.in_reply_to)
    message.references = list(parsed.references)
    if parsed.from_addr is not None:
        message.from_addr = normalize_email(parsed.from_addr.email) or None
        message.from_name = parsed.from_addr.name or None
    elif message.envelope_from:
        message.from_addr = normalize_email(message.envelope_from)
    message.to_addrs = [a.email for a in parsed.to]
    message.cc_addrs = [a.email for a in parsed.cc]
    message.subject = parsed.subject
    message.text = parsed.text
    message.new_text = parsed.new_text
    message.html = parsed.html
    message.flags = sorted(parsed.flags)
    message.auto_reason = parsed.auto_reason
    message.defects = list(parsed.defects)
    message.sent_at = parsed.date
    message.attachments.clear()
    for part in parsed.attachments:
        message.attachments.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                size=len(part.data),
                sha256=blobs.put(part.data),
                content_id=part.content_id,
                inline=part.inline,
            )
        )
