"""Admins get one email when a mailbox keeps failing, if an outbound relay is configured."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from intake.collectors.imap.alerts import send_failure_alert
from intake.core.mailbox_state import ConnState, record_failure, record_success
from intake.core.mailboxes import MailboxSpec, add_mailbox
from intake.core.runtime import Runtime
from intake.core.users import add_user
from intake.domain import Role
from intake.imap.failures import Failure, FailureKind
from tests.imap.dovecot import free_port


class Collect:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[tuple[str, Collect]]:
    handler = Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", handler
    controller.stop()


def test_failure_alert_mail_goes_to_active_admins_through_the_relay(
    sqlite_runtime: Runtime, relay: tuple[str, Collect]
) -> None:
    url, handler = relay
    with sqlite_runtime.db.session() as session:
        add_user(session, "boss@example.com", Role.ADMIN, "pw-123456789")
        add_user(session, "agent@example.com", Role.AGENT, "pw-123456789")
    settings = dataclasses.replace(sqlite_runtime.settings, outbound_smtp_url=url)
    assert send_failure_alert(settings, sqlite_runtime.db, "support", "login refused: nope", 5)
    ((recipients, raw),) = handler.received
    assert recipients == ["boss@example.com"]
    message = message_from_bytes(raw)
    assert message["Subject"] == "Intake: mailbox support is failing"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "login refused: nope" in message.get_payload()


def test_without_a_relay_no_alert_mail_is_attempted(sqlite_runtime: Runtime) -> None:
    assert not send_failure_alert(sqlite_runtime.settings, sqlite_runtime.db, "x", "err", 5)


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
