"""Rules route and groups assign: a VIP's mail goes to the senior group (over the mailbox's
default group) and to a senior agent, once the real classification job has run."""

from __future__ import annotations

from sqlalchemy import select

from intake.core.accept import accept_email
from intake.core.db.admin_models import Rule
from intake.core.db.models import Customer, Mailbox, Ticket, TicketEvent, User
from intake.core.groups import create_group, set_members
from intake.core.runtime import Runtime
from intake.core.users import add_user
from intake.domain import AssignmentStrategy, EventKind, Role, Source
from tests.conftest import run_jobs
from tests.mailfactory import make_mail

VIP_RULE = {
    "name": "VIPs to seniors",
    "conditions": [{"field": "customer_tier", "op": "equals", "value": "vip"}],
    "actions": {"set_group": "senior"},
}


def deliver(runtime: Runtime, subject: str, sender: str, mailbox_id: int) -> Ticket:
    """A mail fetched from the support mailbox (as its IMAP connection would store it)."""
    accept_email(
        runtime,
        make_mail(subject=subject, sender=sender),
        source=Source.IMAP,
        envelope_from=None,
        recipients=["support@example.com"],
        mailbox_id=mailbox_id,
    )
    run_jobs(runtime, "intake", "classify")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.subject == subject))
        assert ticket is not None
        session.expunge(ticket)
        return ticket


def test_a_vip_goes_to_the_senior_group_and_one_of_its_agents(sqlite_runtime: Runtime) -> None:
    runtime = sqlite_runtime
    with runtime.db.session() as session:
        senior = add_user(session, "senior@example.com", Role.AGENT, "senior@example.com-pw")
        junior = add_user(session, "junior@example.com", Role.AGENT, "junior@example.com-pw")
        set_members(
            session, create_group(session, "senior", AssignmentStrategy.ROUND_ROBIN), [senior.id]
        )
        set_members(
            session, create_group(session, "support", AssignmentStrategy.ROUND_ROBIN), [junior.id]
        )
        mailbox = Mailbox(
            name="support", addresses=["support@example.com"], default_group="support"
        )
        session.add(mailbox)
        session.add(Customer(email="kim@bigcorp.example", name="Kim", tier="vip"))
        session.add(Rule(name=VIP_RULE["name"], position=1, definition=VIP_RULE))
        session.flush()
        mailbox_id = mailbox.id

    vip = deliver(runtime, "Invoice is wrong", "Kim <kim@bigcorp.example>", mailbox_id)
    other = deliver(runtime, "Invoice question", "Lou <lou@example.org>", mailbox_id)
    with runtime.db.session() as session:
        emails = {u.id: u.email for u in session.scalars(select(User))}
        assert (vip.group, emails.get(vip.assignee_id or 0)) == ("senior", "senior@example.com")
        assert (other.group, emails.get(other.assignee_id or 0)) == (
            "support",
            "junior@example.com",
        )
        events = [
            (e.kind, e.field, e.old, e.new)
            for e in session.scalars(
                select(TicketEvent).where(TicketEvent.ticket_id == vip.id).order_by(TicketEvent.id)
            )
            if e.kind in (EventKind.CHANGE, EventKind.ASSIGNMENT)
        ]
        assert (EventKind.CHANGE, "group", "support", "senior") in events
        assert (EventKind.ASSIGNMENT, "assignee", None, "senior@example.com") in events
