"""Speed figures: first-response and resolution times (median, p90) and SLA compliance.

Percentiles are exact nearest-rank values (the smallest time with at least that share of the
tickets at or below it): the database narrows the period's tickets and computes their durations
from the covering index, one scan for both figures; the same numbers on both databases.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.analytics import Filters, Period, conditions, raw, seconds_between, share
from intake.core.db.models import Ticket
from intake.domain import Priority

PRIORITIES = [p.value for p in Priority]
ALL = "all"


@dataclass(frozen=True)
class Percentiles:
    """Minutes from a ticket's creation to its first response (or resolution), per priority."""

    count: int
    median_minutes: float | None
    p90_minutes: float | None


@dataclass(frozen=True)
class SlaRow:
    priority: str
    tickets: int
    breached: int

    @property
    def compliance(self) -> float | None:
        return share(self.tickets - self.breached, self.tickets)


@dataclass(frozen=True)
class Speed:
    first_response: dict[str, Percentiles]  # priority or "all" -> figures
    resolution: dict[str, Percentiles]
    sla: list[SlaRow]


def nearest_rank(ordered: list[float], numerator: int, denominator: int) -> float:
    """The smallest value with at least ``numerator/denominator`` of the values at or below it."""
    rank = (len(ordered) * numerator + denominator - 1) // denominator  # ceil, in integers
    return ordered[max(rank, 1) - 1]


def _figures(seconds: list[float]) -> Percentiles:
    seconds.sort()

    def minutes(value: float) -> float:
        return round(max(value, 0.0) / 60, 1)

    return Percentiles(
        len(seconds), minutes(nearest_rank(seconds, 1, 2)), minutes(nearest_rank(seconds, 9, 10))
    )


def _by_priority(values: dict[str, list[float]]) -> dict[str, Percentiles]:
    figures = {p: _figures(values[p]) for p in PRIORITIES if values.get(p)}
    every = sorted(chain.from_iterable(values.values()))  # sorted runs: a cheap merge
    if every:
        figures[ALL] = _figures(every)
    return figures


def speed(session: Session, filters: Filters, period: Period) -> Speed:
    """First-response and resolution figures per priority and for ``all``, and SLA compliance.

    One scan: the database narrows the period's tickets and computes each one's durations
    from the covering index (a row of four small values per ticket); the order statistics are
    taken here. Exact nearest rank needs every value sorted either way, and SQLite's
    ROW_NUMBER windows (one pair per figure) cost four times this scan at 100,000 tickets.
    """
    # The page's overview and its speed section ask the same question in one request: answered
    # once per session (the web's sessions live for one request).
    memo: dict[tuple[Filters, Period], Speed] = session.info.setdefault("analytics.speed", {})
    if (filters, period) in memo:
        return memo[(filters, period)]
    rows = (
        session.connection()  # Core rows: no ORM processing per ticket
        .execute(
            select(
                raw(Ticket.priority),
                Ticket.sla_breached,
                seconds_between(session, Ticket.first_response_at, Ticket.created_at),
                seconds_between(session, Ticket.resolved_at, Ticket.created_at),
            ).where(*conditions(filters, period))
        )
        .all()
    )
    tickets = Counter(map(itemgetter(0), rows))
    breached = Counter(row[0] for row in rows if row[1])
    # One pass sorts each ticket's two durations into its priority's lists (four passes per
    # figure before); each list is then sorted, and "all" merges the sorted runs.
    waits: dict[str, list[float]] = {p: [] for p in tickets}
    fixes: dict[str, list[float]] = {p: [] for p in tickets}
    for priority, _, wait, fix in rows:
        if wait is not None:
            waits[priority].append(float(wait))
        if fix is not None:
            fixes[priority].append(float(fix))
    figures = [_by_priority(waits), _by_priority(fixes)]
    sla_rows = [SlaRow(p, tickets[p], breached[p]) for p in PRIORITIES if p in tickets]
    if sla_rows:
        sla_rows.append(
            SlaRow(ALL, sum(r.tickets for r in sla_rows), sum(r.breached for r in sla_rows))
        )
    memo[(filters, period)] = Speed(figures[0], figures[1], sla_rows)
    return memo[(filters, period)]
