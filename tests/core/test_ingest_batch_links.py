"""An ingest batch links its messages as one message at a time would (workers.intake): the
customers of all senders are looked up together and the batch is flushed once, so threading
inside a batch, repeat senders and tiers must come out the same."""

from __future__ import annotations

from sqlalchemy import func, select

from intake.core.accept import accept_email
from intake.core.app_settings import save_app_setting
from intake.core.customers import TIER_DOMAINS
from intake.core.db.models import Customer, Message, Ticket
from intake.core.runtime import Runtime
from intake.domain import MessageState, Source
from tests.mailfactory import make_mail
from workers.intake import ingest_message


def accept(runtime: Runtime, raw: bytes) -> int:
    accepted = accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["support@example.com"]
    )
    return accepted.message_id


def test_a_batch_threads_a_reply_and_links_each_sender_once(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        save_app_setting(session, TIER_DOMAINS, {"domains": {"bigcorp.com": "vip"}})
    first = accept(
        runtime,
        make_mail(sender="Bob <bob@bigcorp.com>", subject="Invoice wrong", message_id="<b1@x>"),
    )
    ids = [
        first,
        # A reply to the first, in the same batch: it joins the first one's ticket.
        accept(
            runtime,
            make_mail(
                sender="bob@bigcorp.com",
                subject="Re: Invoice wrong",
                message_id="<b2@x>",
                in_reply_to="<b1@x>",
            ),
        ),
        # The same sender again, a new conversation: a second ticket, the same customer.
        accept(runtime, make_mail(sender="BOB@bigcorp.com", subject="Another thing")),
        accept(runtime, make_mail(sender="Carol <carol@customer.org>", subject="Hello")),
        # Automatic mail gets no customer.
        accept(
            runtime,
            make_mail(
                sender="mailer-daemon@customer.org",
                subject="Out of office",
                headers={"Auto-Submitted": "auto-replied"},
            ),
        ),
    ]
    summary = ingest_message(first)
    assert summary.endswith("5 of 5 messages stored in a batch")
    with runtime.db.session() as session:
        messages = list(
            session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id))
        )
        assert [m.state for m in messages] == [MessageState.PROCESSED] * 5
        bob_first, bob_reply, bob_again, carol, automatic = messages
        assert bob_reply.ticket_id == bob_first.ticket_id
        assert bob_again.ticket_id not in (None, bob_first.ticket_id)
        bob = session.scalar(select(Customer).where(Customer.email == "bob@bigcorp.com"))
        assert bob is not None and bob.name == "Bob" and bob.tier == "vip"
        tickets = {t.id: t for t in session.scalars(select(Ticket))}

        def ticket(message: Message) -> Ticket:
            assert message.ticket_id is not None
            return tickets[message.ticket_id]

        assert ticket(bob_first).customer_id == bob.id
        assert ticket(bob_again).customer_id == bob.id
        # The second of Bob's requests within 7 days is a repeat contact.
        assert ticket(bob_again).repeat_contact is True
        carol_customer = ticket(carol).customer
        assert carol_customer is not None and carol_customer.name == "Carol"
        assert ticket(automatic).customer_id is None
        assert session.scalar(select(func.count(Customer.id))) == 2
        # Each new ticket has its SLA clock, from its customer's terms.
        assert all(t.sla_due_at is not None for t in tickets.values())


def test_a_batch_finds_stored_customers(runtime: Runtime) -> None:
    ingest_message(accept(runtime, make_mail(sender="Dan <dan@customer.org>", subject="One")))
    ids = [accept(runtime, make_mail(sender="dan@customer.org", subject=f"N{n}")) for n in range(3)]
    ingest_message(ids[0])
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Customer.id))) == 1
        dan = session.scalar(select(Customer))
        assert dan is not None and dan.name == "Dan"
        owners = set(
            session.scalars(
                select(Ticket.customer_id)
                .join(Message, Message.ticket_id == Ticket.id)
                .where(Message.id.in_(ids))
            )
        )
        assert owners == {dan.id}
