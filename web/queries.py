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
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session, joinedload, selectinload

from intake.core.db.models import Message, Ticket
from intake.core.groups import visible_to
from intake.core.search import SearchHits, best_hits, search_hits, stored_contents
from intake.core.search_text import Snippet, snippet
from intake.domain import Priority
from intake.errors import RejectedError
from web.queue_filter import (
    QueueFilter,
    Viewer,
    filtered_tickets,
)

# Counts above this are shown as "1000+": counting every match of a broad filter costs a scan.
COUNT_CAP = 1000
RANKS = sorted({p.rank for p in Priority})


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


def _with_relations(query: Select[Any]) -> Select[Any]:
    return query.options(joinedload(Ticket.customer), joinedload(Ticket.assignee))


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
    base = filtered_tickets(flt, viewer)
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


# A page of search results first reads this many times a page of the best hits (and falls back
# to all of them when the filters leave fewer than a page of these).
BEST_HITS_PER_ROW = 10


def _search_rows(
    session: Session, flt: QueueFilter, viewer: Viewer, hits: SearchHits, want: int
) -> list[Any]:
    query = filtered_tickets(flt, viewer).join(hits.hits, hits.ticket_id == Ticket.id)
    query = query.where(hits.among_hits)
    query = query.add_columns(hits.score).order_by(hits.score, Ticket.id).limit(want)
    return list(session.execute(_with_relations(query)).all())


def _search_page(
    session: Session, flt: QueueFilter, viewer: Viewer, cursor: list[Any] | None, limit: int
) -> QueuePage:
    assert flt.q is not None
    hits = search_hits(session, flt.q)
    if hits is None:
        return QueuePage([], None)
    after = None
    if cursor is not None:
        if len(cursor) != 3 or cursor[0] != "s" or not isinstance(cursor[2], int):
            raise RejectedError("cursor is not one this server gave out")
        after = (float(cursor[1]), cursor[2])
    want = limit + 1
    found = _search_rows(
        session, flt, viewer, best_hits(session, hits, after, want * BEST_HITS_PER_ROW), want
    )
    if len(found) < want:  # the filters left too few of the best hits: read them all
        if after is not None:
            score, ticket_id = after
            hits = replace(
                hits,
                among_hits=and_(
                    hits.among_hits,
                    or_(hits.score > score, and_(hits.score == score, Ticket.id > ticket_id)),
                ),
            )
        found = _search_rows(session, flt, viewer, hits, want)
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
        query = filtered_tickets(flt, viewer, counting=True).with_only_columns(Ticket.id)
        query = query.join(hits.hits, hits.ticket_id == Ticket.id).where(hits.among_hits)
        limited = query.limit(COUNT_CAP + 1).subquery()
        return int(session.scalar(select(func.count()).select_from(limited)) or 0)
    counted = filtered_tickets(flt, viewer, counting=True).with_only_columns(Ticket.id)
    limited = counted.limit(COUNT_CAP + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(limited)) or 0)


def list_tickets(
    session: Session, flt: QueueFilter, viewer: Viewer, limit: int = 100, offset: int = 0
) -> list[Ticket]:
    """Tickets by offset (the API's older form: slower the deeper it goes; cursors are not)."""
    query = filtered_tickets(flt, viewer).order_by(
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
