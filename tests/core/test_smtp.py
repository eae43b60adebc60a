from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from sqlalchemy import select, text

from intake.collectors.smtp import make_controller
from intake.core.db.models import Mailbox, Message
from intake.core.runtime import Runtime
from intake.domain import MessageState
from tests.conftest import free_port, make_runtime, run_jobs
from tests.mailfactory import make_mail
from workers.sweeper import sweep_once


def send(port: int, raw: bytes, to: list[str], sender: str = "alice@customer.org") -> dict:  # type: ignore[type-arg]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(sender, to, raw)


def test_mail_for_an_accepted_domain_is_stored_before_250(runtime: Runtime, smtp_port: int) -> None:
    raw = make_mail()
    assert send(smtp_port, raw, ["support@example.com"]) == {}
    with runtime.db.session() as session:
        row = session.scalars(select(Message)).one()
        assert row.state == MessageState.RECEIVED
        assert runtime.blobs.get(row.raw_sha256) == raw
        assert row.envelope_to == ["support@example.com"]


def test_unknown_recipient_is_refused_at_rcpt_with_550_5_1_1(smtp_port: int) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp_port, make_mail(), ["someone@elsewhere.net"])
    code, reply = refused.value.recipients["someone@elsewhere.net"]
    assert code == 550 and reply.startswith(b"5.1.1")


def test_configured_mailbox_address_is_accepted_and_scoped_to_that_mailbox(
    runtime: Runtime, smtp_port: int
) -> None:
    with runtime.db.session() as session:
        session.add(Mailbox(name="sales", addresses=["sales@shop.test"]))
    send(smtp_port, make_mail(to="sales@shop.test"), ["Sales@Shop.test"])
    with runtime.db.session() as session:
        row = session.scalars(select(Message)).one()
        assert row.mailbox_id is not None and row.dedup_scope == f"mailbox:{row.mailbox_id}"


def test_message_over_the_size_limit_gets_552(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    small = make_runtime(tmp_path, sqlite_url, redis_url, INTAKE_MAX_MESSAGE_BYTES="4096")
    port = free_port()
    controller = make_controller(small, "127.0.0.1", port)
    controller.start()
    try:
        # smtplib declares SIZE, so the refusal comes at MAIL FROM already.
        with pytest.raises(smtplib.SMTPResponseException) as error:
            send(port, make_mail(body="x" * 20000), ["support@example.com"])
        assert error.value.smtp_code == 552
    finally:
        controller.stop()
        small.close()


def test_database_failure_at_data_answers_451_and_never_250(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    # SQLite only: the test breaks the schema on purpose (recipient lookups still work).
    broken = make_runtime(tmp_path, sqlite_url, redis_url)
    with broken.db.engine.begin() as conn:
        conn.execute(text("DROP TABLE attachments"))
        conn.execute(text("DROP TABLE transcripts"))
        conn.execute(text("ALTER TABLE messages RENAME TO messages_gone"))
    port = free_port()
    controller = make_controller(broken, "127.0.0.1", port)
    controller.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            send(port, make_mail(), ["support@example.com"])
        assert error.value.smtp_code == 451
    finally:
        controller.stop()
        broken.close()


def test_redis_down_still_answers_250_and_the_sweeper_enqueues_later(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    offline = make_runtime(tmp_path, sqlite_url, "redis://127.0.0.1:1/0")
    port = free_port()
    controller = make_controller(offline, "127.0.0.1", port)
    controller.start()
    try:
        assert send(port, make_mail(), ["support@example.com"]) == {}
    finally:
        controller.stop()
        offline.close()
    online = make_runtime(tmp_path, sqlite_url, redis_url, INTAKE_SWEEP_SECONDS="1")
    with online.db.session() as session:
        row = session.scalars(select(Message)).one()
        assert row.state == MessageState.RECEIVED
        # Past the sweeper's grace period.
        row.received_at = row.received_at.replace(year=row.received_at.year - 1)
    try:
        from intake.core.runtime import set_current

        set_current(online)
        assert sweep_once(online) == 1
        run_jobs(online, "intake")
        with online.db.session() as session:
            row = session.scalars(select(Message)).one()
            assert row.state == MessageState.PROCESSED and row.ticket_id is not None
    finally:
        set_current(None)
        online.close()
