"""A ticket's SLA clock in the database: policies per priority and tier, calendars, pauses,
first responses, and recomputation when a policy, calendar, priority or tier changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.activity import Actor
from intake.core.db.admin_models import BusinessCalendar, SlaPolicy
from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Ticket, TicketEvent
from intake.core.runtime import Runtime
from intake.core.sla import recompute, recompute_open_tickets, sla_state
from intake.core.sla_clock import WARNING_FRACTION
from intake.core.tickets import record_first_response, update_ticket
from intake.domain import EventKind, Priority, SlaState, SlaTarget, TicketStatus

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def new_ticket(
    session: Session,
    created: datetime,
    priority: Priority = Priority.MEDIUM,
    customer: Customer | None = None,
) -> Ticket:
    ticket = Ticket(
        subject="help",
        status=TicketStatus.NEW,
        priority=priority,
        priority_rank=priority.rank,
        created_at=created,
        customer=customer,
    )
    session.add(ticket)
    session.flush()
    return ticket


def policy(
    session: Session,
    priority: Priority,
    first: int,
    resolution: int | None = None,
    tier: str = "",
    calendar: BusinessCalendar | None = None,
) -> SlaPolicy:
    """Set the policy (the migrations seed one per priority for every customer)."""
    row = session.scalar(
        select(SlaPolicy).where(SlaPolicy.priority == priority, SlaPolicy.tier == tier)
    ) or SlaPolicy(priority=priority, tier=tier)
    row.first_response_minutes = first
    row.resolution_minutes = resolution
    row.calendar = calendar
    session.add(row)
    session.flush()
    return row


def office_calendar(session: Session) -> BusinessCalendar:
    weekday = ["09:00-17:00"]
    row = BusinessCalendar(
        name="Berlin office",
        timezone="Europe/Berlin",
        hours={str(d): (weekday if d < 5 else []) for d in range(7)},
        holidays=["2026-12-24", "2026-12-25"],
    )
    session.add(row)
    session.flush()
    return row


def test_a_new_ticket_gets_its_first_response_target_and_warning(runtime: Runtime) -> None:
    created = utcnow() - H
    with runtime.db.session() as session:
        ticket = new_ticket(session, created)
        assert ticket.sla_target == SlaTarget.FIRST_RESPONSE
        assert ticket.sla_due_at == created + 24 * H  # the default for medium
        assert ticket.sla_warning_at == created + 24 * H * WARNING_FRACTION
        assert ticket.sla_check_at == ticket.sla_warning_at
        assert not ticket.sla_breached
        assert sla_state(ticket) == SlaState.OK


def test_a_tier_policy_wins_over_the_one_for_every_customer(runtime: Runtime) -> None:
    created = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with runtime.db.session() as session:
        policy(session, Priority.URGENT, 60, 480)
        policy(session, Priority.URGENT, 15, 120, tier="vip")
        vip = Customer(email="boss@bigcorp.example", tier="VIP")
        plain = Customer(email="someone@example.org")
        session.add_all([vip, plain])
        vip_ticket = new_ticket(session, created, Priority.URGENT, vip)
        plain_ticket = new_ticket(session, created, Priority.URGENT, plain)
        # No tier policy for high: the VIP gets the default for everyone.
        high_vip = new_ticket(session, created, Priority.HIGH, vip)
        assert vip_ticket.sla_due_at == created + 15 * M
        assert plain_ticket.sla_due_at == created + 60 * M
        assert high_vip.sla_due_at == created + 4 * H


def test_targets_count_business_hours_of_the_policys_calendar(runtime: Runtime) -> None:
    friday = datetime(2026, 12, 4, 16, 0, tzinfo=BERLIN)
    with runtime.db.session() as session:
        policy(session, Priority.HIGH, 2 * 60, 16 * 60, calendar=office_calendar(session))
        ticket = new_ticket(session, friday, Priority.HIGH)
        assert ticket.sla_due_at == datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)
        # 80 % of 2 h is 96 min: 1 h on Friday, 36 min on Monday.
        assert ticket.sla_warning_at == datetime(2026, 12, 7, 9, 36, tzinfo=BERLIN)
        before_christmas = new_ticket(session, datetime(2026, 12, 23, 16, 0, tzinfo=BERLIN))
        assert before_christmas.sla_due_at == datetime(2026, 12, 23, 16, 0, tzinfo=BERLIN) + 24 * H
        urgent_before_christmas = new_ticket(
            session, datetime(2026, 12, 23, 16, 0, tzinfo=BERLIN), Priority.HIGH
        )
        assert urgent_before_christmas.sla_due_at == datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN)


def test_pending_stops_the_clock_and_open_starts_it_again(runtime: Runtime) -> None:
    created = utcnow() - 2 * H
    with runtime.db.session() as session:
        ticket = new_ticket(session, created, Priority.HIGH)  # first response within 4 h
        due = ticket.sla_due_at
        assert due == created + 4 * H
        update_ticket(session, ticket, {"status": "pending"}, None)
        session.flush()
        assert ticket.sla_due_at is None and ticket.sla_warning_at is None
        assert ticket.sla_target == SlaTarget.FIRST_RESPONSE
        assert sla_state(ticket) == SlaState.PAUSED
        assert ticket.sla_pauses[-1][1] is None
        update_ticket(session, ticket, {"status": "open"}, None)
        session.flush()
        start, end = (datetime.fromisoformat(t) for t in ticket.sla_pauses[-1])
        assert ticket.sla_due_at == due + (end - start)
        assert sla_state(ticket) == SlaState.OK


def test_time_spent_pending_moves_the_due_time_by_exactly_that_much(runtime: Runtime) -> None:
    created = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with runtime.db.session() as session:
        ticket = new_ticket(session, created, Priority.HIGH)
        ticket.sla_pauses = [[(created + H).isoformat(), (created + 3 * H).isoformat()]]
        recompute(session, ticket)
        assert ticket.sla_due_at == created + 6 * H


def test_the_first_reply_or_callback_moves_the_clock_to_resolution(runtime: Runtime) -> None:
    created = utcnow() - 3 * H
    with runtime.db.session() as session:
        ticket = new_ticket(session, created, Priority.URGENT)  # 1 h, resolved within 24 h
        assert ticket.sla_breached  # already 3 h old: the first response is overdue
        assert sla_state(ticket) == SlaState.BREACHED
        record_first_response(ticket, utcnow())
        session.flush()
        assert ticket.sla_target == SlaTarget.RESOLUTION
        assert ticket.sla_due_at == created + 24 * H
        assert ticket.sla_breached  # answered late stays a missed target
        update_ticket(session, ticket, {"status": "resolved"}, None)
        session.flush()
        assert ticket.sla_due_at is None and sla_state(ticket) == SlaState.MET


def test_a_first_response_in_time_is_not_a_breach(runtime: Runtime) -> None:
    created = utcnow() - 10 * M
    with runtime.db.session() as session:
        ticket = new_ticket(session, created, Priority.URGENT)
        record_first_response(ticket, created + 5 * M)
        session.flush()
        assert not ticket.sla_breached and sla_state(ticket) == SlaState.OK


def test_a_policy_change_recomputes_open_tickets_and_logs_the_move(runtime: Runtime) -> None:
    created = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with runtime.db.session() as session:
        rule = policy(session, Priority.URGENT, 60)
        open_ticket = new_ticket(session, created, Priority.URGENT)
        done = new_ticket(session, created, Priority.URGENT)
        update_ticket(session, done, {"status": "resolved"}, None)
        session.flush()
        assert open_ticket.sla_due_at == created + H
        rule.first_response_minutes = 30
        assert recompute_open_tickets(session, Actor.SYSTEM) == 1
        assert open_ticket.sla_due_at == created + 30 * M
        assert done.sla_due_at is None
        event = session.scalar(
            select(TicketEvent).where(
                TicketEvent.ticket_id == open_ticket.id, TicketEvent.kind == EventKind.SLA
            )
        )
        assert event is not None and event.field == "sla_due_at"
        assert event.old == (created + H).isoformat()
        assert event.new == (created + 30 * M).isoformat()


def test_a_calendar_change_recomputes_too(runtime: Runtime) -> None:
    friday = datetime(2026, 12, 4, 16, 0, tzinfo=BERLIN)
    with runtime.db.session() as session:
        calendar = office_calendar(session)
        policy(session, Priority.HIGH, 2 * 60, calendar=calendar)
        ticket = new_ticket(session, friday, Priority.HIGH)
        assert ticket.sla_due_at == datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)
        calendar.hours = {**calendar.hours, "5": ["10:00-14:00"]}  # open Saturdays
        recompute_open_tickets(session, Actor.SYSTEM)
        assert ticket.sla_due_at == datetime(2026, 12, 5, 11, 0, tzinfo=BERLIN)


def test_priority_and_tier_changes_recompute_by_themselves(runtime: Runtime) -> None:
    created = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with runtime.db.session() as session:
        policy(session, Priority.LOW, 600)
        policy(session, Priority.LOW, 100, tier="vip")
        customer = Customer(email="kim@example.org")
        session.add(customer)
        ticket = new_ticket(session, created, Priority.LOW, customer)
        assert ticket.sla_due_at == created + 600 * M
        customer.tier = "vip"
        session.flush()
        assert ticket.sla_due_at == created + 100 * M
        update_ticket(session, ticket, {"priority": "urgent"}, None)
        session.flush()
        assert ticket.sla_due_at == created + 60 * M
        kinds = list(
            session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id))
        )
        assert kinds.count(EventKind.SLA) == 2 and EventKind.CHANGE in kinds


def test_the_queue_states(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.db.session() as session:
        fresh = new_ticket(session, now, Priority.URGENT)
        near = new_ticket(session, now - 50 * M, Priority.URGENT)
        late = new_ticket(session, now - 61 * M, Priority.URGENT)
        assert [sla_state(t, now) for t in (fresh, near, late)] == [
            SlaState.OK,
            SlaState.WARNING,
            SlaState.BREACHED,
        ]
