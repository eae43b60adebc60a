"""The outbox: every mail the gateway sends is stored first, then sent by a job, never dropped.

A mail (reply, acknowledgement, notice) becomes an outbound ``Message`` with its raw RFC 822
bytes in the blob store and a ``Delivery`` row, in the caller's transaction; once that commits,
the ``send_message`` job is enqueued (a Redis outage only delays it: the sweeper enqueues queued
deliveries). Deliveries move like inbound messages, by conditional UPDATEs, so a job enqueued
twice sends once:

    queued ──claim──▶ sending ──▶ sent
      ▲                  │ relay failed
      ├── (backoff) ─────┤ temporary, attempts left
      └──── retry ◀─── failed (refused for good, or after the last attempt)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from intake.core.activity import Actor, record_event
from intake.core.db.base import utcnow
from intake.core.db.models import Attachment, Delivery, Message, Ticket, User
from intake.core.heartbeat import process_name
from intake.core.jobs import SEND_MESSAGE, Jobs
from intake.core.runtime import Runtime
from intake.core.senders import notification_sender
from intake.core.tickets import record_first_response
from intake.domain import (
    Channel,
    DeliveryState,
    Direction,
    EventKind,
    MessageState,
    OutboundKind,
    Source,
)
from intake.errors import RejectedError
from intake.mail.compose import OutgoingMail, checked_address, compose, make_message_id
from intake.mail.model import Address

log = logging.getLogger(__name__)

OUTBOUND_SCOPE = "outbound"  # dedup scope of outbound messages: the key is our Message-ID
ERROR_LIMIT = 4000
# Longer than the job's timeout: a delivery still "sending" after this belongs to a dead worker.
STALE_SENDING = timedelta(seconds=SEND_MESSAGE.timeout_s) + timedelta(minutes=5)
GRACE = timedelta(seconds=5)  # a just-queued delivery's own enqueue comes first
_PENDING = "intake.outbox.pending"  # Session.info: deliveries to enqueue once committed


@dataclass(frozen=True)
class ClaimedDelivery:
    message_id: int
    mail_from: str
    recipients: list[str]
    raw_sha256: str


def queue_mail(
    runtime: Runtime,
    session: Session,
    mail: OutgoingMail,
    *,
    kind: OutboundKind,
    ticket: Ticket | None = None,
    mail_from: str | None = None,
    created_by: User | None = None,
) -> Message:
    """Store ``mail`` as an outbound message with a queued delivery, in ``session``.

    The send job is enqueued when ``session`` commits. ``mail_from`` is the envelope sender
    (default: the From address; ``""`` is the null sender of automatic responses).
    """
    raw = compose(mail)
    if len(raw) > runtime.settings.max_message_bytes:
        raise RejectedError(
            "the mail would be {size} bytes, over the limit of {max_message_bytes} "
            "(INTAKE_MAX_MESSAGE_BYTES)",
            size=len(raw),
            max_message_bytes=runtime.settings.max_message_bytes,
        )
    digest = runtime.blobs.put(raw)
    now = utcnow()
    recipients = list(dict.fromkeys(a.email for a in (*mail.to, *mail.cc)))
    message = Message(
        ticket=ticket,
        mailbox_id=ticket.mailbox_id if ticket is not None else None,
        channel=Channel.EMAIL,
        direction=Direction.OUTBOUND,
        source=Source.GATEWAY,
        state=MessageState.PROCESSED,  # nothing for the intake pipeline to do
        dedup_scope=OUTBOUND_SCOPE,
        dedup_key=mail.message_id,
        raw_sha256=digest,
        raw_size=len(raw),
        raw_content_type="message/rfc822",
        message_id_header=mail.message_id,
        in_reply_to=[mail.in_reply_to] if mail.in_reply_to else [],
        references=list(mail.references),
        envelope_from=mail_from if mail_from is not None else mail.sender.email,
        envelope_to=recipients,
        from_addr=mail.sender.email,
        from_name=mail.sender.name or None,
        to_addrs=[a.email for a in mail.to],
        cc_addrs=[a.email for a in mail.cc],
        subject=mail.subject,
        text=mail.text,
        new_text=mail.text,
        sent_at=mail.date,
        received_at=now,
        processed_at=now,
    )
    for part in mail.attachments:
        message.attachments.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                size=len(part.data),
                sha256=runtime.blobs.put(part.data),
            )
        )
    message.delivery = Delivery(
        kind=kind,
        state=DeliveryState.QUEUED,
        mail_from=message.envelope_from or "",
        recipients=recipients,
        recipient=mail.to[0].email.lower(),
        created_by_id=created_by.id if created_by is not None else None,
        created_at=now,
    )
    session.add(message)
    session.flush()
    enqueue_after_commit(session, runtime.jobs, message.id)
    log.info("%s %s queued for %s", kind, message.id, ", ".join(recipients))
    return message


def queue_notification(
    runtime: Runtime,
    session: Session,
    to: list[str] | str,
    subject: str,
    text: str,
    *,
    ticket: Ticket | None = None,
) -> Message:
    """A plain notice to our own people (an SLA breach, say), sent like a reply.

    From ``INTAKE_REPLY_FROM`` (or the ticket's mailbox); ``Auto-Submitted: auto-generated``
    (RFC 3834) so nobody's auto-responder answers it. The message is not shown in the ticket's
    thread (``ticket`` only picks the sender); enqueued when ``session`` commits. RejectedError
    when no relay is configured, no sender can be named or an address is bad.
    """
    if not runtime.settings.outbound_smtp_url:
        # Unlike a reply, which waits visibly on its ticket, a notice nobody asked for would only
        # pile up as failed mail.
        raise RejectedError("no outbound relay configured (INTAKE_OUTBOUND_SMTP_URL)")
    recipients = [to] if isinstance(to, str) else list(to)
    sender = notification_sender(runtime.settings, ticket)
    mail = OutgoingMail(
        sender=sender,
        to=tuple(Address("", checked_address(r)) for r in recipients),
        subject=subject,
        text=text,
        message_id=make_message_id(sender.email),
        date=utcnow(),
        auto_submitted="auto-generated",
    )
    return queue_mail(runtime, session, mail, kind=OutboundKind.NOTIFICATION)


def enqueue_after_commit(
    session: Session, jobs: Jobs, message_id: int, *, anew: bool = False
) -> None:
    """Enqueue the send job once ``session`` commits (a job run earlier would find no row)."""
    pending: dict[int, tuple[Jobs, bool]] = session.info.setdefault(_PENDING, {})
    anew = anew or (message_id in pending and pending[message_id][1])
    pending[message_id] = (jobs, anew)


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    pending: dict[int, tuple[Jobs, bool]] = session.info.pop(_PENDING, {})
    for message_id, (jobs, anew) in pending.items():
        # False when Redis is down: the delivery stays queued and the sweeper enqueues it.
        if anew:
            jobs.enqueue_anew(SEND_MESSAGE, message_id)
        else:
            jobs.enqueue(SEND_MESSAGE, message_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


# State changes, used by the send job, the sweeper and the retry buttons.


def claim_delivery(runtime: Runtime, message_id: int) -> ClaimedDelivery | None:
    """Take a queued delivery (or one whose worker died); None when there is nothing to send."""
    now = utcnow()
    with runtime.db.session() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.message_id == message_id,
                or_(
                    Delivery.state == DeliveryState.QUEUED,
                    (Delivery.state == DeliveryState.SENDING)
                    & (Delivery.claimed_at < now - STALE_SENDING),
                ),
            )
            .values(
                state=DeliveryState.SENDING,
                claimed_at=now,
                claimed_by=process_name(),
                attempts=Delivery.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = session.execute(
            select(Delivery.mail_from, Delivery.recipients, Message.raw_sha256)
            .join(Message, Message.id == Delivery.message_id)
            .where(Delivery.message_id == message_id)
        ).one()
    return ClaimedDelivery(message_id, row[0], list(row[1]), row[2])


def mark_sent(runtime: Runtime, message_id: int, answer: str) -> None:
    """The relay took it: record that, and on the ticket the reply or acknowledgement."""
    now = utcnow()
    with runtime.db.session() as session:
        delivery = session.scalar(select(Delivery).where(Delivery.message_id == message_id))
        if delivery is None:
            return
        delivery.state = DeliveryState.SENT
        delivery.sent_at = now
        delivery.relay_answer = answer[:ERROR_LIMIT]
        delivery.error = None
        delivery.claimed_at = None
        delivery.claimed_by = None
        ticket = delivery.message.ticket
        if ticket is None:
            return
        recipients = ", ".join(delivery.recipients)
        if delivery.kind is OutboundKind.REPLY:
            record_first_response(ticket, now)
            by = Actor.of(delivery.created_by)
            record_event(session, ticket, EventKind.REPLY, by, field="to", new=recipients)
        elif delivery.kind is OutboundKind.ACKNOWLEDGEMENT:
            record_event(
                session, ticket, EventKind.ACKNOWLEDGEMENT, Actor.SYSTEM, field="to", new=recipients
            )


def mark_failed(runtime: Runtime, message_id: int, error: str, *, permanent: bool) -> bool:
    """Record a failed attempt with the relay's answer; True when another attempt will follow."""
    with runtime.db.session() as session:
        delivery = session.scalar(select(Delivery).where(Delivery.message_id == message_id))
        if delivery is None:
            return False
        again = not permanent and delivery.attempts < runtime.settings.job_retries + 1
        delivery.state = DeliveryState.QUEUED if again else DeliveryState.FAILED
        delivery.error = error[:ERROR_LIMIT]
        delivery.claimed_at = None
        delivery.claimed_by = None
    log.warning(
        "sending message %s failed (%s): %s",
        message_id,
        "will retry" if again else "gave up",
        error,
    )
    return again


def retry_delivery(runtime: Runtime, session: Session, message: Message) -> None:
    """A person's retry: a failed (or still waiting) delivery is queued again and sent now."""
    delivery = message.delivery
    if delivery is None:
        raise RejectedError("message {message_id} is not an outbound mail", message_id=message.id)
    if delivery.state in (DeliveryState.SENT, DeliveryState.SENDING):
        raise RejectedError(
            "message {message_id} is {state}; nothing to retry",
            message_id=message.id,
            state=delivery.state,
        )
    delivery.state = DeliveryState.QUEUED
    delivery.attempts = 0
    delivery.updated_at = utcnow()
    # A backoff RQ holds for the job would otherwise make the button wait for it.
    enqueue_after_commit(session, runtime.jobs, message.id, anew=True)


def queued_delivery_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Message ids of deliveries queued past their grace: their job may have been lost (Redis
    was down); enqueueing one that has a job, even one waiting for its backoff, does nothing."""
    return list(
        session.scalars(
            select(Delivery.message_id)
            .where(Delivery.state == DeliveryState.QUEUED, Delivery.updated_at < now - GRACE)
            .order_by(Delivery.message_id)
            .limit(limit)
        )
    )


def abandoned_delivery_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Message ids of deliveries still "sending" long after their job's timeout: the worker died.

    The relay may have taken the mail just before: sending it again risks a duplicate, but
    never losing a reply.
    """
    return list(
        session.scalars(
            select(Delivery.message_id)
            .where(
                Delivery.state == DeliveryState.SENDING,
                Delivery.claimed_at < now - STALE_SENDING,
            )
            .order_by(Delivery.message_id)
            .limit(limit)
        )
    )
