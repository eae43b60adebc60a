"""SQLAlchemy models: the store every process shares.

Enumerated values are kept as plain strings in the database and read back as the enums of
``intake.domain`` (``EnumText``), so adding a value never needs a migration, PostgreSQL and SQLite
behave the same, and the type checker sees ``Mapped[MessageState]``, not ``Mapped[str]``.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from intake.domain import (
    AssignmentStrategy,
    Channel,
    DeliveryState,
    Direction,
    EventKind,
    MessageFlag,
    MessageState,
    ModelTask,
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

log = logging.getLogger(__name__)

AUTOMATIC_FLAGS = frozenset({MessageFlag.AUTO_REPLY, MessageFlag.BOUNCE})


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E]):
    """A domain enum stored as its plain string value (a VARCHAR, no database enum type)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        # Raises ValueError for a word that is not a member: no typo reaches the database.
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


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


class CannedResponse(Base):
    """A reply text agents pick on the ticket page; placeholders filled in for each ticket."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16), default="en")
    body: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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


class Category(Base):
    """The team's problem-type taxonomy; the model's labels map onto these keys."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Rule(Base):
    """An admin rule; conditions and actions are the JSON form of ``classify.rules.Rule``."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaPolicy(Base):
    """Business minutes to first response and to resolution, per priority and customer tier.

    ``tier`` "" is the policy for every customer; a policy for a tier (e.g. "vip") wins over it.
    """

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("priority", "tier", name="uq_sla_policies_priority_tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    priority: Mapped[Priority] = mapped_column(EnumText(Priority, 10))
    tier: Mapped[str] = mapped_column(String(40), default="", server_default="")
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    # Business hours the minutes count in; none: around the clock.
    calendar_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_calendars.id", ondelete="SET NULL")
    )

    calendar: Mapped[BusinessCalendar | None] = relationship()


class BusinessCalendar(Base):
    """Opening hours in a time zone, with holidays (``intake.core.business_hours``)."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"0": ["09:00-17:00"], ..., "6": []}: local hours per weekday (0 is Monday).
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holidays: Mapped[list[Any]] = mapped_column(default=list)  # ISO dates, local
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Group(Base):
    """A team tickets are routed to (``Ticket.group`` holds its name), with its members."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    strategy: Mapped[AssignmentStrategy] = mapped_column(
        EnumText(AssignmentStrategy), default=AssignmentStrategy.MANUAL
    )
    # Least-open: a member with this many open tickets gets no more; none: no cap.
    max_open: Mapped[int | None] = mapped_column(Integer)
    # Round-robin: who got the last ticket, so the next goes to the member after.
    last_assigned_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(
        secondary="group_members", order_by="User.email", viewonly=True
    )


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CustomerMerge(Base):
    """Two customer records found to be one person: what was merged into what, by whom."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    kept_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    merged_id: Mapped[int] = mapped_column(Integer)  # its row is gone; ``merged`` keeps it
    merged: Mapped[dict[str, Any]] = mapped_column(default=dict)  # email, phone, name, tier
    ticket_ids: Mapped[list[Any]] = mapped_column(default=list)  # the tickets that moved
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A trained classifier version with its held-back scores; one active per task."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[ModelTask] = mapped_column(EnumText(ModelTask))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    blob_sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class Correction(Base):
    """An agent's change of category or priority: training data for the next model version."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(String(60))
    new_value: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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


class SavedView(Base):
    """A queue filter saved by an agent: for the owner, shared with a group, or with everyone."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(2000))  # the queue's filter, as a URL query string
    shared: Mapped[bool] = mapped_column(Boolean, default=False)  # with everyone
    group: Mapped[str | None] = mapped_column(String(100))  # shared with this group (its name)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppSetting(Base):
    """Admin-editable settings that live in the database (e.g. the speech vocabulary)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Analytics (issue 14): indexes for the dashboard's GROUP BYs, and what the root-cause job stores.
ANALYTICS_COLUMNS = (
    "created_at",
    "automatic",
    "category",
    "channel",
    "sentiment",
    "complaint",
    "priority",
    "sla_breached",
    "status",
    "customer_id",
    "first_response_at",
    "resolved_at",
    "sla_due_at",
    "mailbox_id",
    "group",
    "language",
)
# automatic in the keys: the counts that skip auto-replies are answered from the index alone.
Index("ix_tickets_customer_created", Ticket.customer_id, Ticket.created_at, Ticket.automatic)
Index("ix_tickets_category_created", Ticket.category, Ticket.created_at)
# The backlog's resolved and open counts, filters included, from the index alone (0018).
Index(
    "ix_tickets_resolved_at",
    *(
        getattr(Ticket, name)
        for name in (
            "resolved_at",
            "automatic",
            "category",
            "channel",
            "mailbox_id",
            "group",
            "language",
            "customer_id",
        )
    ),
)
Index("ix_messages_received_at", Message.received_at)
# The overview's automatic-mail counts from the index alone; SQLite only (migration 0017).
Index("ix_messages_received_flags", Message.received_at, Message.direction, Message.flags).ddl_if(
    dialect="sqlite"
)
# The dashboard's period queries read only these columns: answered from the index alone, in
# created order, instead of one table page per ticket.
Index(
    "ix_tickets_analytics",
    *(getattr(Ticket, name) for name in ANALYTICS_COLUMNS),
)
# The overview's breakdown of the open tickets, from this index alone (migration 0016).
Index(
    "ix_tickets_open_analytics",
    Ticket.status,
    Ticket.automatic,
    Ticket.priority,
    Ticket.category,
    Ticket.sentiment,
    Ticket.sla_due_at,
    Ticket.first_response_at,
)


class AuditEntry(Base):
    """One admin change: who changed which field of which object, from what to what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(10))  # create | update | delete
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(100))
    object_label: Mapped[str] = mapped_column(String(300), default="")
    field: Mapped[str | None] = mapped_column(String(60))
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)


class TicketRating(Base):
    """The customer's one rating of a resolved ticket, from the signed link in the email."""

    __tablename__ = "ticket_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True
    )
    rating: Mapped[str] = mapped_column(String(10))  # good | okay | bad
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TicketAnalysis(Base):
    """A ticket whose terms the root-cause job extracted (and, for complaints, its embedding)."""

    __tablename__ = "ticket_analysis"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    analyzed_at: Mapped[datetime] = mapped_column(default=utcnow)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 sentence vector


class TicketTerm(Base):
    """A term or phrase a ticket's text contains (once per ticket: document counts)."""

    __tablename__ = "ticket_terms"
    __table_args__ = (Index("ix_ticket_terms_term", "term", "ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    term: Mapped[str] = mapped_column(String(80), primary_key=True)


class TermDay(Base):
    """Daily roll-up of ticket_terms over all tickets: the background topics are scored against."""

    __tablename__ = "term_days"
    __table_args__ = (Index("ix_term_days_day", "day"),)  # a day is recounted as a whole

    term: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer)


class TermDayTotal(Base):
    """Per day: analysed tickets, and the sum of their distinct terms (the background's size)."""

    __tablename__ = "term_day_totals"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer)
    terms: Mapped[int] = mapped_column(Integer)


class ComplaintGroup(Base):
    """Similar complaints of one topic (sentence embeddings), labelled by their top terms."""

    __tablename__ = "complaint_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str | None] = mapped_column(String(60), index=True)
    label: Mapped[str] = mapped_column(String(300))
    terms: Mapped[list[Any]] = mapped_column(default=list)
    size: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RootCauseSnapshot(Base):
    """Root causes of a topic for a standard period, as the root-cause job last computed them."""

    __tablename__ = "root_cause_snapshots"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # day|days|topic
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ComplaintGroupMember(Base):
    __tablename__ = "complaint_group_members"
    __table_args__ = (Index("ix_complaint_group_members_ticket", "ticket_id"),)

    group_id: Mapped[int] = mapped_column(
        ForeignKey("complaint_groups.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )


@event.listens_for(Session, "before_flush")
def _fit_strings_to_their_columns(session: Session, _context: Any, _instances: Any) -> None:
    """Cut over-long strings to their column's length instead of failing the whole write.

    Such values come from outside (a 300-character display name, a SIP URI as caller number);
    PostgreSQL refuses them where SQLite would not, and the raw item keeps the full value.
    """
    for row in chain(session.new, session.dirty):
        for attribute in inspect(row).mapper.column_attrs:
            length = getattr(attribute.columns[0].type, "length", None)
            value = getattr(row, attribute.key)
            if length and isinstance(value, str) and len(value) > length:
                log.warning("%s.%s cut to %d characters", type(row).__name__, attribute.key, length)
                setattr(row, attribute.key, value[:length])
