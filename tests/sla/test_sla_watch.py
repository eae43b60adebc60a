"""Near-breach and breach notices: sent once, by email through a real SMTP relay (aiosmtpd), to
the assignee, the group's members or the admins, and recorded in the activity log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.core.db.admin_models import Group, GroupMember
from intake.core.db.base import utcnow
from intake.core.db.models import Ticket, TicketEvent, User
from intake.core.runtime import Runtime, set_current
from intake.core.sla import recompute
from intake.domain import EventKind, Priority, Role, TicketStatus
from tests.conftest import add_person, make_runtime, run_jobs
from tests.outbound.conftest import Relay
from workers.sla_watch import check_ticket, schedule_sla_watch, watch_sla

M = timedelta(minutes=1)


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay().start()
    yield server
    server.stop()


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, redis_url: str, relay: Relay) -> Iterator[Runtime]:
    rt = make_runtime(
        tmp_path,
        database_url,
        redis_url,
        INTAKE_OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
        INTAKE_REPLY_FROM="support@example.com",
        INTAKE_BASE_URL="https://help.example.com",
    )
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


def urgent_ticket(runtime: Runtime, age: timedelta, **fields: object) -> int:
    """An urgent ticket (first response within 60 min, warning at 48) this old."""
    with runtime.db.session() as session:
        ticket = Ticket(
            subject="The heater sparks",
            status=TicketStatus.OPEN,
            priority=Priority.URGENT,
            priority_rank=Priority.URGENT.rank,
            created_at=utcnow() - age,
            **fields,
        )
        session.add(ticket)
        session.flush()
        return ticket.id


def user_id(runtime: Runtime, email: str) -> int:
    with runtime.db.session() as session:
        found = session.scalar(select(User.id).where(User.email == email))
        assert found is not None
        return found


def sla_events(runtime: Runtime, ticket_id: int) -> list[tuple[str | None, object]]:
    with runtime.db.session() as session:
        return [
            (e.field, e.new)
            for e in session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == EventKind.SLA)
                .order_by(TicketEvent.id)
            )
        ]


def watch_and_send(runtime: Runtime, minutes_later: int = 0) -> None:
    assert schedule_sla_watch(runtime, utcnow() + minutes_later * M)
    run_jobs(runtime, "intake")
    run_jobs(runtime, "outbound")


def test_warning_then_breach_each_sent_once_to_the_assignee(runtime: Runtime, relay: Relay) -> None:
    add_person(runtime, "kim@example.com")
    ticket_id = urgent_ticket(runtime, 50 * M, assignee_id=user_id(runtime, "kim@example.com"))

    watch_and_send(runtime)
    assert len(relay.received) == 1
    warning = relay.received[0]
    assert warning.recipients == ["kim@example.com"]
    assert warning.header("Subject").startswith(f"[#{ticket_id}] SLA near breach: first response")
    assert warning.header("Auto-Submitted") == "auto-generated"
    assert "80 % of the time to first response has passed" in warning.text
    assert f"https://help.example.com/tickets/{ticket_id}" in warning.text
    assert sla_events(runtime, ticket_id) == [("first_response", "warning")]

    # The next minutes' runs send nothing more.
    watch_sla()
    run_jobs(runtime, "outbound")
    assert len(relay.received) == 1

    # Time passes (the ticket is older now): the breach notice, once.
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.created_at = utcnow() - 61 * M
        recompute(session, ticket)
    watch_and_send(runtime, minutes_later=1)  # the next minute's run
    watch_sla()
    run_jobs(runtime, "outbound")
    assert len(relay.received) == 2
    breach = relay.received[1]
    assert breach.header("Subject").startswith(f"[#{ticket_id}] SLA breached: first response")
    assert sla_events(runtime, ticket_id) == [
        ("first_response", "warning"),
        ("first_response", "breached"),
    ]
    with runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.sla_breached
        assert ticket.sla_notified == ["warning:first_response", "breach:first_response"]
        # Next to watch: the resolution target's warning, 80 % of 24 h after creation.
        assert ticket.sla_check_at is not None and ticket.sla_check_at > utcnow()


def test_an_unassigned_breach_goes_to_the_groups_members_in_one_notice(
    runtime: Runtime, relay: Relay
) -> None:
    for email in ("a@example.com", "b@example.com"):
        add_person(runtime, email)
    add_person(runtime, "boss@example.com", Role.ADMIN)
    with runtime.db.session() as session:
        group = Group(name="senior")
        session.add(group)
        session.flush()
        for email in ("a@example.com", "b@example.com"):
            session.add(GroupMember(group_id=group.id, user_id=user_id(runtime, email)))
    in_group = urgent_ticket(runtime, 2 * 60 * M, group="senior")
    nobodys = urgent_ticket(runtime, 2 * 60 * M)

    watch_and_send(runtime)
    by_subject = {m.header("Subject").split("]")[0]: m for m in relay.received}
    assert len(relay.received) == 2  # a breach only: its warning is not sent as well
    assert by_subject[f"[#{in_group}"].recipients == ["a@example.com", "b@example.com"]
    assert by_subject[f"[#{nobodys}"].recipients == ["boss@example.com"]
    assert sla_events(runtime, in_group) == [("first_response", "breached")]


def test_two_runs_at_once_notify_once(runtime: Runtime, relay: Relay) -> None:
    add_person(runtime, "boss@example.com", Role.ADMIN)
    ticket_id = urgent_ticket(runtime, 50 * M)
    with runtime.db.session() as session:
        seen = session.scalar(select(Ticket.sla_check_at).where(Ticket.id == ticket_id))
    assert seen is not None
    now = utcnow()
    assert check_ticket(runtime, ticket_id, seen, now) == ["warning"]
    assert check_ticket(runtime, ticket_id, seen, now) == []  # the check was taken
    run_jobs(runtime, "outbound")
    assert len(relay.received) == 1


def test_a_paused_or_answered_ticket_gets_no_notice(runtime: Runtime, relay: Relay) -> None:
    add_person(runtime, "boss@example.com", Role.ADMIN)
    pending = urgent_ticket(runtime, 50 * M)
    answered = urgent_ticket(runtime, 50 * M, first_response_at=utcnow() - 40 * M)
    with runtime.db.session() as session:
        ticket = session.get(Ticket, pending)
        assert ticket is not None
        ticket.status = TicketStatus.PENDING
    watch_and_send(runtime)
    assert relay.received == []
    assert sla_events(runtime, pending) == sla_events(runtime, answered) == []
