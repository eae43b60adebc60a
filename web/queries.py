"""Ticket queue queries shared by the HTML views and the JSON API.

The queue is read in one order (priority, SLA due time with undated tickets last, age, id) and
paged by keyset: a cursor holds the last row's sort key, and the next page starts after it, so
tickets arriving meanwhile never shift a page or show twice. Each page is read as index ranges,
one per (priority, dated or undated) segment of that order, stopping once the page is full: every
range is an index walk (``ix_tickets_queue_order`` and the indexes led by a filter column) however
deep the cursor. Search results are paged the same way in their rank order.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session, aliased, selectinload

from intake.core.customers import loyalty_thresholds
from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Message, Ticket, User
from intake.core.groups import visible_to
from intake.core.search import search_hits, stored_contents
from intake.core.search_text import Snippet, snippet
from intake.core.settings import Settings
from intake.domain import CustomerType, Priority
from intake.errors import RejectedError

FILTERS = ("status", "channel", "category", "priority", "sentiment", "language", "group")
ASSIGNEE_CHOICES = ("mine", "unassigned")
SLA_STATES = ("due_soon", "breached", "missed")
CUSTOMER_TYPES = tuple(t.value for t in CustomerType)
# Counts above this are shown as "1000+": counting every match of a broad filter costs a scan.
COUNT_CAP = 1000
RANKS = sorted({p.rank for p in Priority})


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


@dataclass
class QueuePage:
    tickets: list[Ticket]
    next_cursor: str | None
    snippets: dict[int, Snippet] = field(default_factory=dict)


# --- cursors -----------------------------------------------------------------------------------


def _encode(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise RejectedError("cursor is not one this server gave out") from None
    if not isinstance(values, list) or not values:
        raise RejectedError("cursor is not one this server gave out")
    return values


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise RejectedError("cursor is not one this server gave out") from None


@dataclass(frozen=True)
class QueueKey:
    """A row's place in the queue order."""

    rank: int
    sla_due_at: datetime | None
    created_at: datetime
    id: int

    @classmethod
    def of(cls, ticket: Ticket) -> QueueKey:
        return cls(ticket.priority_rank, ticket.sla_due_at, ticket.created_at, ticket.id)

    def encode(self) -> str:
        sla = self.sla_due_at.isoformat() if self.sla_due_at else None
        return _encode(["q", self.rank, sla, self.created_at.isoformat(), self.id])

    @classmethod
    def decode(cls, values: list[Any]) -> QueueKey:
        if len(values) != 5 or values[0] != "q":
            raise RejectedError("cursor is not one this server gave out")
        _, rank, sla, created, ticket_id = values
        created_at = _time(created)
        if not isinstance(rank, int) or not isinstance(ticket_id, int) or created_at is None:
            raise RejectedError("cursor is not one this server gave out")
        return cls(rank, _time(sla), created_at, ticket_id)


# --- filters -----------------------------------------------------------------------------------


def _customer_has(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """The ticket's customer meets ``condition``: one primary-key lookup per candidate row.

    Loyal customers match a share of all tickets, so the page walks the queue-order index and
    checks each candidate, stopping after one page; the set of loyal customers read up front
    costs a pass over all tickets on every request, growing with the database.
    """
    return exists().where(Customer.id == Ticket.customer_id, condition)


def _tier_condition(tier: str, counting: bool) -> ColumnElement[bool]:
    """Tickets of customers in ``tier``; the tiered customers are read from ``ix_customers_tier``.

    A page walks the queue-order index and looks each candidate's customer up in that set
    (``customer_id + 0``: no index matches it, so the planner cannot read every match through
    the customer index and sort them all). A count has no order: it reads the set's tickets
    through the customer index, up to the cap, instead of scanning tickets for matches.
    """
    tiered = select(Customer.id).where(
        Customer.tier.is_not(None), func.lower(Customer.tier) == tier
    )
    if counting:
        return Ticket.customer_id.in_(tiered)
    # Found once per statement (a materialized CTE), not once per segment of the page.
    found = tiered.cte("tier_customers").prefix_with("MATERIALIZED")
    unindexed: ColumnElement[int | None] = Ticket.customer_id + 0
    return unindexed.in_(select(found.c.id))


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


def _conditions(
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


def _filtered(flt: QueueFilter, viewer: Viewer, counting: bool = False) -> Select[Ticket]:
    return select(Ticket).where(*_conditions(flt, viewer, counting))


def _with_relations(query: Select[Any]) -> Select[Any]:
    return query.options(selectinload(Ticket.customer), selectinload(Ticket.assignee))


# --- pages -------------------------------------------------------------------------------------


def _segment(
    base: Select[Ticket], rank: int, dated: bool, after: QueueKey | None, want: int
) -> Select[int] | None:
    """One (priority, dated or undated) range of the queue order after ``after``, as a query."""
    sla_type = Ticket.sla_due_at.type
    query = base.where(Ticket.priority_rank == rank)
    same_rank = after is not None and after.rank == rank
    if dated:
        if same_rank and after is not None and after.sla_due_at is None:
            return None  # the cursor is past this rank's dated tickets
        query = query.where(Ticket.sla_due_at.is_not(None))
        if same_rank and after is not None and after.sla_due_at is not None:
            query = query.where(
                tuple_(Ticket.sla_due_at, Ticket.created_at, Ticket.id)
                > tuple_(
                    literal(after.sla_due_at, sla_type),
                    literal(after.created_at, sla_type),
                    literal(after.id),
                )
            )
        order: tuple[Any, ...] = (Ticket.sla_due_at, Ticket.created_at, Ticket.id)
    else:
        query = query.where(Ticket.sla_due_at.is_(None))
        if same_rank and after is not None and after.sla_due_at is None:
            query = query.where(
                tuple_(Ticket.created_at, Ticket.id)
                > tuple_(literal(after.created_at, sla_type), literal(after.id))
            )
        order = (Ticket.created_at, Ticket.id)
    return query.with_only_columns(Ticket.id).order_by(*order).limit(want)


def _segment_queries(
    flt: QueueFilter, viewer: Viewer, after: QueueKey | None, want: int
) -> Iterator[Select[int]]:
    """The segments' queries in queue order, each built only when the page still needs it
    (building a statement costs about as much as running one of these)."""
    base = _filtered(flt, viewer)
    ranks = [r for r in RANKS if after is None or r >= after.rank]
    if flt.priority:
        ranks = [r for r in ranks if r == Priority(flt.priority).rank]
    for rank in ranks:
        for dated in (True, False):
            part = _segment(base, rank, dated, after, want)
            if part is not None:
                yield part


def _queue_ids(
    session: Session, flt: QueueFilter, viewer: Viewer, after: QueueKey | None, want: int
) -> list[int]:
    """The ids of up to ``want`` tickets after ``after`` in queue order.

    The order's segments (a priority's dated tickets by due time, then its undated ones by age)
    are read one after the other, each an index range with its own LIMIT, until the page is
    full: usually the first one fills it. (One UNION ALL of all of them costs more: SQLAlchemy's
    cache key for so large a statement takes longer than the reads.)
    """
    ids: list[int] = []
    for part in _segment_queries(flt, viewer, after, want):
        ids.extend(session.scalars(part.limit(want - len(ids))))
        if len(ids) >= want:
            break
    return ids


def _load(session: Session, ids: list[int]) -> list[Ticket]:
    """These tickets, in this order, with their customers and assignees."""
    tickets = session.scalars(_with_relations(select(Ticket)).where(Ticket.id.in_(ids)))
    by_id = {t.id: t for t in tickets}
    return [by_id[i] for i in ids if i in by_id]


def _search_page(
    session: Session, flt: QueueFilter, viewer: Viewer, cursor: list[Any] | None, limit: int
) -> QueuePage:
    assert flt.q is not None
    hits = search_hits(session, flt.q)
    if hits is None:
        return QueuePage([], None)
    query = _filtered(flt, viewer).join(hits.hits, hits.ticket_id == Ticket.id)
    query = query.where(hits.among_hits)
    if cursor is not None:
        if len(cursor) != 3 or cursor[0] != "s" or not isinstance(cursor[2], int):
            raise RejectedError("cursor is not one this server gave out")
        score, ticket_id = float(cursor[1]), cursor[2]
        query = query.where(
            or_(hits.score > score, and_(hits.score == score, Ticket.id > ticket_id))
        )
    query = query.add_columns(hits.score).order_by(hits.score, Ticket.id).limit(limit + 1)
    found = session.execute(_with_relations(query)).all()
    tickets = [row[0] for row in found[:limit]]
    next_cursor = None
    if len(found) > limit:
        last_ticket, last_score = found[limit - 1]
        next_cursor = _encode(["s", last_score, last_ticket.id])
    contents = stored_contents(session, [t.id for t in tickets])
    snippets = {}
    for ticket in tickets:
        cut = snippet(contents.get(ticket.id, ""), flt.q)
        if cut is not None:
            snippets[ticket.id] = cut
    return QueuePage(tickets, next_cursor, snippets)


def queue_page(
    session: Session,
    flt: QueueFilter,
    viewer: Viewer,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> QueuePage:
    """One page of the queue (or of search results, best match first) after ``cursor``."""
    values = _decode(cursor) if cursor else None
    if flt.q:
        return _search_page(session, flt, viewer, values, limit)
    after = QueueKey.decode(values) if values is not None else None
    ids = _queue_ids(session, flt, viewer, after, limit + 1)
    # The extra row only tells whether a next page exists: its ticket is not loaded (and at
    # most 50 ids keep each statement within psycopg's cache of parsed statements).
    tickets = _load(session, ids[:limit])
    more = len(ids) > limit
    return QueuePage(tickets, QueueKey.of(tickets[-1]).encode() if more and tickets else None)


def capped_count(session: Session, flt: QueueFilter, viewer: Viewer) -> int:
    """How many tickets match, counted up to ``COUNT_CAP + 1`` (shown as "1000+")."""
    if flt.q:
        hits = search_hits(session, flt.q, ranked=False)
        if hits is None:
            return 0
        query = _filtered(flt, viewer, counting=True).with_only_columns(Ticket.id)
        query = query.join(hits.hits, hits.ticket_id == Ticket.id).where(hits.among_hits)
        limited = query.limit(COUNT_CAP + 1).subquery()
        return int(session.scalar(select(func.count()).select_from(limited)) or 0)
    counted = _filtered(flt, viewer, counting=True).with_only_columns(Ticket.id)
    limited = counted.limit(COUNT_CAP + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(limited)) or 0)


def list_tickets(
    session: Session, flt: QueueFilter, viewer: Viewer, limit: int = 100, offset: int = 0
) -> list[Ticket]:
    """Tickets by offset (the API's older form: slower the deeper it goes; cursors are not)."""
    query = _filtered(flt, viewer).order_by(
        Ticket.priority_rank,
        Ticket.sla_due_at.is_(None),
        Ticket.sla_due_at,
        Ticket.created_at,
        Ticket.id,
    )
    return list(session.scalars(_with_relations(query.limit(limit).offset(offset))))


def may_see_message(session: Session, message: Message, viewer: Viewer) -> bool:
    """A message's bytes, audio and attachments go with its ticket (without one: admins)."""
    if viewer.is_admin:
        return True
    if message.ticket_id is None:
        return False
    visible = visible_to(viewer.user_id, viewer.is_admin)
    found = session.scalar(select(Ticket.id).where(Ticket.id == message.ticket_id, visible))
    return found is not None


def load_ticket(session: Session, ticket_id: int, viewer: Viewer | None = None) -> Ticket | None:
    """The ticket with its thread; None (a 404) when ``viewer`` may not see it."""
    visible = visible_to(viewer.user_id, viewer.is_admin) if viewer is not None else true()
    return session.scalar(
        select(Ticket)
        .where(Ticket.id == ticket_id, visible)
        .options(
            selectinload(Ticket.messages).selectinload(Message.attachments),
            selectinload(Ticket.messages).selectinload(Message.transcript),
            selectinload(Ticket.messages).selectinload(Message.delivery),
            selectinload(Ticket.customer),
        )
    )
