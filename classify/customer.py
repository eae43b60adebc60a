"""Customer type from contact history: potential (first contact), existing, loyal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from intake.domain import CustomerType


@dataclass(frozen=True)
class LoyaltyThresholds:
    """A customer is loyal with at least this many tickets, the first at least this long ago."""

    loyal_min_tickets: int = 5
    loyal_min_days: int = 180

    def __post_init__(self) -> None:
        if self.loyal_min_tickets < 2:
            raise ValueError("loyal_min_tickets must be at least 2")
        if self.loyal_min_days < 0:
            raise ValueError("loyal_min_days must not be negative")


def customer_type(
    ticket_count: int,
    first_contact_at: datetime | None,
    now: datetime,
    thresholds: LoyaltyThresholds = LoyaltyThresholds(),  # frozen, safe to share
) -> CustomerType:
    """Classify a customer by history.

    ``ticket_count`` counts the customer's tickets including the current one, so 1 (or 0 for a
    caller who has no stored history yet) means this is the first contact.
    """
    if ticket_count <= 1 or first_contact_at is None:
        return CustomerType.POTENTIAL
    days = (_aware(now) - _aware(first_contact_at)).total_seconds() / 86400
    if ticket_count >= thresholds.loyal_min_tickets and days >= thresholds.loyal_min_days:
        return CustomerType.LOYAL
    return CustomerType.EXISTING


def _aware(moment: datetime) -> datetime:
    # Databases hand back naive UTC datetimes (SQLite) or aware ones (PostgreSQL); comparing the
    # two raises, so naive values are read as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
