"""Who contacts the team: repeat contacts within 7 days, the customer type and tier mix, ratings.

A ticket is a repeat contact when the same customer opened another ticket in the 7 days before
it. The customer type is the one the ticket had when it came in: ``potential`` for a first
contact, ``loyal`` with enough earlier tickets and a first contact long enough ago (the
``INTAKE_LOYAL_*`` thresholds, applied when the page is asked for), ``existing`` otherwise.
Each ticket stores its part of that history when it gets its customer (``contact_facts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from intake.core.analytics import (
    DAY_SECONDS,
    Filters,
    Period,
    TimeSeries,
    conditions,
    day_key,
    day_of,
    room_to_hash,
    seconds_between,
    when,
)
from intake.core.contact_facts import CONTACT_EARLIER_CAP
from intake.core.db.analytics_models import TicketRating
from intake.core.db.models import Customer, Ticket, User
from intake.domain import CustomerType

RATINGS = ("good", "okay", "bad")


@dataclass(frozen=True)
class Customers:
    repeats: TimeSeries  # "tickets" and "repeat contacts" per day
    types: dict[str, int]  # customer type at contact -> tickets
    tiers: dict[str, int]  # tier ("none" without one) -> tickets

    @property
    def repeat_total(self) -> int:
        return sum(self.repeats.series["repeat contacts"])


def customers(
    session: Session,
    filters: Filters,
    period: Period,
    loyal_min_tickets: int = 5,
    loyal_min_days: int = 180,
) -> Customers:
    """Repeat contacts per day and the type and tier mix.

    The contact history is stored on each ticket (``intake.core.contact_facts``), so the
    per-day figures and the first contacts come from the period's index alone; only the
    tickets that could be loyal read their customer's first contact, and only customers with
    a tier are joined for the tier mix (PostgreSQL hashed every customer for each request).
    """
    room_to_hash(session)
    where = conditions(filters, period)
    # At most CONTACT_EARLIER_CAP earlier requests are counted: a higher threshold counts as it.
    needed = min(max(loyal_min_tickets - 1, 1), CONTACT_EARLIER_CAP)
    day = day_of(session, Ticket.created_at)
    connection = session.connection()  # Core rows: no ORM processing
    tickets: dict[str, int] = {}
    repeats: dict[str, int] = {}
    total = first = 0
    for day_value, count, repeated, first_contacts in connection.execute(
        select(
            day,
            func.count(),
            func.sum(when(Ticket.repeat_contact.is_(True))),
            func.sum(when(Ticket.contact_earlier == 0)),
        )
        .where(*where)
        .group_by(day)
    ):
        key = day_key(day_value)
        tickets[key] = tickets.get(key, 0) + count
        repeats[key] = repeats.get(key, 0) + (repeated or 0)
        total += count
        first += first_contacts or 0
    since_first = seconds_between(session, Ticket.created_at, Customer.first_contact_at)
    loyal = (
        connection.scalar(
            select(func.count())
            .select_from(Ticket)
            .join(Customer, Customer.id == Ticket.customer_id)
            .where(
                *where,
                Ticket.contact_earlier >= needed,
                since_first >= loyal_min_days * DAY_SECONDS,
            )
        )
        or 0
    )
    types = {
        CustomerType.POTENTIAL.value: first,
        CustomerType.EXISTING.value: total - first - loyal,
        CustomerType.LOYAL.value: loyal,
    }
    tiers: dict[str, int] = {
        str(name): count
        for name, count in connection.execute(
            select(Customer.tier, func.count())
            .select_from(Ticket)
            .join(Customer, (Customer.id == Ticket.customer_id) & Customer.tier.is_not(None))
            .where(*where)
            .group_by(Customer.tier)
        )
    }
    if total > sum(tiers.values()):
        tiers["none"] = total - sum(tiers.values())
    days = [d.isoformat() for d in period.day_list()]
    return Customers(
        TimeSeries(
            days,
            {
                "tickets": [tickets.get(d, 0) for d in days],
                "repeat contacts": [repeats.get(d, 0) for d in days],
            },
        ),
        types,
        dict(sorted(tiers.items(), key=lambda item: (-item[1], item[0]))),
    )


@dataclass(frozen=True)
class RatingRow:
    key: str
    good: int
    okay: int
    bad: int

    @property
    def total(self) -> int:
        return self.good + self.okay + self.bad

    @property
    def score(self) -> float | None:
        """Share of good minus share of bad, from -1 to 1 (net satisfaction)."""
        return round((self.good - self.bad) / self.total, 3) if self.total else None


@dataclass(frozen=True)
class Ratings:
    by_topic: list[RatingRow]
    by_agent: list[RatingRow]
    by_channel: list[RatingRow]

    @property
    def total(self) -> int:
        return sum(row.total for row in self.by_channel)


def ratings(session: Session, filters: Filters, period: Period) -> Ratings:
    """Ratings given in the period, of tickets matching the filter, per topic, agent and channel."""
    where = [
        *conditions(filters),
        TicketRating.rated_at >= period.start,
        TicketRating.rated_at < period.end,
    ]

    def grouped(key: InstrumentedAttribute[Any]) -> list[RatingRow]:
        query = (
            select(key, TicketRating.rating, func.count())
            .select_from(Ticket)
            .join(TicketRating, TicketRating.ticket_id == Ticket.id)
        )
        if key is User.email:
            query = query.outerjoin(User, User.id == Ticket.assignee_id)
        query = query.where(*where).group_by(key, TicketRating.rating)
        table: dict[str, dict[str, int]] = {}
        for name, rating, count in session.execute(query):
            table.setdefault(str(name) if name is not None else "none", {})[rating] = count
        rows = [RatingRow(name, *(c.get(r, 0) for r in RATINGS)) for name, c in table.items()]
        return sorted(rows, key=lambda row: (-row.total, row.key))

    return Ratings(grouped(Ticket.category), grouped(User.email), grouped(Ticket.channel))
