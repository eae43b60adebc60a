"""Speed figures: first-response and resolution times (median, p90) and SLA compliance.

Percentiles are exact nearest-rank values (the smallest time at or above the share), computed by
the database with ROW_NUMBER over the period's tickets, so both databases give the same numbers
and only a few rows come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.orm import Session

from intake.core.analytics import Filters, Period, conditions, epoch_of, share, when
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


def _nearest_rank(n: Any, numerator: int, denominator: int) -> ColumnElement[Any]:
    # ceil(n * share) in integer arithmetic: SQLite has no portable ceil().
    rank: ColumnElement[Any] = (n * numerator + denominator - 1) // denominator
    return rank


def percentiles(
    session: Session, filters: Filters, period: Period, until: Any, by_priority: bool
) -> dict[str, Percentiles]:
    """Median and p90 of ``until - created_at`` for the period's tickets that have ``until``."""
    seconds = epoch_of(session, until) - epoch_of(session, Ticket.created_at)
    key = Ticket.priority if by_priority else literal(ALL)
    ranked = (
        select(
            key.label("key"),
            seconds.label("seconds"),
            func.row_number().over(partition_by=key, order_by=seconds).label("rank"),
            func.count().over(partition_by=key).label("n"),
        )
        .where(*conditions(filters, period), until.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.key, ranked.c.n, ranked.c.rank, ranked.c.seconds).where(
            or_(
                ranked.c.rank == _nearest_rank(ranked.c.n, 1, 2),
                ranked.c.rank == _nearest_rank(ranked.c.n, 9, 10),
            )
        )
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for key_value, n, rank, value in rows:
        entry = found.setdefault(str(key_value), {"n": n})
        minutes = round(max(float(value), 0.0) / 60, 1)
        if rank == (n + 1) // 2:
            entry["median"] = minutes
        if rank == (9 * n + 9) // 10:
            entry["p90"] = minutes
    return {
        key: Percentiles(entry["n"], entry.get("median"), entry.get("p90"))
        for key, entry in found.items()
    }


def _by_priority(found: dict[str, Percentiles]) -> dict[str, Percentiles]:
    return {p: found[p] for p in PRIORITIES if p in found}


def sla_compliance(session: Session, filters: Filters, period: Period) -> list[SlaRow]:
    """Per priority: the period's tickets, and how many missed a service-level target so far."""
    rows = session.execute(
        select(Ticket.priority, func.count(), func.sum(when(Ticket.sla_breached.is_(True))))
        .where(*conditions(filters, period))
        .group_by(Ticket.priority)
    ).all()
    counts = {str(priority): (n, breached or 0) for priority, n, breached in rows}
    result = [SlaRow(p, *counts[p]) for p in PRIORITIES if p in counts]
    if result:
        result.append(SlaRow(ALL, sum(r.tickets for r in result), sum(r.breached for r in result)))
    return result


def speed(session: Session, filters: Filters, period: Period) -> Speed:
    first_response = _by_priority(
        percentiles(session, filters, period, Ticket.first_response_at, by_priority=True)
    )
    first_response.update(
        percentiles(session, filters, period, Ticket.first_response_at, by_priority=False)
    )
    resolution = _by_priority(
        percentiles(session, filters, period, Ticket.resolved_at, by_priority=True)
    )
    resolution.update(percentiles(session, filters, period, Ticket.resolved_at, by_priority=False))
    return Speed(first_response, resolution, sla_compliance(session, filters, period))
