"""Each ticket's contact facts: was it a repeat contact, and how many earlier requests came first.

A ticket is a repeat contact when its customer opened another request (a non-automatic ticket)
in the 7 days before it; ``contact_earlier`` counts the customer's earlier requests (up to
``CONTACT_EARLIER_CAP``), from which the dashboard tells a first contact from an existing or a
loyal customer. Both are stored on the ticket, so the dashboard groups by them instead of
searching every ticket's history per request.

They are kept right by a flush hook, whatever path links a ticket to its customer (new mail,
voicemail, a ticket or customer merge): when a ticket gets a customer, changes customer, turns
from automatic into a request or is deleted, the tickets of the customers concerned from that
ticket's creation on are recounted, in one set-based UPDATE per flush (for new tickets: them).
Registered on import; ``intake.core.customers`` imports it, so every process that links
customers has it. Bulk inserts that bypass the ORM call ``refresh_contacts`` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, event, func, inspect, select, text
from sqlalchemy.orm import Session

from intake.core.db.models import Customer, Ticket

log = logging.getLogger(__name__)

REPEAT_WINDOW_SECONDS = 7 * 86_400
# Enough for any loyalty threshold in practice, and a bound on the work per ticket (a customer
# with 50,000 tickets costs no more to recount than one with 1,000).
CONTACT_EARLIER_CAP = 1_000
WATCHED = ("customer", "customer_id", "automatic", "created_at")

_tickets: Table = Ticket.__table__  # type: ignore[assignment]  # declared with a Table
_earlier = _tickets.alias("earlier")


def _epoch(postgres: bool, column: Any) -> ColumnElement[Any]:
    if postgres:
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86_400


# Every customer's requests at once: one sort by customer and time, with window functions,
# instead of two index searches per ticket (PostgreSQL took 83 s for 100,000 tickets that way).
# RANK counts the strictly earlier requests (ties share a rank); the MAX that excludes the
# current row's peers is the latest strictly earlier one. The same definitions as below.
_ALL_SQL = """
UPDATE tickets SET repeat_contact = facts.repeat_contact, contact_earlier = facts.contact_earlier
FROM (
  SELECT id,
    CASE WHEN ranked - 1 > :cap THEN :cap ELSE ranked - 1 END AS contact_earlier,
    COALESCE({epoch_created} - {epoch_previous} <= :window, false) AS repeat_contact
  FROM (
    SELECT id, created_at,
      RANK() OVER (PARTITION BY customer_id ORDER BY created_at) AS ranked,
      MAX(created_at) OVER (
        PARTITION BY customer_id ORDER BY created_at
        RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP
      ) AS previous_at
    FROM tickets
    WHERE customer_id IS NOT NULL AND automatic = false
  ) AS history
) AS facts
WHERE tickets.id = facts.id
  AND (tickets.repeat_contact <> facts.repeat_contact
       OR tickets.contact_earlier <> facts.contact_earlier)
"""


def refresh_all_contacts(connection: Connection) -> int:
    """Recount every request's contact facts (bulk seeding; the migration has its own copy).

    Returns the number of tickets whose facts changed.
    """
    if connection.dialect.name == "postgresql":
        epochs = {
            "epoch_created": "extract(epoch FROM created_at)",
            "epoch_previous": "extract(epoch FROM previous_at)",
        }
    else:
        epochs = {
            "epoch_created": "(julianday(created_at) - 2440587.5) * 86400",
            "epoch_previous": "(julianday(previous_at) - 2440587.5) * 86400",
        }
    result = connection.execute(
        text(_ALL_SQL.format(**epochs)),
        {"cap": CONTACT_EARLIER_CAP, "window": REPEAT_WINDOW_SECONDS},
    )
    return int(result.rowcount or 0)


def refresh_contacts(
    connection: Connection,
    customer_ids: Collection[int] | None = None,
    since: datetime | None = None,
) -> int:
    """Recount the contact facts of these customers' requests created at or after ``since``.

    Without ``customer_ids``: every customer's (``refresh_all_contacts``).
    Returns the number of tickets updated.
    """
    if customer_ids is None:
        return refresh_all_contacts(connection)
    postgres = connection.dialect.name == "postgresql"
    before_this = (
        _earlier.c.customer_id == _tickets.c.customer_id,
        _earlier.c.created_at < _tickets.c.created_at,
        _earlier.c.automatic.is_(False),
    )
    # Both read the customer's earlier tickets backwards in ix_tickets_customer_created and stop
    # early: the latest one, and at most CONTACT_EARLIER_CAP of them.
    previous_at = (
        select(_earlier.c.created_at)
        .where(*before_this)
        .order_by(_earlier.c.customer_id.desc(), _earlier.c.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    earlier_count = (
        select(func.count())
        .select_from(
            select(_earlier.c.id)
            .where(*before_this)
            .correlate(_tickets)
            .limit(CONTACT_EARLIER_CAP)
            .subquery()
        )
        .scalar_subquery()
    )
    gap = _epoch(postgres, _tickets.c.created_at) - _epoch(postgres, previous_at)
    where: list[ColumnElement[bool]] = [
        _tickets.c.automatic.is_(False),
        _tickets.c.customer_id.in_(sorted(customer_ids)),
    ]
    if since is not None:
        where.append(_tickets.c.created_at >= since)
    result = connection.execute(
        _tickets.update()
        .where(*where)
        .values(
            repeat_contact=func.coalesce(gap <= REPEAT_WINDOW_SECONDS, False),
            contact_earlier=earlier_count,
        )
    )
    return int(result.rowcount or 0)


def _changed(row: object) -> bool:
    touched = inspect(row).committed_state
    return any(name in touched for name in WATCHED)


def _old_customer(row: Ticket) -> int | None:
    """The customer a ticket had before this flush, where it had another one."""
    touched = inspect(row).committed_state
    old = touched.get("customer_id")
    if isinstance(old, int):
        return old
    old_customer = touched.get("customer")
    return old_customer.id if isinstance(old_customer, Customer) else None


def _scopes(session: Session) -> dict[int, datetime]:
    """Customer id -> earliest creation time from which its tickets' facts may have changed."""
    scopes: dict[int, datetime] = {}

    def add(customer_id: int | None, since: datetime | None) -> None:
        if customer_id is None or since is None:
            return
        if customer_id not in scopes or since < scopes[customer_id]:
            scopes[customer_id] = since

    for row in session.new:
        if isinstance(row, Ticket) and row.customer_id is not None:
            add(row.customer_id, row.created_at)
    for row in session.dirty:
        if isinstance(row, Ticket) and _changed(row):
            old_created = inspect(row).committed_state.get("created_at")
            since = row.created_at
            if isinstance(old_created, datetime) and old_created < since:
                since = old_created
            add(row.customer_id, since)
            add(_old_customer(row), since)
    for row in session.deleted:
        if isinstance(row, Ticket):
            add(row.customer_id, row.created_at)
    return scopes


@event.listens_for(Session, "after_flush")
def _keep_contact_facts(session: Session, _context: Any) -> None:
    scopes = _scopes(session)
    if not scopes:
        return
    connection = session.connection()
    # One statement for the flush (a batch of new tickets is one UPDATE, not one per customer);
    # from the earliest change on: recounting a later ticket again is harmless.
    refresh_contacts(connection, scopes.keys(), min(scopes.values()))
    # The rows in this session still hold the values from before the UPDATE: reload on access.
    stale: list[Ticket] = session.info.setdefault("contact_facts.stale", [])
    stale.extend(
        row
        for row in (*session.new, *session.dirty)
        if isinstance(row, Ticket) and row.customer_id in scopes
    )


@event.listens_for(Session, "after_flush_postexec")
def _expire_contact_facts(session: Session, _context: Any) -> None:
    stale: list[Ticket] | None = session.info.pop("contact_facts.stale", None)
    for row in stale or ():
        if inspect(row).persistent:
            session.expire(row, ["repeat_contact", "contact_earlier"])
