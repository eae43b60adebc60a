"""Merging two customer records that are one person (an email address and a phone number).

The kept record takes the other's tickets and whatever contact details it lacks; the other
record is deleted. What it held is kept in ``customer_merges``, and each moved ticket's
activity log says where it came from, so a merge can be traced (and undone by hand).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

# Its flush hook recounts the kept customer's contact facts once the tickets have moved.
from intake.core import contact_facts  # noqa: F401
from intake.core.activity import Actor, record_event
from intake.core.db.admin_models import CustomerMerge
from intake.core.db.models import Customer, Ticket
from intake.domain import EventKind
from intake.errors import RejectedError

log = logging.getLogger(__name__)


def customer_label(customer: Customer) -> str:
    """How a customer reads in the activity log: name and contacts."""
    contacts = ", ".join(c for c in (customer.email, customer.phone) if c)
    if customer.name and contacts:
        return f"{customer.name} <{contacts}>"
    return customer.name or contacts or f"customer {customer.id}"


def merge_customers(session: Session, keep: Customer, other: Customer, by: Actor) -> CustomerMerge:
    """Move ``other``'s tickets to ``keep``, fill ``keep``'s missing details, drop ``other``."""
    if keep.id == other.id:
        raise RejectedError("a customer cannot be merged into itself")
    snapshot = {
        "email": other.email,
        "phone": other.phone,
        "name": other.name,
        "tier": other.tier,
        "first_contact_at": other.first_contact_at.isoformat(),
        "last_contact_at": other.last_contact_at.isoformat(),
    }
    old_label, new_label = customer_label(other), customer_label(keep)
    tickets = list(
        session.scalars(select(Ticket).where(Ticket.customer_id == other.id).order_by(Ticket.id))
    )
    for ticket in tickets:
        ticket.customer = keep
        record_event(
            session, ticket, EventKind.MERGE, by, field="customer", old=old_label, new=new_label
        )
    keep.first_contact_at = min(keep.first_contact_at, other.first_contact_at)
    keep.last_contact_at = max(keep.last_contact_at, other.last_contact_at)
    keep.name = keep.name or other.name
    keep.tier = keep.tier or other.tier
    email, phone, other_id = other.email, other.phone, other.id
    # Email and phone are unique: the other row must be gone before ``keep`` takes them.
    session.delete(other)
    session.flush()
    keep.email = keep.email or email
    keep.phone = keep.phone or phone
    merge = CustomerMerge(
        kept_id=keep.id,
        merged_id=other_id,
        merged=snapshot,
        ticket_ids=[t.id for t in tickets],
        user_id=by.user_id,
    )
    session.add(merge)
    session.flush()
    log.info(
        "customer %s merged into %s by %s: %d ticket(s) moved",
        other_id,
        keep.id,
        by.name,
        len(tickets),
    )
    return merge


def merges_into(session: Session, customer_id: int) -> list[CustomerMerge]:
    return list(
        session.scalars(
            select(CustomerMerge)
            .where(CustomerMerge.kept_id == customer_id)
            .order_by(CustomerMerge.at)
        )
    )
