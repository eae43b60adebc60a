"""The queue's filters: what an agent asks for (``QueueFilter``, read from a query string) and who
asks (``Viewer``), turned into SQL conditions on tickets. The customer-type filters check each
candidate ticket with one index probe ("the customer's n-th ticket exists"), so they cost the same
at any size; so does a tier's (``_tier_condition``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import timedelta

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from intake.core.customers import loyalty_thresholds
from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Ticket, User
from intake.core.groups import visible_to
from intake.core.settings import Settings
from intake.domain import CustomerType

FILTERS = ("status", "channel", "category", "priority", "sentiment", "language", "group")
ASSIGNEE_CHOICES = ("mine", "unassigned")
SLA_STATES = ("due_soon", "breached", "missed")
CUSTOMER_TYPES = tuple(t.value for t in CustomerType)


def _yes(value: str | None) -> bool:
    return value in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None
    channel: str | None = None
    category: str | None = None
    priority: str | None = None
    sentiment: str | None = None
    language: str | None = None
    group: str | None = None
    q: str | None = None
    include_automatic: bool = False
    needs_review: bool | None = None
    complaint: str | None = None  # "yes" | "no"
    assignee: str | None = None  # "mine" | "unassigned" | an agent's email
    customer_type: str | None = None  # potential | existing | loyal
    tier: str | None = None
    mailbox: int | None = None
    sla: str | None = None  # due_soon | breached (overdue now) | missed (any target missed)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilter:
        values = {name: (args.get(name) or "").strip() or None for name in FILTERS}
        review = args.get("needs_review")
        complaint = (args.get("complaint") or "").strip().lower()
        customer_type = (args.get("customer_type") or "").strip().lower()
        sla = (args.get("sla") or "").strip().lower()
        mailbox = (args.get("mailbox") or "").strip()
        return cls(
            **values,
            complaint=complaint if complaint in ("yes", "no") else None,
            q=(args.get("q") or "").strip()[:200] or None,
            include_automatic=_yes(args.get("automatic")),
            needs_review=None if review in (None, "") else _yes(review),
            assignee=(args.get("assignee") or "").strip().lower() or None,
            customer_type=customer_type if customer_type in CUSTOMER_TYPES else None,
            tier=(args.get("tier") or "").strip().lower() or None,
            mailbox=int(mailbox) if mailbox.isdigit() and len(mailbox) < 10 else None,
            sla=sla if sla in SLA_STATES else None,
        )

    def args(self) -> dict[str, str]:
        """The filter as URL query arguments (the inverse of ``from_args``)."""
        out: dict[str, str] = {}
        for name, value in asdict(self).items():
            if value is None or value is False:
                continue
            if name == "include_automatic":
                out["automatic"] = "1"
            elif name == "needs_review":
                out[name] = "1" if value else "0"
            else:
                out[name] = str(value)
        return out

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in (None, False) for f in fields(self))


@dataclass(frozen=True)
class Viewer:
    """Who looks at the queue ("mine") and the settings that define customer types."""

    user_id: int | None
    settings: Settings
    # Agents see their groups' tickets, their own and ungrouped ones; admins all (core.groups).
    is_admin: bool = False


# --- filters -----------------------------------------------------------------------------------


def _customer_has(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """The ticket's customer meets ``condition``: one primary-key lookup per candidate row.

    Loyal customers match a share of all tickets, so the page walks the queue-order index and
    checks each candidate, stopping after one page; the set of loyal customers read up front
    costs a pass over all tickets on every request, growing with the database.
    """
    return exists().where(Customer.id == Ticket.customer_id, condition)


def _tier_condition(tier: str, counting: bool) -> ColumnElement[bool]:
    """Tickets of customers in ``tier`` (matched case-insensitively).

    A page probes each candidate's customer by primary key. On PostgreSQL the planner picks by
    the tier's size, known from the statistics on ``lower(tier)`` (migration 0020): for a common
    tier (VIPs: 5 % of tickets) it walks the queue-order index and probes each candidate,
    stopping after a page (11 ms at 1,000,000 tickets); for a rare one it reads the tier's
    customers' tickets through the customer index and sorts those few. (The earlier form,
    ``customer_id + 0 IN`` a materialized set of the tier's customers, left it one plan: the set
    scanned once per candidate, 0.6-1.8 s.) SQLite probes each candidate in queue order.

    A count has no order: it reads the tier's customers (``ix_customers_tier``) and their
    tickets through the customer index, up to the cap (SQLite: 58 -> a few ms for the VIPs at
    100,000 tickets, against probing the queue until a thousand match).
    """
    if counting:
        tiered = select(Customer.id).where(
            Customer.tier.is_not(None), func.lower(Customer.tier) == tier
        )
        return Ticket.customer_id.in_(tiered)
    return exists().where(Customer.id == Ticket.customer_id, func.lower(Customer.tier) == tier)


def _has_tickets(count: int) -> ColumnElement[bool]:
    """The ticket's customer has at least ``count`` non-automatic tickets (this one included).

    "The ``count``-th ticket exists": an index range of at most ``count`` entries of
    ``ix_tickets_customer_automatic``, however many tickets the customer has. It selects a
    column of that index, so PostgreSQL reads the index alone (``id`` is not in it there).
    """
    other = aliased(Ticket)
    nth = (
        select(other.customer_id)
        .where(other.customer_id == Ticket.customer_id, other.automatic.is_(False))
        .limit(1)
        .offset(count - 1)
    )
    return exists(nth)


def _customer_type_condition(kind: str, viewer: Viewer) -> ColumnElement[bool]:
    """The customer types of ``classify.customer.customer_type``, as SQL on the ticket's row:
    potential (no other ticket), loyal (enough tickets, first contact long enough ago) and
    existing (the rest)."""
    other = aliased(Ticket)
    others = exists().where(
        other.customer_id == Ticket.customer_id, other.automatic.is_(False), other.id != Ticket.id
    )
    if kind == CustomerType.POTENTIAL:
        return or_(Ticket.customer_id.is_(None), ~others)
    thresholds = loyalty_thresholds(viewer.settings)
    cutoff = utcnow() - timedelta(days=thresholds.loyal_min_days)
    loyal = and_(
        _customer_has(Customer.first_contact_at <= cutoff),
        _has_tickets(thresholds.loyal_min_tickets),
    )
    if kind == CustomerType.LOYAL:
        return loyal
    return and_(Ticket.customer_id.is_not(None), others, ~loyal)


def filter_conditions(
    flt: QueueFilter, viewer: Viewer, counting: bool = False
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [visible_to(viewer.user_id, viewer.is_admin)]
    for name in FILTERS:
        value = getattr(flt, name)
        if value:
            conditions.append(getattr(Ticket, name) == value)
    if not flt.include_automatic:
        conditions.append(Ticket.automatic.is_(False))
    if flt.needs_review is not None:
        conditions.append(Ticket.needs_review.is_(flt.needs_review))
    if flt.complaint is not None:
        conditions.append(Ticket.complaint.is_(flt.complaint == "yes"))
    if flt.assignee == "mine":
        conditions.append(
            Ticket.assignee_id == viewer.user_id if viewer.user_id is not None else false()
        )
    elif flt.assignee == "unassigned":
        conditions.append(Ticket.assignee_id.is_(None))
    elif flt.assignee:
        conditions.append(
            Ticket.assignee_id
            == select(User.id).where(User.email == flt.assignee).scalar_subquery()
        )
    if flt.mailbox is not None:
        conditions.append(Ticket.mailbox_id == flt.mailbox)
    if flt.tier:
        conditions.append(_tier_condition(flt.tier, counting))
    if flt.customer_type:
        conditions.append(_customer_type_condition(flt.customer_type, viewer))
    now = utcnow()
    if flt.sla == "due_soon":
        conditions.append(and_(Ticket.sla_warning_at <= now, Ticket.sla_due_at > now))
    elif flt.sla == "breached":
        conditions.append(Ticket.sla_due_at <= now)
    elif flt.sla == "missed":
        conditions.append(Ticket.sla_breached.is_(True))
    return conditions


def filtered_tickets(flt: QueueFilter, viewer: Viewer, counting: bool = False) -> Select[Ticket]:
    return select(Ticket).where(*filter_conditions(flt, viewer, counting))
