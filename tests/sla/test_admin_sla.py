"""The SLA admin pages: policies per priority and tier, business calendars; every save
recomputes the open tickets' due times, and bad input is refused with the reason."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.admin_models import BusinessCalendar, SlaPolicy
from intake.core.db.models import Customer, Ticket, TicketEvent
from intake.core.runtime import Runtime
from intake.domain import EventKind, Priority, Role, TicketStatus
from tests.conftest import add_person, login, make_app

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_4PM = datetime(2026, 12, 4, 16, 0, tzinfo=BERLIN)


def admin_client(runtime: Runtime) -> FlaskClient:
    add_person(runtime, "admin@example.com", Role.ADMIN)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "admin@example.com")
    return client


def open_ticket(runtime: Runtime, priority: Priority, tier: str | None = None) -> int:
    with runtime.db.session() as session:
        customer = Customer(email=f"{priority}-{tier}@example.org", tier=tier)
        ticket = Ticket(
            subject="help",
            status=TicketStatus.OPEN,
            priority=priority,
            priority_rank=priority.rank,
            created_at=FRIDAY_4PM,
            customer=customer,
        )
        session.add(ticket)
        session.flush()
        return ticket.id


def due(runtime: Runtime, ticket_id: int) -> datetime | None:
    with runtime.db.session() as session:
        return session.scalar(select(Ticket.sla_due_at).where(Ticket.id == ticket_id))


def calendar_form(**changes: str) -> dict[str, str]:
    form = {"name": "Berlin office", "timezone": "Europe/Berlin", "holidays": "2026-12-25"}
    form.update({f"day{d}": "09:00-17:00" for d in range(5)})
    form.update({"day5": "", "day6": "closed"})
    form.update(changes)
    return form


def test_calendar_and_policies_set_due_times_of_open_tickets(runtime: Runtime) -> None:
    admin = admin_client(runtime)
    high = open_ticket(runtime, Priority.HIGH)
    vip = open_ticket(runtime, Priority.HIGH, "vip")
    assert due(runtime, high) == datetime(2026, 12, 4, 20, 0, tzinfo=BERLIN)  # 4 h, 24/7

    page = admin.post("/admin/sla/calendars", data=calendar_form(), follow_redirects=True)
    assert "Calendar &#39;Berlin office&#39; added" in page.get_data(as_text=True)
    with runtime.db.session() as session:
        calendar = session.scalar(select(BusinessCalendar))
        assert calendar is not None
        assert calendar.hours["0"] == ["09:00-17:00"] and calendar.hours["6"] == []
        calendar_id = calendar.id
    listed = admin.get("/admin/sla/calendars").get_data(as_text=True)
    assert 'data-calendar="Berlin office"' in listed and 'value="09:00-17:00"' in listed

    # Policies for every customer, the high one counting office hours, the form as sent.
    form = {p: str(m) for p, m in (("urgent", 60), ("high", 120), ("medium", 480), ("low", 960))}
    form.update({"high_resolution": "960", "high_calendar": str(calendar_id)})
    answer = admin.post("/admin/sla", data=form, follow_redirects=True)
    assert "SLA targets saved; due times of 2 open ticket(s) moved." in answer.get_data(
        as_text=True
    )
    # 1 h on Friday, 1 h on Monday: Monday 10:00 in Berlin.
    assert due(runtime, high) == datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)

    # VIPs: 30 minutes, around the clock.
    admin.post(
        "/admin/sla/tiers",
        data={"tier": "VIP", "priority": "high", "first_response": "30", "calendar": ""},
    )
    assert due(runtime, vip) == datetime(2026, 12, 4, 16, 30, tzinfo=BERLIN)
    assert due(runtime, high) == datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)
    with runtime.db.session() as session:
        moved = session.scalars(
            select(TicketEvent).where(
                TicketEvent.ticket_id == vip, TicketEvent.kind == EventKind.SLA
            )
        ).all()
        assert [e.actor for e in moved] == ["admin@example.com"] * len(moved) and moved
        tier_policy = session.scalar(select(SlaPolicy).where(SlaPolicy.tier == "vip"))
        assert tier_policy is not None and tier_policy.first_response_minutes == 30
        tier_policy_id = tier_policy.id
    policies = admin.get("/admin/sla").get_data(as_text=True)
    assert 'data-tier="vip"' in policies and 'name="urgent" value="60"' in policies

    # Saturday opening hours move the due time; removing the tier policy moves the VIP back.
    admin.post(f"/admin/sla/calendars/{calendar_id}", data=calendar_form(day5="10:00-12:00"))
    assert due(runtime, high) == datetime(2026, 12, 5, 11, 0, tzinfo=BERLIN)
    admin.post(f"/admin/sla/tiers/{tier_policy_id}/delete")
    assert due(runtime, vip) == datetime(2026, 12, 5, 11, 0, tzinfo=BERLIN)
    # Deleting the calendar: its policy counts around the clock again.
    admin.post(f"/admin/sla/calendars/{calendar_id}/delete")
    assert due(runtime, high) == datetime(2026, 12, 4, 18, 0, tzinfo=BERLIN)


def test_bad_calendars_and_tier_policies_are_refused_with_the_reason(runtime: Runtime) -> None:
    admin = admin_client(runtime)
    cases = [
        (calendar_form(timezone="Mars/Base"), "unknown time zone"),
        (calendar_form(day2="9-5"), "Wednesday: write hours as HH:MM-HH:MM"),
        (calendar_form(holidays="Christmas"), "holiday 1: write a date as YYYY-MM-DD"),
        ({**calendar_form(), **{f"day{d}": "" for d in range(7)}}, "open at some time"),
    ]
    for form, reason in cases:
        page = admin.post("/admin/sla/calendars", data=form, follow_redirects=True)
        assert reason in page.get_data(as_text=True), reason
    tier_cases = [
        ({"tier": "", "priority": "high", "first_response": "30"}, "a tier is 1 to 40"),
        ({"tier": "vip", "priority": "soon", "first_response": "30"}, "choose a priority"),
        ({"tier": "vip", "priority": "high", "first_response": "0"}, "between 1 and"),
        (
            {"tier": "vip", "priority": "high", "first_response": "5", "calendar": "77"},
            "choose a calendar",
        ),
    ]
    for form, reason in tier_cases:
        page = admin.post("/admin/sla/tiers", data=form, follow_redirects=True)
        assert reason in page.get_data(as_text=True), reason
    with runtime.db.session() as session:
        assert session.scalar(select(BusinessCalendar)) is None
        assert session.scalar(select(SlaPolicy).where(SlaPolicy.tier != "")) is None
