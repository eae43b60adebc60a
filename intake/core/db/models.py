"""SQLAlchemy models: the store every process shares. Here the mail and its tickets (people,
customers, mailboxes, tickets, messages and what hangs off them) and the queue's indexes;
``admin_models`` holds what admins set up and the change records, ``analytics_models`` what
the dashboard reads. Importing this module registers every table (migrations, sessions and
tests rely on that).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.core.db.base import Base, EnumText, utcnow
from intake.domain import (
    Channel,
    DeliveryState,
    Direction,
    EventKind,
    MessageFlag,
    MessageState,
    OutboundKind,
    Priority,
    Role,
    Sentiment,
    SetBy,
    SlaTarget,
    Source,
    TicketStatus,
    TranscriptState,
)

AUTOMATIC_FLAGS = frozenset({MessageFlag.AUTO_REPLY, MessageFlag.BOUNCE})


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[Role] = mapped_column(EnumText(Role), default=Role.AGENT)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Away (holiday, sick): automatic assignment skips this person.
    away: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The UI language ("en", "zh") and IANA time zone the person chose; None: from the browser, UTC.
    language: Mapped[str | None] = mapped_column(String(10))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Part of every login session: raised on logout, a password change and a deactivation, so
    # every cookie issued before no longer logs anyone in (web.auth.load_user compares it).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)  # E.164
    name: Mapped[str] = mapped_column(String(200), default="")
    # Admin-set, e.g. "vip"; indexed for the queue's tier filter (few customers have a tier).
    tier: Mapped[str | None] = mapped_column(String(40), index=True)
    first_contact_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_contact_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mailbox(Base):
    """An inbound address (SMTP) or IMAP account an admin configured."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    addresses: Mapped[list[Any]] = mapped_column(default=list)  # lower-cased inbound addresses
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_group: Mapped[str | None] = mapped_column(String(100))
    default_category: Mapped[str | None] = mapped_column(String(60))
    is_voicemail_source: Mapped[bool] = mapped_column(Boolean, default=False)
    # New tickets from this mailbox get an automatic acknowledgement (intake.core.acknowledgements).
    acknowledge: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    imap_host: Mapped[str | None] = mapped_column(String(255))
    imap_port: Mapped[int | None]
    imap_tls: Mapped[str] = mapped_column(String(20), default="implicit")
    imap_user: Mapped[str | None] = mapped_column(String(320))
    auth_kind: Mapped[str] = mapped_column(String(20), default="password")  # password|xoauth2
    secret_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary
    )  # Fernet token of a JSON dict
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    after_action: Mapped[str] = mapped_column(
        String(300), default="seen"
    )  # seen|move:FOLDER|delete
    poll_seconds: Mapped[int] = mapped_column(Integer, default=60)
    backfill_days: Mapped[int] = mapped_column(Integer, default=0)  # 0: unseen mail only
    # Sync and health state, written by the IMAP collector.
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int | None] = mapped_column(BigInteger)
    # Highest fencing token a poller claimed this row with (intake.core.mailbox_fence).
    lease_token: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(30), default="unknown")
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    alerted_at: Mapped[datetime | None]
    # The admin's "test connection", run by the check_mailbox job (never in a web request).
    check_requested_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    check_ok: Mapped[bool | None] = mapped_column(Boolean)
    check_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_imap(self) -> bool:
        return bool(self.imap_host)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue", "status", "priority_rank", "sla_due_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[Channel] = mapped_column(EnumText(Channel), default=Channel.EMAIL)
    status: Mapped[TicketStatus] = mapped_column(
        EnumText(TicketStatus), default=TicketStatus.NEW, index=True
    )
    # A ticket made only of auto-replies or bounces is no customer request: hidden by default.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str | None] = mapped_column(String(60), index=True)
    category_set_by: Mapped[SetBy | None] = mapped_column(EnumText(SetBy, 10))
    category_reasons: Mapped[list[Any]] = mapped_column(default=list)  # the terms behind it
    # Whether the customer complains, beside (not instead of) the topic.
    complaint: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    complaint_confidence: Mapped[float | None] = mapped_column(Float)
    complaint_reasons: Mapped[list[Any]] = mapped_column(default=list)
    priority: Mapped[Priority] = mapped_column(
        EnumText(Priority, 10), default=Priority.MEDIUM, index=True
    )
    priority_rank: Mapped[int] = mapped_column(Integer, default=2)  # urgent 0 … low 3, for sorting
    priority_set_by: Mapped[SetBy | None] = mapped_column(EnumText(SetBy, 10))
    priority_reasons: Mapped[list[Any]] = mapped_column(default=list)
    sentiment: Mapped[Sentiment | None] = mapped_column(EnumText(Sentiment, 10))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    classified_at: Mapped[datetime | None]
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # The customer's contact history when this ticket came in, kept by
    # intake.core.contact_facts (0019): another request in the 7 days before, and how many
    # earlier requests (counted up to CONTACT_EARLIER_CAP); false and 0 without a customer.
    repeat_contact: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    contact_earlier: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    group: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    # A duplicate merged into another ticket (intake.core.ticket_merge): its thread moved there.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL", name="fk_tickets_merged_into")
    )
    # Service levels (``intake.core.sla`` keeps these right; queues filter on them):
    # ``sla_due_at`` is the deadline of the next target still to meet (``sla_target``), None
    # while the clock is paused (pending or resolved) or no target is left; ``sla_warning_at``
    # is when 80 % of that target's business time has elapsed. "Due soon" is
    # ``sla_warning_at <= now < sla_due_at``, "breached now" is ``sla_due_at <= now``;
    # ``sla_breached`` stays true once any target was missed (answered late, or overdue).
    sla_due_at: Mapped[datetime | None]
    sla_warning_at: Mapped[datetime | None] = mapped_column(index=True)
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    sla_target: Mapped[SlaTarget | None] = mapped_column(EnumText(SlaTarget))
    # [[from, until | null], ...] ISO times the clock stood still (pending or resolved).
    sla_pauses: Mapped[list[Any]] = mapped_column(default=list)
    # "warning:first_response", "breach:resolution"...: each notice is sent once.
    sla_notified: Mapped[list[Any]] = mapped_column(default=list)
    # When the SLA watcher next has something to notice about this ticket.
    sla_check_at: Mapped[datetime | None] = mapped_column(index=True)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship()
    mailbox: Mapped[Mailbox | None] = relationship()
    assignee: Mapped[User | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="ticket", order_by="Message.received_at, Message.id"
    )


class Message(Base):
    """One inbound email or voicemail, outbound reply or internal note, with its raw bytes."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("dedup_scope", "dedup_key", name="uq_messages_dedup"),
        Index("ix_messages_state", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(EnumText(Channel), default=Channel.EMAIL)
    direction: Mapped[Direction] = mapped_column(EnumText(Direction, 10), default=Direction.INBOUND)
    source: Mapped[Source] = mapped_column(EnumText(Source))
    state: Mapped[MessageState] = mapped_column(
        EnumText(MessageState), default=MessageState.RECEIVED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Duplicate detection: one row per (scope, key); scope is the mailbox (or recipient domain).
    dedup_scope: Mapped[str] = mapped_column(String(400))
    dedup_key: Mapped[str] = mapped_column(String(600))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger)
    raw_content_type: Mapped[str] = mapped_column(String(100), default="message/rfc822")
    message_id_header: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[list[Any]] = mapped_column(default=list)
    references: Mapped[list[Any]] = mapped_column(default=list)
    envelope_from: Mapped[str | None] = mapped_column(String(998))
    envelope_to: Mapped[list[Any]] = mapped_column(default=list)
    from_addr: Mapped[str | None] = mapped_column(String(998), index=True)
    from_name: Mapped[str | None] = mapped_column(String(998))
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    cc_addrs: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    new_text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    auto_reason: Mapped[str | None] = mapped_column(Text)
    defects: Mapped[list[Any]] = mapped_column(default=list)
    caller_number: Mapped[str | None] = mapped_column(String(40))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # source-specific metadata
    sent_at: Mapped[datetime | None]  # the sender's Date header
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]  # when a worker took it; a stale claim is a dead worker
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # the claimant's heartbeat name
    processed_at: Mapped[datetime | None]

    ticket: Mapped[Ticket | None] = relationship(back_populates="messages")
    mailbox: Mapped[Mailbox | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    transcript: Mapped[Transcript | None] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )
    delivery: Mapped[Delivery | None] = relationship(
        back_populates="message", cascade="all, delete-orphan"
    )

    @property
    def is_automatic(self) -> bool:
        """An auto-reply or a bounce: no customer wrote it, so it is not classified or answered."""
        return bool(AUTOMATIC_FLAGS.intersection(self.flags or ()))


class TicketEvent(Base):
    """One entry of a ticket's activity log: who changed what, when, from which value to which."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The user, when a person acted; the name stays readable after the user is deleted.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320))
    kind: Mapped[EventKind] = mapped_column(EnumText(EventKind, 20))
    field: Mapped[str | None] = mapped_column(String(40))
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)


class Delivery(Base):
    """An outbound mail's way to the relay: one per outbound message (``intake.core.outbox``)."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_recipient", "kind", "recipient", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[OutboundKind] = mapped_column(EnumText(OutboundKind))
    state: Mapped[DeliveryState] = mapped_column(
        EnumText(DeliveryState), default=DeliveryState.QUEUED, index=True
    )
    mail_from: Mapped[str] = mapped_column(String(320))  # envelope sender
    recipients: Mapped[list[Any]] = mapped_column(default=list)  # envelope recipients
    recipient: Mapped[str] = mapped_column(String(320))  # the main one, lower-cased: rate limits
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)  # the relay's answer to the last failure
    relay_answer: Mapped[str | None] = mapped_column(Text)  # the relay's answer when accepted
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None]

    message: Mapped[Message] = relationship(back_populates="delivery")
    created_by: Mapped[User | None] = relationship()


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_id: Mapped[str | None] = mapped_column(String(500))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Transcript(Base):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    audio_sha256: Mapped[str] = mapped_column(String(64))
    audio_content_type: Mapped[str] = mapped_column(String(100))
    audio_filename: Mapped[str] = mapped_column(String(500), default="voicemail")
    state: Mapped[TranscriptState] = mapped_column(
        EnumText(TranscriptState), default=TranscriptState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    language_probability: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float | None] = mapped_column(Float)
    segments: Mapped[list[Any]] = mapped_column(default=list)
    model: Mapped[str | None] = mapped_column(String(300))
    low_confidence: Mapped[bool] = mapped_column(Boolean, default=False)
    # Unclear or unsupported: why; the doubted words are kept apart, never shown by default and
    # never classified.
    reason: Mapped[str | None] = mapped_column(Text)
    candidate_text: Mapped[str | None] = mapped_column(Text)
    language_source: Mapped[str | None] = mapped_column(String(20))  # detected|hint|model
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # the claimant's heartbeat name
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    message: Mapped[Message] = relationship(back_populates="transcript")


class Blob(Base):
    """Blob bytes kept in the database (INTAKE_BLOB_STORE=db, ``intake.core.blob_db``)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The queue (issue 13, web/queries.py): pages are read in this order by keyset, one index range
# per priority and SLA segment; the ones led by assignee and mailbox serve those filters.
Index(
    "ix_tickets_queue_order", Ticket.priority_rank, Ticket.sla_due_at, Ticket.created_at, Ticket.id
)
Index(
    "ix_tickets_queue_assignee",
    Ticket.assignee_id,
    Ticket.priority_rank,
    Ticket.sla_due_at,
    Ticket.created_at,
    Ticket.id,
)
Index(
    "ix_tickets_queue_mailbox",
    Ticket.mailbox_id,
    Ticket.priority_rank,
    Ticket.sla_due_at,
    Ticket.created_at,
    Ticket.id,
)
Index("ix_tickets_updated_at", Ticket.updated_at)  # the live queue's "anything new?" check
# Customer types count a customer's non-automatic tickets: read from this index alone.
Index("ix_tickets_customer_automatic", Ticket.customer_id, Ticket.automatic)
Index("ix_tickets_sla_due_at", Ticket.sla_due_at)  # "breached" and "due soon" views


# The other model modules register their tables with Base.metadata here: they use the classes
# above, so they come last.
from intake.core.db import admin_models, analytics_models  # noqa: E402, F401
