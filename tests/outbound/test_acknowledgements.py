"""Who gets an automatic acknowledgement, and who never does (mail loops, lists, ourselves)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.core.acknowledgements import (
    AckSettings,
    is_noreply,
    load_ack_settings,
    response_time,
    save_ack_settings,
    why_not_acknowledge,
)
from intake.core.automatic_mail import MailTemplate
from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Delivery, Mailbox, Message, Ticket
from intake.core.runtime import Runtime, set_current
from intake.domain import Channel, MessageState, Source
from intake.errors import RejectedError
from tests.conftest import deliver, make_runtime, run_jobs
from tests.mailfactory import make_mail
from tests.outbound.conftest import Relay, send_to_collector


def new_mail(sender: str = "Alice Customer <alice@customer.org>", **kwargs: object) -> bytes:
    return make_mail(sender=sender, message_id=make_msgid(domain="customer.org"), **kwargs)  # type: ignore[arg-type]


def test_an_auto_submitted_mail_gets_no_acknowledgement(
    runtime: Runtime, relay: Relay, smtp_port: int
) -> None:
    send_to_collector(runtime, smtp_port, new_mail(headers={"Auto-Submitted": "auto-replied"}))
    send_to_collector(runtime, smtp_port, new_mail(subject="Real question"))
    run_jobs(runtime, "intake", "outbound")
    assert [r.header("Subject") for r in relay.received] == [
        "We received your message: Real question [#2]"
    ]


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("alice@customer.org", {"Auto-Submitted": "auto-generated"}),
        ("alice@customer.org", {"X-Autoreply": "yes"}),
        ("alice@customer.org", {"Precedence": "bulk"}),
        ("alice@customer.org", {"Precedence": "junk"}),
        ("alice@customer.org", {"Precedence": "list"}),
        ("alice@customer.org", {"List-Id": "<news.customer.org>"}),
        ("alice@customer.org", {"X-Auto-Response-Suppress": "All"}),
        ("MAILER-DAEMON@mx.customer.org", {}),
        ("noreply@shop.customer.org", {}),
        ("no-reply@customer.org", {}),
        ("do-not-reply@customer.org", {}),
        ("Notifications <notifications@service.example.net>", {}),
        ("bounces+12345@customer.org", {}),
        ("colleague@example.com", {}),  # an address of an accepted domain: ours
    ],
)
def test_machines_lists_no_reply_senders_and_our_own_addresses_get_none(
    runtime: Runtime, relay: Relay, sender: str, headers: dict[str, str]
) -> None:
    deliver(runtime, new_mail(sender=sender, headers=headers), "intake", "outbound")
    with runtime.db.session() as session:
        assert session.scalars(select(Ticket)).one() is not None
    assert relay.received == []


def test_our_mailbox_and_reply_from_addresses_get_none(runtime: Runtime, relay: Relay) -> None:
    with runtime.db.session() as session:
        session.add(Mailbox(name="shop", addresses=["help@shop.test"]))
    deliver(runtime, new_mail(sender="help@shop.test"), "intake", "outbound")
    assert relay.received == []


def test_at_most_three_a_day_to_one_address(runtime: Runtime, relay: Relay) -> None:
    for number in range(5):
        deliver(runtime, new_mail(subject=f"Question {number}"), "intake", "outbound")
    assert len(relay.received) == 3
    with runtime.db.session() as session:
        assert len(session.scalars(select(Ticket)).all()) == 5


def test_a_chinese_mail_gets_the_chinese_acknowledgement(runtime: Runtime, relay: Relay) -> None:
    deliver(
        runtime,
        new_mail(
            sender="张三 <zhang@customer.cn>",
            subject="订单还没有收到",
            body="你好，我的订单一直没有收到，请帮忙查一下。谢谢！\n",
        ),
        "intake",
        "outbound",
    )
    (ack,) = relay.received
    assert ack.header("Subject") == "我们已收到您的来信：订单还没有收到 [#1]"
    assert ack.text.startswith("张三，您好：")
    assert "工单 1" in ack.text and "24 小时内" in ack.text
    assert ack.header("Auto-Submitted") == "auto-replied"


def test_switched_off_per_mailbox_and_for_mail_accepted_by_domain(
    runtime: Runtime, relay: Relay, smtp_port: int
) -> None:
    with runtime.db.session() as session:
        session.add(Mailbox(name="quiet", addresses=["quiet@shop.test"], acknowledge=False))
        session.add(Mailbox(name="loud", addresses=["loud@shop.test"]))
    for to in ("quiet@shop.test", "loud@shop.test"):
        raw = new_mail(to=to, subject=f"to {to}")
        send_to_collector(runtime, smtp_port, raw, to=to)
    run_jobs(runtime, "intake", "outbound")
    assert [(r.header("From"), r.header("Subject")) for r in relay.received] == [
        ("loud@shop.test", "We received your message: to loud@shop.test [#2]")
    ]
    with runtime.db.session() as session:
        save_ack_settings(session, AckSettings(domain_mail=False))
    deliver(runtime, new_mail(subject="by domain"), "intake", "outbound")
    assert len(relay.received) == 1


def test_admins_edit_the_templates_and_bad_ones_are_refused(runtime: Runtime, relay: Relay) -> None:
    with runtime.db.session() as session:
        custom = {
            "en": MailTemplate(
                "Ticket {ticket_id}: {subject}", "Hi {customer_name}, {response_time}."
            ),
            "zh": load_ack_settings(session).templates["zh"],
        }
        save_ack_settings(session, AckSettings(templates=custom))
    deliver(runtime, new_mail(), "intake", "outbound")
    (ack,) = relay.received
    # The tag is added when a template leaves it out.
    assert ack.header("Subject") == "Ticket 1: Order 1234 has not arrived [#1]"
    assert ack.text == "Hi Alice Customer, 24 hours.\n"
    with runtime.db.session() as session:
        with pytest.raises(RejectedError):
            save_ack_settings(session, AckSettings(templates={"en": MailTemplate("", "x")}))


def voicemail_ticket(runtime: Runtime, phone: str, email: str | None) -> tuple[int, int]:
    with runtime.db.session() as session:
        customer = Customer(phone=phone, email=email, name="Carl Caller")
        ticket = Ticket(subject="Voicemail from +15551234567", channel=Channel.VOICEMAIL)
        ticket.customer = customer
        message = Message(
            ticket=ticket,
            channel=Channel.VOICEMAIL,
            source=Source.API,
            state=MessageState.PROCESSED,
            dedup_scope="voicemail",
            dedup_key=f"call-{email}",
            raw_sha256="0" * 64,
            raw_size=0,
            raw_content_type="audio/wav",
            caller_number="+15551234567",
        )
        session.add(message)
        session.flush()
        return message.id, ticket.id


def test_voicemail_is_acknowledged_only_when_the_caller_has_an_email_address(
    runtime: Runtime,
) -> None:
    without = voicemail_ticket(runtime, "+15551234567", None)
    with_email = voicemail_ticket(runtime, "+15557654321", "carl@c.org")
    with runtime.db.session() as session:
        verdicts = []
        for message_id, ticket_id in (without, with_email):
            message, ticket = session.get(Message, message_id), session.get(Ticket, ticket_id)
            assert message is not None and ticket is not None
            verdicts.append(why_not_acknowledge(runtime, session, message, ticket, utcnow()))
    assert verdicts[0] == "no email address to answer"
    assert not isinstance(verdicts[1], str) and verdicts[1].email == "carl@c.org"


def test_nothing_is_acknowledged_without_a_relay(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    quiet = make_runtime(tmp_path, sqlite_url, redis_url)
    set_current(quiet)
    try:
        deliver(quiet, new_mail(), "intake", "outbound")
        with quiet.db.session() as session:
            assert session.scalars(select(Ticket)).one() is not None
            assert session.scalars(select(Delivery)).all() == []
    finally:
        set_current(None)
        quiet.close()


def test_no_reply_local_parts() -> None:
    assert is_noreply("noreply") and is_noreply("no_reply+x") and is_noreply("postmaster")
    assert not is_noreply("alice") and not is_noreply("norbert") and not is_noreply("replyguy")


def test_response_time_in_words() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert response_time(now + timedelta(minutes=45), now, "en") == "45 minutes"
    assert response_time(now + timedelta(hours=1), now, "en") == "60 minutes"
    assert response_time(now + timedelta(hours=4), now, "en") == "4 hours"
    assert response_time(now + timedelta(hours=24), now, "zh") == "24 小时"
    assert response_time(now + timedelta(days=3), now, "en") == "3 days"
    assert response_time(now + timedelta(days=1, hours=1), now, "en") == "25 hours"
    assert response_time(None, now, "en") == "a short time"
