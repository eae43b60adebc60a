"""A customer page with every ticket across channels, and merging two records of one person
(an email address and a phone number), over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from intake.core.db.admin_models import CustomerMerge, SlaPolicy
from intake.core.db.models import Customer, Ticket, TicketEvent
from intake.core.runtime import Runtime
from intake.domain import Channel, EventKind, Priority, TicketStatus
from tests.conftest import add_person, json_of, login, make_app

AGENT = "agent@example.com"
EARLY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATEST = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def two_records(runtime: Runtime) -> tuple[int, int, list[int]]:
    """Kim wrote by email (tier VIP) and called from her phone (a second, anonymous record)."""
    with runtime.db.session() as session:
        by_mail = Customer(
            email="kim@example.org",
            name="Kim Lee",
            tier="vip",
            first_contact_at=LATE,
            last_contact_at=LATE,
        )
        by_phone = Customer(phone="+14155550123", first_contact_at=EARLY, last_contact_at=LATEST)
        session.add_all([by_mail, by_phone])
        session.flush()
        tickets = [
            Ticket(subject="Where is my order?", channel=Channel.EMAIL, customer=by_mail),
            Ticket(subject="Voicemail 1", channel=Channel.VOICEMAIL, customer=by_phone),
            Ticket(
                subject="Voicemail 2",
                channel=Channel.VOICEMAIL,
                customer=by_phone,
                priority=Priority.URGENT,
                priority_rank=0,
                status=TicketStatus.OPEN,
                created_at=LATE,
            ),
        ]
        session.add_all(tickets)
        session.flush()
        return by_mail.id, by_phone.id, [t.id for t in tickets]


def test_the_customer_page_shows_every_channel_and_a_merge_joins_the_records(
    runtime: Runtime,
) -> None:
    add_person(runtime, AGENT)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, AGENT)
    kept, merged, ticket_ids = two_records(runtime)
    with runtime.db.session() as session:
        session.add(SlaPolicy(priority=Priority.URGENT, tier="vip", first_response_minutes=10))
    page = client.get(f"/customers/{merged}").get_data(as_text=True)
    assert f'data-ticket="{ticket_ids[1]}"' in page and "voicemail" in page
    # From a voicemail ticket the agent reaches the customer page.
    ticket_page = client.get(f"/tickets/{ticket_ids[2]}").get_data(as_text=True)
    assert f'href="/customers/{merged}"' in ticket_page

    unknown = client.post(
        f"/customers/{kept}/merge", data={"other": "nobody@example.org"}, follow_redirects=True
    )
    assert "No customer record" in unknown.get_data(as_text=True)
    itself = client.post(
        f"/customers/{kept}/merge", data={"other": f"#{kept}"}, follow_redirects=True
    )
    assert "cannot be merged into itself" in itself.get_data(as_text=True)

    answer = client.post(
        f"/customers/{kept}/merge", data={"other": "(415) 555-0123"}, follow_redirects=True
    )
    text = answer.get_data(as_text=True)
    assert "Merged: 2 ticket(s) moved to this customer." in text
    assert all(f'data-ticket="{i}"' in text for i in ticket_ids)
    assert client.get(f"/customers/{merged}").status_code == 404

    with runtime.db.session() as session:
        customer = session.get(Customer, kept)
        assert customer is not None
        assert (customer.email, customer.phone, customer.name, customer.tier) == (
            "kim@example.org",
            "+14155550123",
            "Kim Lee",
            "vip",
        )
        assert customer.first_contact_at == EARLY and customer.last_contact_at == LATEST
        assert session.scalar(select(func.count(Customer.id))) == 1
        assert {t.customer_id for t in session.scalars(select(Ticket))} == {kept}
        record = session.scalar(select(CustomerMerge))
        assert record is not None
        assert (record.kept_id, record.merged_id) == (kept, merged)
        assert record.merged["phone"] == "+14155550123"
        assert record.ticket_ids == ticket_ids[1:]
        event = session.scalar(
            select(TicketEvent).where(
                TicketEvent.ticket_id == ticket_ids[1], TicketEvent.kind == EventKind.MERGE
            )
        )
        assert event is not None
        assert (event.actor, event.field, event.old, event.new) == (
            AGENT,
            "customer",
            "+14155550123",
            "Kim Lee <kim@example.org>",
        )
        # The moved urgent voicemail is now a VIP's: its clock follows the VIP policy.
        urgent = session.get(Ticket, ticket_ids[2])
        assert urgent is not None and urgent.sla_due_at is not None
        assert (urgent.sla_due_at - urgent.created_at).total_seconds() == 10 * 60


def test_the_api_merges_by_id_and_lists_the_customers_tickets(runtime: Runtime) -> None:
    token = add_person(runtime, AGENT)
    headers = {"Authorization": f"Bearer {token}"}
    client = make_app(runtime).test_client()
    kept, merged, ticket_ids = two_records(runtime)
    answer = client.post(f"/api/customers/{kept}/merge/{merged}", headers=headers)
    assert answer.status_code == 200
    body = json_of(answer)
    assert body["moved"] == ticket_ids[1:]
    assert body["customer"]["phone"] == "+14155550123" and body["customer"]["tickets"] == 3
    listed = json_of(client.get(f"/api/customers/{kept}", headers=headers))
    assert sorted(t["id"] for t in listed["ticket_list"]) == ticket_ids
    again = client.post(f"/api/customers/{kept}/merge/{merged}", headers=headers)
    assert again.status_code == 404
