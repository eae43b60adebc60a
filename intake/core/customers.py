"""Find or create the Customer behind an email address or phone number."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from classify.customer import LoyaltyThresholds

# Registers the flush hook that keeps each ticket's contact facts when it gets its customer.
from intake.core import contact_facts  # noqa: F401
from intake.core.app_settings import app_setting, save_app_setting
from intake.core.db.models import Customer, Ticket
from intake.core.settings import Settings
from intake.errors import RejectedError

# app_settings key of the admin's domain → tier map (e.g. every @bigcorp.example is "vip").
TIER_DOMAINS = "tier_domains"


def normalize_email(address: str) -> str:
    return address.strip().lower()


def normalize_phone(raw: str, default_region: str | None = "US") -> str | None:
    """E.164 form of a caller number, or None when it is not a phone number (e.g. 'anonymous')."""
    candidate = raw.strip()
    if not candidate or not any(ch.isdigit() for ch in candidate):
        return None
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(
            candidate, None if candidate.startswith("+") else default_region
        )
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _get_or_create(session: Session, column: str, value: str, name: str, at: datetime) -> Customer:
    attribute = getattr(Customer, column)
    # Look up what will be stored: over-long values are cut to the column (see db.base).
    value = value[: attribute.type.length]
    customer = session.scalar(select(Customer).where(attribute == value))
    if customer is None:
        # A concurrent job may create the same customer: the savepoint lets us recover.
        try:
            with session.begin_nested():
                customer = Customer(name=name, first_contact_at=at, last_contact_at=at)
                setattr(customer, column, value)
                session.add(customer)
        except IntegrityError:
            customer = session.scalar(select(Customer).where(attribute == value))
            assert customer is not None
    _contacted(customer, name, at)
    return customer


def _contacted(customer: Customer, name: str, at: datetime) -> None:
    if name and not customer.name:
        customer.name = name
    if at > customer.last_contact_at:
        customer.last_contact_at = at
    if at < customer.first_contact_at:
        customer.first_contact_at = at


def _with_tier(session: Session, customer: Customer, address: str) -> Customer:
    if customer.tier is None:
        tier = tier_domains(session).get(address.rpartition("@")[2].lower())
        # Only a tier found is written: assigning None again was an UPDATE per message (and
        # made the SLA hook look for the customer's open tickets).
        if tier is not None:
            customer.tier = tier
    return customer


def customer_for_email(session: Session, address: str, name: str, at: datetime) -> Customer:
    customer = _get_or_create(session, "email", normalize_email(address), name, at)
    return _with_tier(session, customer, address)


def customers_for_emails(
    session: Session, senders: Sequence[tuple[str, str, datetime]]
) -> list[Customer]:
    """``customer_for_email`` for each ``(address, name, at)`` of a batch, in order: one query
    for the stored customers and one savepoint for the new ones, instead of a query, a
    savepoint and two flushes a message."""
    length = Customer.email.type.length
    keys = [normalize_email(address)[:length] for address, _, _ in senders]
    found = {
        c.email: c for c in session.scalars(select(Customer).where(Customer.email.in_(set(keys))))
    }
    new: dict[str, Customer] = {}
    for key, (_, name, at) in zip(keys, senders, strict=True):
        if key not in found and key not in new:
            new[key] = Customer(email=key, name=name, first_contact_at=at, last_contact_at=at)
    if new:
        try:
            with session.begin_nested():
                session.add_all(new.values())
        except IntegrityError:
            # A concurrent job created one of them: each on its own, which recovers from that.
            return [customer_for_email(session, *sender) for sender in senders]
        found.update(new)
    customers = []
    for key, (address, name, at) in zip(keys, senders, strict=True):
        _contacted(found[key], name, at)
        customers.append(_with_tier(session, found[key], address))
    return customers


def tier_domains(session: Session) -> dict[str, str]:
    return dict(app_setting(session, TIER_DOMAINS).get("domains", {}))


def parse_tier_domains(text: str) -> dict[str, str]:
    """``domain = tier`` per line (blank lines and ``#`` comments ignored)."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        domain, sep, tier = (part.strip().lower() for part in line.partition("="))
        if not sep or not domain or not tier or "@" in domain or " " in domain:
            raise RejectedError(
                "line {number}: write 'domain = tier', e.g. 'bigcorp.com = vip'", number=number
            )
        mapping[domain] = tier[:40]
    return mapping


def save_tier_domains(session: Session, mapping: dict[str, str]) -> None:
    save_app_setting(session, TIER_DOMAINS, {"domains": mapping})


def loyalty_thresholds(settings: Settings) -> LoyaltyThresholds:
    return LoyaltyThresholds(settings.loyal_min_tickets, settings.loyal_min_days)


def customer_for_phone(session: Session, e164: str, name: str, at: datetime) -> Customer:
    return _get_or_create(session, "phone", e164, name, at)


def ticket_count(session: Session, customer_id: int) -> int:
    """Customer requests so far (auto-replies and bounces are not requests)."""
    return (
        session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.customer_id == customer_id, Ticket.automatic.is_(False)
            )
        )
        or 0
    )
