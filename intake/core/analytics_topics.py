"""Root causes of a topic in a period: characteristic terms, complaint groups, what is emerging.

The root-cause job (``workers.root_causes``) stores each ticket's terms and the complaint
groups; here they are only counted with SQL and scored (``classify.term_scoring``):

- **terms**: the topic's tickets of the period against the background of every ticket of the
  period (the daily roll-up), log-odds with an informative Dirichlet prior;
- **emerging**: terms and groups whose share of the topic's tickets rose clearly against the
  previous period of the same length;
- **groups**: groups of similar complaints, with their counts now and before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from classify.term_scoring import Side, log_odds_z, prior_for, rose_clearly
from intake.core.analytics import Filters, Period, conditions, period_of, when
from intake.core.db.analytics_models import (
    ComplaintGroup,
    ComplaintGroupMember,
    RootCauseSnapshot,
    TermDay,
    TermDayTotal,
    TicketAnalysis,
    TicketTerm,
)
from intake.core.db.base import utcnow
from intake.core.db.models import Ticket

CANDIDATES = 300  # most frequent terms of the topic that are scored at all
MIN_COUNT = 3  # a term seen in fewer tickets is no root cause yet
SHOWN = 15
SAMPLE = 20  # ticket ids given per item
EMERGING_MIN_COUNT = 10
EMERGING_RATIO = 2.0  # share at least doubled
# Periods the root-cause job precomputes for every topic; a snapshot older than SNAPSHOT_FRESH
# (the job stopped) is not used.
SNAPSHOT_DAYS = (7, 30, 90)
SNAPSHOT_FRESH = timedelta(minutes=15)


@dataclass
class Item:
    """A term or a group, with its counts now and in the previous period."""

    term: str | None
    label: str | None
    count: int
    previous_count: int
    score: float
    kind: str  # "term" | "group"
    group_id: int | None = None
    ticket_ids: list[int] = field(default_factory=list)

    @property
    def trend(self) -> str:
        if self.count > self.previous_count:
            return "up"
        return "down" if self.count < self.previous_count else "flat"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        return cls(
            data.get("term"),
            data.get("label"),
            data["count"],
            data["previous_count"],
            data["score"],
            data["kind"],
            data.get("group_id"),
            list(data["ticket_ids"]),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["trend"] = self.trend
        data["score"] = round(self.score, 2)
        for key in ("term", "label", "group_id"):
            if data[key] is None:
                del data[key]
        return data


@dataclass(frozen=True)
class RootCauses:
    tickets: int  # analysed tickets of the topic in the period
    previous_tickets: int
    terms: list[Item]
    emerging: list[Item]
    groups: list[Item]

    def to_json(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "previous_tickets": self.previous_tickets,
            "terms": [i.to_json() for i in self.terms],
            "emerging": [i.to_json() for i in self.emerging],
            "groups": [i.to_json() for i in self.groups],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RootCauses:
        return cls(
            data["tickets"],
            data["previous_tickets"],
            *([Item.from_json(i) for i in data[key]] for key in ("terms", "emerging", "groups")),
        )


def _both_periods(filters: Filters, period: Period) -> list[Any]:
    return [
        *conditions(filters),
        Ticket.created_at >= period.previous.start,
        Ticket.created_at < period.end,
    ]


def _analysed(session: Session, filters: Filters, period: Period) -> tuple[int, int]:
    now = Ticket.created_at >= period.start
    row = session.execute(
        select(func.sum(when(now)), func.sum(when(~now)))
        .select_from(Ticket)
        .join(TicketAnalysis, TicketAnalysis.ticket_id == Ticket.id)
        .where(*_both_periods(filters, period))
    ).one()
    return row[0] or 0, row[1] or 0


def _term_counts(session: Session, filters: Filters, period: Period) -> dict[str, tuple[int, int]]:
    now = Ticket.created_at >= period.start
    current = func.sum(when(now))
    rows = session.execute(
        select(TicketTerm.term, current, func.sum(when(~now)))
        .join(Ticket, Ticket.id == TicketTerm.ticket_id)
        .where(*_both_periods(filters, period))
        .group_by(TicketTerm.term)
        .having(current >= MIN_COUNT)
        .order_by(current.desc(), TicketTerm.term)
        .limit(CANDIDATES)
    )
    return {term: (cur or 0, prev or 0) for term, cur, prev in rows}


def _background(session: Session, terms: list[str], period: Period) -> tuple[dict[str, int], int]:
    """Tickets of every topic containing each term in the period (the roll-up), and their count."""
    counts = dict(
        session.execute(
            select(TermDay.term, func.sum(TermDay.tickets))
            .where(
                TermDay.term.in_(terms),
                TermDay.day >= period.start.date(),
                TermDay.day < period.end.date(),
            )
            .group_by(TermDay.term)
        ).all()
    )
    total = session.scalar(
        select(func.coalesce(func.sum(TermDayTotal.tickets), 0)).where(
            TermDayTotal.day >= period.start.date(), TermDayTotal.day < period.end.date()
        )
    )
    return {t: int(c) for t, c in counts.items()}, int(total or 0)


def _group_counts(session: Session, filters: Filters, period: Period) -> list[Item]:
    now = Ticket.created_at >= period.start
    current = func.sum(when(now))
    rows = session.execute(
        select(ComplaintGroup.id, ComplaintGroup.label, current, func.sum(when(~now)))
        .select_from(ComplaintGroupMember)
        .join(ComplaintGroup, ComplaintGroup.id == ComplaintGroupMember.group_id)
        .join(Ticket, Ticket.id == ComplaintGroupMember.ticket_id)
        .where(*_both_periods(filters, period))
        .group_by(ComplaintGroup.id, ComplaintGroup.label)
    )
    return [
        Item(None, label, cur or 0, prev or 0, 0.0, "group", group_id)
        for group_id, label, cur, prev in rows
        if cur
    ]


def _samples(session: Session, filters: Filters, period: Period, items: list[Item]) -> None:
    """Fill each item's ``ticket_ids`` with its newest tickets of the period."""
    where = conditions(filters, period)
    terms = {i.term for i in items if i.kind == "term" and i.term}
    groups = {i.group_id for i in items if i.kind == "group" and i.group_id is not None}
    found: dict[tuple[str, Any], list[int]] = {}
    if terms:
        for term, ticket_id in session.execute(
            select(TicketTerm.term, Ticket.id)
            .join(Ticket, Ticket.id == TicketTerm.ticket_id)
            .where(*where, TicketTerm.term.in_(terms))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        ):
            found.setdefault(("term", term), []).append(ticket_id)
    if groups:
        for group_id, ticket_id in session.execute(
            select(ComplaintGroupMember.group_id, Ticket.id)
            .join(Ticket, Ticket.id == ComplaintGroupMember.ticket_id)
            .where(*where, ComplaintGroupMember.group_id.in_(groups))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        ):
            found.setdefault(("group", group_id), []).append(ticket_id)
    for item in items:
        key = item.term if item.kind == "term" else item.group_id
        item.ticket_ids = found.get((item.kind, key), [])[:SAMPLE]


def root_causes(session: Session, filters: Filters, period: Period) -> RootCauses:
    tickets, previous_tickets = _analysed(session, filters, period)
    counts = _term_counts(session, filters, period)
    background, background_total = _background(session, list(counts), period)
    both_background, both_total = _background(
        session, list(counts), Period(period.previous.start, period.end)
    )
    terms: list[Item] = []
    rising: list[Item] = []
    for term, (current, previous) in counts.items():
        prior = prior_for(background.get(term, 0), background_total)
        rest = Side(max(background.get(term, 0) - current, 0), max(background_total - tickets, 0))
        z = log_odds_z(Side(current, tickets), rest, prior)
        terms.append(Item(term, None, current, previous, z, "term"))
        trend_prior = prior_for(both_background.get(term, 0), both_total)
        now, before = Side(current, tickets), Side(previous, previous_tickets)
        rise = log_odds_z(now, before, trend_prior)
        if rose_clearly(now, before, rise, EMERGING_MIN_COUNT, EMERGING_RATIO):
            rising.append(Item(term, None, current, previous, rise, "term"))
    groups = _group_counts(session, filters, period)
    for group in groups:
        now, before = Side(group.count, tickets), Side(group.previous_count, previous_tickets)
        pooled = prior_for(group.count + group.previous_count, tickets + previous_tickets)
        group.score = log_odds_z(now, before, pooled)
        if rose_clearly(now, before, group.score, EMERGING_MIN_COUNT, EMERGING_RATIO):
            rising.append(
                Item(
                    None,
                    group.label,
                    group.count,
                    group.previous_count,
                    group.score,
                    "group",
                    group.group_id,
                )
            )
    # Only terms more frequent in the topic than in the background characterize it.
    top_terms = sorted((t for t in terms if t.score > 0), key=lambda i: (-i.score, i.term or ""))
    top_terms = top_terms[:SHOWN]
    emerging = sorted(rising, key=lambda i: (-i.score, -i.count))[:SHOWN]
    groups.sort(key=lambda i: (-i.count, i.label or ""))
    groups = groups[:SHOWN]
    _samples(session, filters, period, [*top_terms, *emerging, *groups])
    return RootCauses(tickets, previous_tickets, top_terms, emerging, groups)


def snapshot_key(filters: Filters, period: Period) -> str | None:
    """The stored snapshot that answers this question, if it is a standard one."""
    if filters.without_topic() != Filters() or period.days not in SNAPSHOT_DAYS:
        return None
    return f"{period.end.date().isoformat()}|{period.days}|{filters.topic or ''}"


def refresh_snapshots(session: Session, topics: list[str | None], now: datetime) -> int:
    """Compute and store the standard periods' root causes of ``topics`` (the job does this)."""
    stored = 0
    for days in SNAPSHOT_DAYS:
        period = period_of(days, now)
        for topic in topics:
            filters = Filters(topic=topic)
            key = snapshot_key(filters, period)
            assert key is not None
            data = root_causes(session, filters, period).to_json()
            row = session.get(RootCauseSnapshot, key) or RootCauseSnapshot(key=key)
            row.computed_at, row.data = now, data
            session.add(row)
            stored += 1
    # Yesterday's keys answer nothing any more.
    session.execute(delete(RootCauseSnapshot).where(RootCauseSnapshot.computed_at < now))
    return stored


def current_root_causes(
    session: Session, filters: Filters, period: Period, now: datetime | None = None
) -> RootCauses:
    """Root causes, from the job's snapshot when it answers the question and is fresh.

    The terms and groups themselves only change when the job runs, so its snapshot of a
    standard question (7, 30 or 90 days, a topic or none, no other filter) is as current as a
    live count; any other question, or a snapshot the job has not renewed, is counted live.
    """
    key = snapshot_key(filters, period)
    if key is not None:
        row = session.get(RootCauseSnapshot, key)
        if row is not None and row.computed_at >= (now or utcnow()) - SNAPSHOT_FRESH:
            return RootCauses.from_json(row.data)
    return root_causes(session, filters, period)


def tickets_with(
    session: Session,
    filters: Filters,
    period: Period,
    *,
    term: str | None = None,
    group_id: int | None = None,
    limit: int = 200,
) -> list[Ticket]:
    """The period's tickets behind one item (the page an item links to)."""
    query = select(Ticket).where(*conditions(filters, period))
    if term is not None:
        query = query.join(TicketTerm, TicketTerm.ticket_id == Ticket.id).where(
            TicketTerm.term == term
        )
    if group_id is not None:
        query = query.join(ComplaintGroupMember, ComplaintGroupMember.ticket_id == Ticket.id).where(
            ComplaintGroupMember.group_id == group_id
        )
    return list(session.scalars(query.order_by(Ticket.created_at.desc()).limit(limit)))
