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

from sqlalchemy import case, func, select
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
    """Repeat contacts per day and the type and tier mix, from one GROUP BY.

    The contact history is stored on each ticket (``intake.core.contact_facts``): the only
    per-ticket work left is the customer's row, for the tier and the loyal rule's first contact.
    """
    room_to_hash(session)
    # At most CONTACT_EARLIER_CAP earlier requests are counted: a higher threshold counts as it.
    needed = min(max(loyal_min_tickets - 1, 1), CONTACT_EARLIER_CAP)
    since_first = seconds_between(session, Ticket.created_at, Customer.first_contact_at)
    kind = case(
        (Ticket.contact_earlier == 0, CustomerType.POTENTIAL.value),
        (
            (Ticket.contact_earlier >= needed) & (since_first >= loyal_min_days * DAY_SECONDS),
            CustomerType.LOYAL.value,
        ),
        else_=CustomerType.EXISTING.value,
    ).label("kind")
    day = day_of(session, Ticket.created_at).label("day")
    tier = func.coalesce(Customer.tier, "none").label("tier")
    rows = (
        session.connection()  # Core rows: no ORM processing for the groups
        .execute(
            select(day, tier, kind, func.count(), func.sum(when(Ticket.repeat_contact.is_(True))))
            .select_from(Ticket)
            .outerjoin(Customer, Customer.id == Ticket.customer_id)
            .where(*conditions(filters, period))
            .group_by(day, tier, kind)
        )
        .all()
    )
    tickets: dict[str, int] = {}
    repeats: dict[str, int] = {}
    types: dict[str, int] = {k.value: 0 for k in CustomerType}
    tiers: dict[str, int] = {}
    for day_value, tier_name, type_name, count, repeated in rows:
        key = day_key(day_value)
        tickets[key] = tickets.get(key, 0) + count
        repeats[key] = repeats.get(key, 0) + (repeated or 0)
        types[type_name] = types.get(type_name, 0) + count
        tiers[tier_name] = tiers.get(tier_name, 0) + count
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
