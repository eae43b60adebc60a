"""What the analytics dashboard reads beyond the tickets: its covering indexes, ratings, and
what the root-cause job stores (terms, their daily counts, complaint groups, snapshots)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from intake.core.db.base import Base, utcnow
from intake.core.db.models import Message, Ticket

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
    # The customer figures (repeat contacts, customer type at contact) from the index too (0019).
    "repeat_contact",
    "contact_earlier",
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
# PostgreSQL cannot key a B-tree on json, but can carry it: the same counts from the index alone
# (0019; reading each message's heap row took 67 ms for 8,000 messages, 8 ms this way).
Index(
    "ix_messages_received_direction_flags",
    Message.received_at,
    Message.direction,
    postgresql_include=["flags"],
).ddl_if(dialect="postgresql")
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
