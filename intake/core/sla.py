"""Service-level clocks: which policy a ticket is under, when it is due, pauses and breaches.

The arithmetic is in ``intake.core.sla_clock`` and ``intake.core.business_hours``; this module
maps rows onto it. A ticket has two targets, both counted in business time from its creation:
the first response (the first reply sent or call-back logged, ``tickets.record_first_response``)
and the resolution. The clock stands still while the ticket is ``pending`` (waiting on the
customer) or ``resolved``.

The clock is kept right wherever a ticket changes, whoever changes it: a status change records a
pause or its end as it happens, and before each flush every ticket whose status, priority, first
response, resolution or customer changed (and every open ticket of a customer whose tier
changed) has its due times computed again. Policy and calendar edits call
``recompute_open_tickets``. A new ticket gets its clock at its first flush unless it was given a
due time.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import NO_VALUE, Session, selectinload

from intake.core import read_once
from intake.core.activity import Actor, record_event
from intake.core.business_hours import (
    AROUND_THE_CLOCK,
    WEEKDAYS,
    Calendar,
    Pause,
    add_business_time,
    parse_holidays,
    parse_spans,
)
from intake.core.db.admin_models import BusinessCalendar, SlaPolicy
from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Ticket
from intake.core.sla_clock import SlaClock, SlaTerms, compute_clock, next_check
from intake.domain import EventKind, Priority, SlaState, TicketStatus

log = logging.getLogger(__name__)

# Business minutes to first response and to resolution, used until an admin sets policies.
DEFAULT_FIRST_RESPONSE_MINUTES = {
    Priority.URGENT: 60,
    Priority.HIGH: 4 * 60,
    Priority.MEDIUM: 24 * 60,
    Priority.LOW: 72 * 60,
}
DEFAULT_RESOLUTION_MINUTES: dict[Priority, int | None] = {
    Priority.URGENT: 24 * 60,
    Priority.HIGH: 3 * 24 * 60,
    Priority.MEDIUM: 5 * 24 * 60,
    Priority.LOW: 10 * 24 * 60,
}
# The clock stands still in these states.
STOPPED = frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED})
# What a ticket's due times depend on: a change to any of them recomputes the clock.
DEPENDS_ON = ("status", "priority", "first_response_at", "resolved_at", "customer_id", "customer")


def calendar_of(row: BusinessCalendar | None) -> Calendar:
    """The arithmetic's calendar for a stored one (around the clock for none)."""
    if row is None:
        return AROUND_THE_CLOCK
    hours = row.hours or {}
    return Calendar(
        timezone=row.timezone,
        weekly=tuple(parse_spans(", ".join(hours.get(str(d), []))) for d in range(len(WEEKDAYS))),
        holidays=parse_holidays("\n".join(row.holidays or [])),
    )


def policy_for(session: Session, priority: Priority, tier: str | None) -> SlaPolicy | None:
    """The tier's own policy for this priority, else the one for every customer."""
    tiers = [tier.lower(), ""] if tier else [""]
    policies = {
        p.tier: p
        for p in session.scalars(
            select(SlaPolicy).where(SlaPolicy.priority == priority, SlaPolicy.tier.in_(tiers))
        )
    }
    return next((policies[t] for t in tiers if t in policies), None)


# Terms by (priority, tier) within one recomputation of many tickets: a policy is read once.
TermsCache = dict[tuple[Priority, str], SlaTerms]


def terms_for(
    session: Session, priority: Priority, tier: str | None = None, cache: TermsCache | None = None
) -> SlaTerms:
    key = (priority, (tier or "").lower())
    if cache is not None and key in cache:
        return cache[key]
    terms = _read_terms(session, priority, tier)
    if cache is not None:
        cache[key] = terms
    return terms


def _read_terms(session: Session, priority: Priority, tier: str | None) -> SlaTerms:
    policy = policy_for(session, priority, tier)
    if policy is None:
        resolution = DEFAULT_RESOLUTION_MINUTES[priority]
        return SlaTerms(
            first_response=timedelta(minutes=DEFAULT_FIRST_RESPONSE_MINUTES[priority]),
            resolution=timedelta(minutes=resolution) if resolution else None,
            calendar=AROUND_THE_CLOCK,
        )
    return SlaTerms(
        first_response=timedelta(minutes=policy.first_response_minutes),
        resolution=(
            timedelta(minutes=policy.resolution_minutes) if policy.resolution_minutes else None
        ),
        calendar=calendar_of(policy.calendar),
        policy_id=policy.id,
        calendar_name=policy.calendar.name if policy.calendar else "around the clock",
    )


def first_response_due(
    session: Session, priority: Priority, created_at: datetime, tier: str | None = None
) -> datetime:
    """When a ticket created at ``created_at`` must have its first response, never paused."""
    terms = terms_for(session, priority, tier)
    due = add_business_time(terms.calendar, created_at, terms.first_response)
    assert due is not None  # only a pause without an end leaves no due time
    return due


def pauses_of(ticket: Ticket) -> list[Pause]:
    return [
        Pause(datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
        for start, end in ticket.sla_pauses or []
    ]


def _stopped(status: Any) -> bool:
    return status is not None and status is not NO_VALUE and TicketStatus(status) in STOPPED


@event.listens_for(Ticket.status, "set")
def _pause_or_resume(ticket: Ticket, new: Any, old: Any, _initiator: Any) -> None:
    """Record, as it happens, when the clock stops (pending, resolved) and runs again."""
    was, now_stopped = _stopped(old), _stopped(new)
    if was == now_stopped:
        return
    moment = utcnow().isoformat()
    pauses = [list(p) for p in ticket.sla_pauses or []]
    if now_stopped:
        pauses.append([moment, None])
    elif pauses and pauses[-1][1] is None:
        pauses[-1][1] = moment
    ticket.sla_pauses = pauses


def _ensure_pause_matches_status(ticket: Ticket) -> None:
    # Tickets stopped before the clock kept pauses (or set without the ORM) get theirs now.
    pauses = ticket.sla_pauses or []
    open_pause = bool(pauses) and pauses[-1][1] is None
    if _stopped(ticket.status) and not open_pause:
        since = ticket.resolved_at or ticket.updated_at or utcnow()
        ticket.sla_pauses = [*pauses, [since.isoformat(), None]]
    elif not _stopped(ticket.status) and open_pause:
        ticket.sla_pauses = [*pauses[:-1], [pauses[-1][0], utcnow().isoformat()]]


def recompute(
    session: Session,
    ticket: Ticket,
    now: datetime | None = None,
    cache: TermsCache | None = None,
) -> SlaClock:
    """Set the ticket's SLA columns from its policy, calendar and pauses, as of ``now``."""
    now = now or utcnow()
    _ensure_pause_matches_status(ticket)
    # No autoflush here: a flush now would recompute this very ticket (before_flush) midway.
    with session.no_autoflush:
        tier = ticket.customer.tier if ticket.customer is not None else None
        terms = terms_for(session, Priority(ticket.priority or Priority.MEDIUM), tier, cache)
    resolved_at = ticket.resolved_at if ticket.status == TicketStatus.RESOLVED else None
    clock = compute_clock(
        terms,
        ticket.created_at or now,
        pauses_of(ticket),
        # Resolved without a reply (solved on the phone, say): resolving answered it.
        ticket.first_response_at or resolved_at,
        resolved_at,
        now,
    )
    upcoming = clock.next
    ticket.sla_due_at = upcoming.due_at if upcoming else None
    ticket.sla_warning_at = upcoming.warning_at if upcoming else None
    pending = upcoming or clock.pending
    ticket.sla_target = pending.target if pending else None
    ticket.sla_breached = clock.breached
    ticket.sla_check_at = next_check(ticket.sla_notified or [], clock)
    return clock


def sla_state(ticket: Ticket, now: datetime | None = None) -> SlaState:
    """How the ticket stands against its current target, from its columns alone."""
    now = now or utcnow()
    if ticket.status == TicketStatus.RESOLVED or ticket.sla_target is None:
        return SlaState.MET
    if ticket.status == TicketStatus.PENDING or ticket.sla_due_at is None:
        return SlaState.PAUSED
    if ticket.sla_due_at <= now:
        return SlaState.BREACHED
    if ticket.sla_warning_at is not None and ticket.sla_warning_at <= now:
        return SlaState.WARNING
    return SlaState.OK


def recompute_and_log(
    session: Session,
    ticket: Ticket,
    by: Actor,
    now: datetime | None = None,
    cache: TermsCache | None = None,
) -> bool:
    """Recompute, and log a moved due time in the activity log; True when it moved."""
    old = ticket.sla_due_at
    recompute(session, ticket, now, cache)
    if old is not None and ticket.sla_due_at is not None and old != ticket.sla_due_at:
        record_event(
            session, ticket, EventKind.SLA, by, field="sla_due_at", old=old, new=ticket.sla_due_at
        )
        return True
    return False


def recompute_open_tickets(
    session: Session,
    by: Actor,
    priorities: Collection[Priority] | None = None,
    batch: int = 500,
) -> int:
    """After a policy or calendar change: the unresolved tickets' due times (only those of
    ``priorities`` when given: the policies that changed); returns how many moved."""
    open_ids = select(Ticket.id).where(Ticket.status != TicketStatus.RESOLVED)
    if priorities is not None:
        open_ids = open_ids.where(Ticket.priority.in_(list(priorities)))
    ids = list(session.scalars(open_ids.order_by(Ticket.id)))
    moved = 0
    now = utcnow()
    cache: TermsCache = {}
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        query = select(Ticket).where(Ticket.id.in_(chunk)).options(selectinload(Ticket.customer))
        for ticket in session.scalars(query):
            moved += recompute_and_log(session, ticket, by, now, cache)
        session.flush()
    log.info("SLA due times recomputed for %d open tickets, %d moved", len(ids), moved)
    return moved


def _changed(row: object, names: Iterable[str]) -> bool:
    """Whether any of ``names`` was set since the row was loaded (cheaper than its history)."""
    touched = inspect(row).committed_state
    return any(name in touched for name in names)


@event.listens_for(Session, "before_flush")
def _keep_clocks_right(session: Session, _context: Any, _instances: Any) -> None:
    tickets: dict[int, Ticket] = {}
    with session.no_autoflush:
        for row in session.new:
            if isinstance(row, Ticket) and row.sla_due_at is None and row.sla_target is None:
                tickets[id(row)] = row
        for row in session.dirty:
            if isinstance(row, Ticket) and _changed(row, DEPENDS_ON):
                tickets[id(row)] = row
            elif isinstance(row, Customer) and _changed(row, ("tier",)) and row.id is not None:
                for ticket in session.scalars(
                    select(Ticket).where(
                        Ticket.customer_id == row.id, Ticket.status != TicketStatus.RESOLVED
                    )
                ):
                    tickets[id(ticket)] = ticket
        now = utcnow()
        # Once per flush, or once per transaction in a batch job's session (read_once).
        cache: TermsCache = read_once.read(session, "sla_terms", dict)
        for ticket in tickets.values():
            if ticket.id is None:
                recompute(session, ticket, now, cache)
            else:
                recompute_and_log(session, ticket, Actor.SYSTEM, now, cache)
