"""Admins get one email when a mailbox keeps failing, if an outbound relay is configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.collectors.imap.alerts import send_failure_alert
from intake.core.db.models import Delivery
from intake.core.mailbox_state import ConnState, record_failure, record_success
from intake.core.mailboxes import MailboxSpec, add_mailbox
from intake.core.runtime import Runtime, set_current
from intake.core.users import add_user
from intake.domain import DeliveryState, OutboundKind, Role
from intake.imap.failures import Failure, FailureKind
from tests.conftest import make_runtime, run_jobs
from tests.outbound.conftest import Relay


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay().start()
    yield server
    server.stop()


@pytest.fixture
def relayed_runtime(
    tmp_path: Path, sqlite_url: str, redis_url: str, relay: Relay
) -> Iterator[Runtime]:
    runtime = make_runtime(
        tmp_path,
        sqlite_url,
        redis_url,
        INTAKE_OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{relay.port}",
        INTAKE_REPLY_FROM="support@example.com",
    )
    set_current(runtime)
    yield runtime
    set_current(None)
    runtime.close()


def test_failure_alert_mail_goes_to_active_admins_through_the_outbox(
    relayed_runtime: Runtime, relay: Relay
) -> None:
    with relayed_runtime.db.session() as session:
        add_user(session, "boss@example.com", Role.ADMIN, "pw-123456789")
        add_user(session, "agent@example.com", Role.AGENT, "pw-123456789")
    assert send_failure_alert(relayed_runtime, "support", "login refused: nope", 5)
    assert relay.received == []  # queued, not sent from the poller's thread
    run_jobs(relayed_runtime, "outbound")
    (mail,) = relay.received
    assert mail.recipients == ["boss@example.com"]
    assert mail.header("Subject") == "Intake: mailbox support is failing"
    assert mail.header("Auto-Submitted") == "auto-generated"
    assert "login refused: nope" in mail.text


def test_a_relay_that_is_down_keeps_the_alert_waiting(
    relayed_runtime: Runtime, relay: Relay
) -> None:
    with relayed_runtime.db.session() as session:
        add_user(session, "boss@example.com", Role.ADMIN, "pw-123456789")
    relay.stop()
    assert send_failure_alert(relayed_runtime, "support", "timed out", 3)
    run_jobs(relayed_runtime, "outbound")
    with relayed_runtime.db.session() as session:
        (delivery,) = session.scalars(select(Delivery))
        assert delivery.kind == OutboundKind.NOTIFICATION
        assert delivery.state == DeliveryState.QUEUED  # to be retried, with the error shown
        assert delivery.attempts == 1 and delivery.error


def test_without_a_relay_no_alert_mail_is_attempted(sqlite_runtime: Runtime) -> None:
    assert not send_failure_alert(sqlite_runtime, "x", "err", 5)


def test_the_alert_fires_once_per_outage_at_the_threshold(sqlite_runtime: Runtime) -> None:
    with sqlite_runtime.db.session() as session:
        spec = MailboxSpec(name="box", addresses=["box@example.com"])
        mailbox_id = add_mailbox(session, sqlite_runtime.settings, spec, None).id
    failure = Failure(FailureKind.REFUSED, "connection to x:993 refused")
    fired = [record_failure(sqlite_runtime.db, mailbox_id, failure, 3) for _ in range(5)]
    assert fired == [False, False, True, False, False]
    record_success(sqlite_runtime.db, mailbox_id, ConnState.IDLE)
    fired = [record_failure(sqlite_runtime.db, mailbox_id, failure, 3) for _ in range(3)]
    assert fired == [False, False, True]
