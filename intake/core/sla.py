"""Service-level clocks: which policy a ticket is under, when it is due, pauses and breaches.

The arithmetic is in ``intake.core.business_hours``; this module maps rows onto it. A ticket has
two targets, both counted in business time from its creation: the first response (the first
reply sent or call-back logged, ``tickets.record_first_response``) and the resolution. The clock
stands still while the ticket is ``pending`` (waiting on the customer) or ``resolved``.

The clock is kept right wherever a ticket changes, whoever changes it: a status change records a
pause or its end as it happens, and before each flush every ticket whose status, priority, first
response, resolution or customer changed (and every open ticket of a customer whose tier
changed) has its due times computed again. Policy and calendar edits call
``recompute_open_tickets``. A new ticket gets its clock at its first flush unless it was given a
due time.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import NO_VALUE, Session, selectinload

from intake.core.activity import Actor, record_event
from intake.core.business_hours import (
    AROUND_THE_CLOCK,
    WEEKDAYS,
    Calendar,
    Pause,
    add_business_time,
    add_business_times,
    parse_holidays,
    parse_spans,
)
from intake.core.db.models import BusinessCalendar, Customer, SlaPolicy, Ticket, utcnow
from intake.domain import EventKind, Priority, SlaState, SlaTarget, TicketStatus

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
# Near breach: this share of a target's business time has elapsed.
WARNING_FRACTION = 0.8
# The clock stands still in these states.
STOPPED = frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED})
# What a ticket's due times depend on: a change to any of them recomputes the clock.
DEPENDS_ON = ("status", "priority", "first_response_at", "resolved_at", "customer_id", "customer")


@dataclass(frozen=True)
class SlaTerms:
    """The targets a ticket is held to, and the hours they count in."""

    first_response: timedelta
    resolution: timedelta | None
    calendar: Calendar
    policy_id: int | None = None
    calendar_name: str = "around the clock"


@dataclass(frozen=True)
class TargetClock:
    target: SlaTarget
    due_at: datetime | None  # None: met, or the clock stands still before it came due
    warning_at: datetime | None
    met_at: datetime | None
    breached: bool


@dataclass(frozen=True)
class Notice:
    """A warning or breach notice the watcher owes for one target."""

    clock: TargetClock
    breached: bool

    @property
    def marks(self) -> list[str]:
        """What ``Ticket.sla_notified`` records once it is sent (a breach covers its warning)."""
        warning = f"warning:{self.clock.target}"
        return [warning, f"breach:{self.clock.target}"] if self.breached else [warning]


@dataclass(frozen=True)
class SlaClock:
    targets: tuple[TargetClock, ...]
    paused: bool

    @property
    def next(self) -> TargetClock | None:
        """The unmet target due first (None when all are met or the clock stands still)."""
        due = [(t.due_at, t) for t in self.targets if t.met_at is None and t.due_at is not None]
        return min(due, key=lambda pair: pair[0])[1] if due else None

    @property
    def pending(self) -> TargetClock | None:
        """The first target still to meet, due or not (shown while the clock is paused)."""
        return next((t for t in self.targets if t.met_at is None), None)

    @property
    def breached(self) -> bool:
        return any(t.breached for t in self.targets)


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


def _target_clock(
    target: SlaTarget,
    terms: SlaTerms,
    allowed: timedelta,
    start: datetime,
    pauses: Sequence[Pause],
    met_at: datetime | None,
    now: datetime,
) -> TargetClock:
    due, warning = add_business_times(
        terms.calendar, start, [allowed, allowed * WARNING_FRACTION], pauses
    )
    if due is None:
        breached = False
    elif met_at is not None:
        breached = met_at > due
    else:
        breached = due <= now
    return TargetClock(target, due, warning, met_at, breached)


def compute_clock(
    terms: SlaTerms,
    created_at: datetime,
    pauses: Sequence[Pause],
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
) -> SlaClock:
    """Both targets of a ticket, as of ``now``: pure, given its terms and its pauses."""
    targets = [
        _target_clock(
            SlaTarget.FIRST_RESPONSE,
            terms,
            terms.first_response,
            created_at,
            pauses,
            first_response_at,
            now,
        )
    ]
    if terms.resolution is not None:
        targets.append(
            _target_clock(
                SlaTarget.RESOLUTION, terms, terms.resolution, created_at, pauses, resolved_at, now
            )
        )
    paused = any(p.end is None for p in pauses)
    return SlaClock(tuple(targets), paused)


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


def _unmet(clock: SlaClock) -> list[TargetClock]:
    return [t for t in clock.targets if t.met_at is None and t.due_at is not None]


def notices_due(notified: Sequence[str], clock: SlaClock, now: datetime) -> list[Notice]:
    """The notices to send now: per unmet target, its breach once past due, else its warning
    once 80 % elapsed; each only if not sent before (a breach makes its warning moot)."""
    due: list[Notice] = []
    for target in _unmet(clock):
        assert target.due_at is not None
        if target.due_at <= now and f"breach:{target.target}" not in notified:
            due.append(Notice(target, breached=True))
        elif (
            target.warning_at is not None
            and target.warning_at <= now < target.due_at
            and f"warning:{target.target}" not in notified
        ):
            due.append(Notice(target, breached=False))
    return due


def next_check(notified: Sequence[str], clock: SlaClock) -> datetime | None:
    """When the watcher next has a notice to send about this ticket."""
    moments: list[datetime] = []
    for target in _unmet(clock):
        assert target.due_at is not None
        if target.warning_at is not None and f"warning:{target.target}" not in notified:
            moments.append(target.warning_at)
        elif f"breach:{target.target}" not in notified:
            moments.append(target.due_at)
    return min(moments, default=None)


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
        cache: TermsCache = {}
        for ticket in tickets.values():
            if ticket.id is None:
                recompute(session, ticket, now, cache)
            else:
                recompute_and_log(session, ticket, Actor.SYSTEM, now, cache)
