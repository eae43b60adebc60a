"""Automatic assignment on SQLite and PostgreSQL: manual, round-robin, least-open with a cap,
away and deactivated members skipped, rules routing to a group, a group change assigning."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.assignment import auto_assign, pick_member
from intake.core.db.admin_models import Group
from intake.core.db.models import Ticket, TicketEvent, User
from intake.core.groups import create_group, set_members
from intake.core.runtime import Runtime
from intake.core.tickets import update_ticket
from intake.core.users import add_user
from intake.domain import AssignmentStrategy, EventKind, Role, TicketStatus
from intake.errors import RejectedError

PEOPLE = ("ann@example.com", "bob@example.com", "cy@example.com")


def people(session: Session) -> list[User]:
    users = [add_user(session, email, Role.AGENT, f"{email}-pw") for email in PEOPLE]
    session.flush()
    return users


def ticket_in(session: Session, group: str | None, **fields: object) -> Ticket:
    ticket = Ticket(subject="help", group=group, **{"status": TicketStatus.NEW, **fields})
    session.add(ticket)
    session.flush()
    return ticket


def assign_new(session: Session, group: str, count: int) -> list[str]:
    """Open ``count`` tickets in ``group`` and return to whom each went."""
    out = []
    for _ in range(count):
        member = auto_assign(session, ticket_in(session, group))
        out.append(member.email if member else "-")
    return out


def test_manual_groups_assign_nobody(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        group = create_group(session, "support")
        set_members(session, group, [u.id for u in people(session)])
        assert assign_new(session, "support", 2) == ["-", "-"]


def test_round_robin_takes_members_in_turn_and_skips_who_is_away(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        ann, bob, cy = people(session)
        group = create_group(session, "support", AssignmentStrategy.ROUND_ROBIN)
        set_members(session, group, [ann.id, bob.id, cy.id])
        assert assign_new(session, "support", 4) == [ann.email, bob.email, cy.email, ann.email]
        bob.away = True
        cy.active = False
        assert assign_new(session, "support", 2) == [ann.email, ann.email]
        bob.away = False
        # The turn continues after whoever got the last one.
        assert assign_new(session, "support", 2) == [bob.email, ann.email]


def test_round_robin_continues_across_transactions(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        ann, bob, _cy = people(session)
        group = create_group(session, "support", AssignmentStrategy.ROUND_ROBIN)
        set_members(session, group, [ann.id, bob.id])
        assert assign_new(session, "support", 1) == [ann.email]
    with runtime.db.session() as session:
        assert assign_new(session, "support", 1) == ["bob@example.com"]


def test_least_open_fills_the_lightest_load_up_to_the_cap(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        ann, bob, cy = people(session)
        group = create_group(session, "billing", AssignmentStrategy.LEAST_OPEN, max_open=2)
        set_members(session, group, [ann.id, bob.id, cy.id])
        # Ann already has two open tickets (one in another group), Bob one; resolved ones
        # do not count.
        for owner in (ann, ann, bob):
            ticket_in(session, "elsewhere", assignee_id=owner.id)
        ticket_in(session, None, assignee_id=cy.id, status=TicketStatus.RESOLVED)
        assert assign_new(session, "billing", 3) == [cy.email, bob.email, cy.email]
        # Everyone is at the cap: the ticket waits unassigned in the group.
        assert assign_new(session, "billing", 1) == ["-"]
        waiting = session.scalar(
            select(Ticket).where(Ticket.group == "billing", Ticket.assignee_id.is_(None))
        )
        assert waiting is not None
        # Bob resolves one: he has room again.
        bobs = session.scalars(select(Ticket).where(Ticket.assignee_id == bob.id)).first()
        assert bobs is not None
        bobs.status = TicketStatus.RESOLVED
        session.flush()
        assert pick_member(session, group) == bob


def test_assignment_is_logged_and_leaves_assigned_or_resolved_tickets_alone(
    runtime: Runtime,
) -> None:
    with runtime.db.session() as session:
        ann, bob, _cy = people(session)
        group = create_group(session, "support", AssignmentStrategy.ROUND_ROBIN)
        set_members(session, group, [ann.id])
        taken = ticket_in(session, "support", assignee_id=bob.id)
        done = ticket_in(session, "support", status=TicketStatus.RESOLVED)
        automatic = ticket_in(session, "support", automatic=True)
        assert [auto_assign(session, t) for t in (taken, done, automatic)] == [None] * 3
        fresh = ticket_in(session, "support")
        assert auto_assign(session, fresh) == ann
        event = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == fresh.id))
        assert event is not None
        assert (event.kind, event.field, event.new, event.actor) == (
            EventKind.ASSIGNMENT,
            "assignee",
            ann.email,
            "system",
        )


def test_moving_a_ticket_to_an_assigning_group_assigns_it(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        ann, bob, _cy = people(session)
        group = create_group(session, "senior", AssignmentStrategy.ROUND_ROBIN)
        set_members(session, group, [bob.id])
        ticket = ticket_in(session, None)
        update_ticket(session, ticket, {"group": "senior"}, ann)
        assert ticket.assignee == bob
        # Moving it with an explicit assignee keeps that choice.
        other = ticket_in(session, None)
        update_ticket(session, other, {"group": "senior", "assignee": ann.email}, ann)
        assert other.assignee == ann


def test_group_names_members_and_caps_are_checked(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        create_group(session, "support")
        with pytest.raises(RejectedError, match="already exists"):
            create_group(session, "support")
        with pytest.raises(RejectedError, match="between 1 and"):
            create_group(session, "other", max_open=0)
        group = session.scalar(select(Group).where(Group.name == "support"))
        assert group is not None
        with pytest.raises(RejectedError, match="no user"):
            set_members(session, group, [987654])
