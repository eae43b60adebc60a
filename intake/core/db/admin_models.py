"""What admins set up (categories, rules, SLA policies and calendars, groups, canned responses,
model versions, settings, saved views) and the records of changes (audit log, corrections,
customer merges)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.core.db.base import Base, EnumText, utcnow
from intake.core.db.models import User
from intake.domain import (
    AssignmentStrategy,
    ModelTask,
    Priority,
)


class CannedResponse(Base):
    """A reply text agents pick on the ticket page; placeholders filled in for each ticket."""

    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16), default="en")
    body: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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
