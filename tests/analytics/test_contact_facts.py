"""Each ticket's stored contact facts (repeat contact, earlier requests) stay right on every path
that links a ticket to its customer, and the migration fills them for existing tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from intake.core.activity import Actor
from intake.core.customer_merge import merge_customers
from intake.core.customers import customer_for_email, customer_for_phone
from intake.core.db.migrate import upgrade
from intake.core.db.models import Customer, Ticket
from intake.core.runtime import Runtime

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _ticket(session: Session, customer: Customer | None, at: datetime, **extra: bool) -> Ticket:
    ticket = Ticket(subject="s", created_at=at, updated_at=at, customer=customer, **extra)
    session.add(ticket)
    session.flush()
    return ticket


def _facts(runtime: Runtime) -> dict[str, tuple[bool, int]]:
    with runtime.db.session() as session:
        rows = session.execute(
            select(Ticket.subject, Ticket.repeat_contact, Ticket.contact_earlier)
        ).all()
    return {subject: (bool(repeat), earlier) for subject, repeat, earlier in rows}


def test_facts_follow_new_tickets_merges_and_automatic_flips(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        mail = customer_for_email(session, "ann@example.com", "Ann", NOW - 30 * DAY)
        phone = customer_for_phone(session, "+14155550100", "", NOW - 30 * DAY)
        made: dict[str, Ticket] = {}
        for subject, customer, at in (
            ("a1", mail, NOW - 20 * DAY),
            ("a2", mail, NOW - 2 * DAY),  # 18 days later: not a repeat
            ("p1", phone, NOW - 5 * DAY),
            ("a3", mail, NOW - DAY),  # 1 day after a2: a repeat
            ("none", None, NOW),
        ):
            made[subject] = _ticket(session, customer, at)
            made[subject].subject = subject
        # An auto-reply is no request: it counts for nobody, until a customer answers in it.
        auto = _ticket(session, mail, NOW - 3 * DAY, automatic=True)
        auto.subject = "auto"
        # The rows in the session see the stored values, not the ones from before the flush.
        assert (made["a3"].repeat_contact, made["a3"].contact_earlier) == (True, 2)
    facts = _facts(runtime)
    assert facts["a1"] == (False, 0)
    assert facts["a2"] == (False, 1)
    assert facts["a3"] == (True, 2)
    assert facts["p1"] == (False, 0)
    assert facts["none"] == (False, 0)

    with runtime.db.session() as session:
        auto = session.scalars(select(Ticket).where(Ticket.subject == "auto")).one()
        auto.automatic = False  # a customer reply turned it into a request
    facts = _facts(runtime)
    assert facts["auto"] == (False, 1)
    assert facts["a2"] == (True, 2)  # a day after the former auto-reply
    assert facts["a3"] == (True, 3)
    assert facts["a1"] == (False, 0)  # before it: unchanged

    with runtime.db.session() as session:
        keep = session.scalars(select(Customer).where(Customer.email == "ann@example.com")).one()
        other = session.scalars(select(Customer).where(Customer.phone == "+14155550100")).one()
        merge_customers(session, keep, other, Actor.SYSTEM)
    facts = _facts(runtime)
    # p1 (5 days ago) now sits between the former auto-reply (3 days ago) and a1.
    assert facts["p1"] == (False, 1)
    assert facts["auto"] == (True, 2)
    assert facts["a2"] == (True, 3)
    assert facts["a3"] == (True, 4)


def test_one_flush_of_many_tickets_counts_each_customer(runtime: Runtime) -> None:
    """A batch of new tickets (the intake job's) is recounted in one statement, per customer."""
    with runtime.db.session() as session:
        ann = customer_for_email(session, "ann@example.com", "", NOW - 30 * DAY)
        bob = customer_for_email(session, "bob@example.com", "", NOW - 30 * DAY)
        _ticket(session, ann, NOW - 20 * DAY).subject = "ann old"
        for subject, customer, at in (
            ("ann new", ann, NOW - 19 * DAY),
            ("bob first", bob, NOW - 2 * DAY),
            ("bob again", bob, NOW - DAY),
        ):
            session.add(Ticket(subject=subject, created_at=at, updated_at=at, customer=customer))
    facts = _facts(runtime)
    assert facts["ann old"] == (False, 0)
    assert facts["ann new"] == (True, 1)
    assert facts["bob first"] == (False, 0)
    assert facts["bob again"] == (True, 1)


def test_the_migration_fills_the_facts_of_existing_tickets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0018")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO customers (id, email, name, first_contact_at, last_contact_at,"
                " created_at) VALUES (1, 'a@example.com', '', :t, :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00.000000"},
        )
        for subject, customer, automatic, at in (
            ("first", 1, False, "2026-03-01 10:00:00.000000"),
            ("auto", 1, True, "2026-03-02 10:00:00.000000"),
            ("again", 1, False, "2026-03-05 10:00:00.000000"),
            ("twin", 1, False, "2026-03-05 10:00:00.000000"),  # at the same time: not earlier
            ("late", 1, False, "2026-03-20 10:00:00.000000"),
            ("nobody", None, False, "2026-03-21 10:00:00.000000"),
        ):
            connection.execute(
                text(
                    "INSERT INTO tickets (subject, channel, status, automatic, priority,"
                    " priority_rank, priority_reasons, needs_review, tags, customer_id,"
                    " created_at, updated_at) VALUES (:s, 'email', 'new', :a, 'medium', 2,"
                    " '[]', false, '[]', :c, :t, :t)"
                ),
                {"s": subject, "a": automatic, "c": customer, "t": at},
            )
    upgrade(url)
    with engine.begin() as connection:
        rows = connection.execute(
            text("SELECT subject, repeat_contact, contact_earlier FROM tickets ORDER BY id")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("first", 0, 0),
        ("auto", 0, 0),
        ("again", 1, 1),
        ("twin", 1, 1),
        ("late", 0, 3),
        ("nobody", 0, 0),
    ]
