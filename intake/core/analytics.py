"""The analytics dashboard's figures for a period and a filter, each one aggregate query.

Every figure is computed by the database (GROUP BY over indexed columns, window functions for the
percentiles), so the cost grows with the period's tickets, never with what is shown. Days are UTC
calendar days; a period of N days ends today and starts N-1 days before. Auto-replies and
bounces are no customer requests and are never counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, String, case, cast, func, select, text, type_coerce
from sqlalchemy.orm import Session

from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Ticket

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366
DAY_SECONDS = 86_400
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # an upper bound that excludes no real time


@dataclass(frozen=True)
class Filters:
    """What the dashboard is narrowed to; None means every value."""

    channel: str | None = None
    mailbox_id: int | None = None
    group: str | None = None
    topic: str | None = None
    language: str | None = None
    tier: str | None = None

    def without_topic(self) -> Filters:
        return replace(self, topic=None)

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (links keep the dashboard's choice)."""
        args = {
            "channel": self.channel,
            "mailbox": None if self.mailbox_id is None else str(self.mailbox_id),
            "group": self.group,
            "topic": self.topic,
            "language": self.language,
            "tier": self.tier,
        }
        return {key: value for key, value in args.items() if value}


@dataclass(frozen=True)
class Period:
    """Whole UTC days: ``start`` inclusive, ``end`` exclusive."""

    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)

    def day_list(self) -> list[date]:
        first = self.start.date()
        return [first + timedelta(days=offset) for offset in range(self.days)]


def period_of(days: int, now: datetime | None = None) -> Period:
    """The last ``days`` UTC days, today included."""
    days = min(max(days, 1), MAX_DAYS)
    today = (now or utcnow()).astimezone(UTC).date()
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=UTC)
    return Period(end - timedelta(days=days), end)


@dataclass(frozen=True)
class TimeSeries:
    """Counts per day for each named series (a line or a stack in a chart)."""

    days: list[str]
    series: dict[str, list[int]] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        return {name: sum(values) for name, values in self.series.items()}

    def to_json(self) -> dict[str, Any]:
        return {"days": self.days, "series": self.series}


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def room_to_hash(session: Session) -> None:
    """PostgreSQL: memory to group a period's tickets in one hash table.

    The planner cannot estimate how many (day, ...) groups a period has and assumes one per
    ticket; with the default 4 MB it then sorts every ticket on disk instead (the customer
    figures of 100,000 tickets: 424 ms, most of it the sort). For this transaction only.
    """
    if is_postgres(session) and not session.info.get("analytics.work_mem"):
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.info["analytics.work_mem"] = True


def day_of(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp, as the database groups it."""
    if is_postgres(session):
        # date(timestamptz) would use the connection's time zone; the page promises UTC days.
        return func.date(func.timezone("UTC", column))
    # SQLite stores UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's one format): its first
    # ten characters are the day, and cutting them costs half of date()'s parsing per ticket.
    return func.substr(column, 1, 10)


def epoch_of(session: Session, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a timestamp, so differences are plain numbers on both databases."""
    if is_postgres(session):
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * DAY_SECONDS


def seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """``later - earlier`` in seconds, as a float on both databases.

    PostgreSQL subtracts the timestamps and answers a double: two numeric epochs per row cost
    twice the work there, and Python's Decimal conversion per ticket more again.
    """
    if is_postgres(session):
        return cast(func.extract("epoch", later - earlier), Float)
    return epoch_of(session, later) - epoch_of(session, earlier)


def raw(column: Any) -> ColumnElement[Any]:
    """A column's stored text, not its Python type: thousands of rows skip the enum conversion."""
    return type_coerce(column, String())


def day_key(value: Any) -> str:
    """A grouped day as YYYY-MM-DD (SQLite answers text, PostgreSQL a date)."""
    return str(value)[:10]


def conditions(filters: Filters, period: Period | None = None) -> list[ColumnElement[bool]]:
    """WHERE clauses for customer tickets matching ``filters`` (created in ``period``)."""
    where: list[ColumnElement[bool]] = [Ticket.automatic.is_(False)]
    if period is not None:
        where += [Ticket.created_at >= period.start, Ticket.created_at < period.end]
    if filters.channel:
        where.append(Ticket.channel == filters.channel)
    if filters.mailbox_id is not None:
        where.append(Ticket.mailbox_id == filters.mailbox_id)
    if filters.group:
        where.append(Ticket.group == filters.group)
    if filters.topic:
        where.append(Ticket.category == filters.topic)
    if filters.language:
        where.append(Ticket.language == filters.language)
    if filters.tier:
        # A subquery, not a join: the tier narrows without widening every other query.
        where.append(
            Ticket.customer_id.in_(select(Customer.id).where(Customer.tier == filters.tier))
        )
    return where


def _fill(period: Period, counts: dict[tuple[str, str], int], names: list[str]) -> TimeSeries:
    days = [d.isoformat() for d in period.day_list()]
    return TimeSeries(days, {name: [counts.get((day, name), 0) for day in days] for name in names})


def _ordered(counts: dict[tuple[str, str], int], first: list[str] | None = None) -> list[str]:
    totals: dict[str, int] = {}
    for (_, name), count in counts.items():
        totals[name] = totals.get(name, 0) + count
    known = [name for name in first or [] if name in totals]
    rest = sorted((n for n in totals if n not in known), key=lambda n: (-totals[n], n))
    return known + rest


@dataclass(frozen=True)
class Volume:
    by_topic: TimeSeries
    by_channel: TimeSeries
    by_sentiment: TimeSeries
    by_complaint: TimeSeries

    @property
    def total(self) -> int:
        return sum(self.by_channel.totals().values())


def volume(session: Session, filters: Filters, period: Period) -> Volume:
    """Tickets per day by topic, channel, sentiment and complaint, from one GROUP BY.

    Answered once per session for a filter and period (the web's sessions live for one
    request, in which the overview's per-day counts and the volume charts ask the same).
    """
    memo: dict[tuple[Filters, Period], Volume] = session.info.setdefault("analytics.volume", {})
    if (filters, period) not in memo:
        memo[(filters, period)] = _volume(session, filters, period)
    return memo[(filters, period)]


def _volume(session: Session, filters: Filters, period: Period) -> Volume:
    room_to_hash(session)
    day = day_of(session, Ticket.created_at)
    dims = (Ticket.category, raw(Ticket.channel), raw(Ticket.sentiment), Ticket.complaint)
    rows = (
        session.connection()  # Core rows: no ORM processing for thousands of groups
        .execute(
            select(day, *dims, func.count())
            .where(*conditions(filters, period))
            .group_by(day, *dims)
        )
        .all()
    )
    counted: list[dict[tuple[str, str], int]] = [{}, {}, {}, {}]
    for day_value, topic, channel, sentiment, complaint, count in rows:
        key = day_key(day_value)
        names = (
            topic or "none",
            str(channel),
            str(sentiment) if sentiment is not None else "none",
            "complaint" if complaint else "no complaint",
        )
        for counts, name in zip(counted, names, strict=True):
            counts[(key, name)] = counts.get((key, name), 0) + count
    topics, channels, sentiments, complaints = counted
    return Volume(
        by_topic=_fill(period, topics, _ordered(topics)),
        by_channel=_fill(period, channels, _ordered(channels, ["email", "voicemail"])),
        by_sentiment=_fill(
            period, sentiments, _ordered(sentiments, ["negative", "neutral", "positive"])
        ),
        by_complaint=_fill(period, complaints, _ordered(complaints, ["complaint"])),
    )


def backlog(session: Session, filters: Filters, period: Period) -> TimeSeries:
    """Open tickets at the end of each day: created before it and not resolved before it.

    A reopened ticket counts as open from its creation (its last resolution time is what is
    kept). Counted backwards from the tickets open now (one index count), taking off each
    later day's created tickets and adding back its resolved ones, so only the period's rows
    are read, however long the history.
    """
    where = conditions(filters)
    open_now = session.scalar(select(func.count()).where(*where, Ticket.resolved_at.is_(None))) or 0
    created_day = day_of(session, Ticket.created_at)
    created = {
        day_key(d): n
        for d, n in session.execute(
            select(created_day, func.count())
            .where(*where, Ticket.created_at >= period.start)
            .group_by(created_day)
        )
    }
    resolved_day = day_of(session, Ticket.resolved_at)
    resolved = {
        day_key(d): n
        for d, n in session.execute(
            select(resolved_day, func.count())
            # Bounded above too: SQLite guesses a quarter of the table for an open range and
            # then prefers the topic's index (a table page per ticket of the topic, 35 ms at
            # 100,000 tickets) to the resolved-time index that holds every filter column.
            .where(*where, Ticket.resolved_at >= period.start, Ticket.resolved_at < FAR_FUTURE)
            .group_by(resolved_day)
        )
    }
    # Tickets dated after the period (clock skew, imports) are open now but not by its end.
    later = sum(n for d, n in created.items() if d >= period.end.date().isoformat())
    later -= sum(n for d, n in resolved.items() if d >= period.end.date().isoformat())
    days = [d.isoformat() for d in period.day_list()]
    values = [0] * len(days)
    open_at_end = open_now - later
    for index in range(len(days) - 1, -1, -1):
        values[index] = open_at_end
        open_at_end -= created.get(days[index], 0) - resolved.get(days[index], 0)
    return TimeSeries(
        days,
        {
            "open at end of day": values,
            "created": [created.get(d, 0) for d in days],
            "resolved": [resolved.get(d, 0) for d in days],
        },
    )


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def when(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 where ``condition`` holds, else 0 (for SUM: counts that share one scan)."""
    return case((condition, 1), else_=0)
