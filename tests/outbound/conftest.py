"""A real SMTP relay for the outbound tests: aiosmtpd on a free port that keeps every mail.

``runtime`` here sends through it (``INTAKE_OUTBOUND_SMTP_URL``), on SQLite and PostgreSQL; the
``smtp_port`` fixture of tests/conftest.py then runs our SMTP collector into the same runtime,
so a customer's answer can travel back over SMTP.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from rq.job import Job
from sqlalchemy import select

from intake.core.db.models import Message
from intake.core.jobs import INGEST_MESSAGE
from intake.core.runtime import Runtime, set_current
from tests.conftest import free_port, make_runtime


@dataclass(frozen=True)
class Relayed:
    mail_from: str
    recipients: list[str]
    raw: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str:
        return str(self.message[name] or "")

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")


@dataclass
class Sink:
    """The aiosmtpd handler: keeps each mail, or answers ``refuse`` at DATA instead."""

    port: int
    received: list[Relayed] = field(default_factory=list)
    refuse: str | None = None
    refuse_rcpt: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        auth = session.auth_data if session.authenticated else None
        login = auth.login.decode() if auth is not None else None
        self.received.append(
            Relayed(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.content),
                # STARTTLS or implicit TLS: the transport in use is encrypted.
                server.transport.get_extra_info("ssl_object") is not None,
                login,
            )
        )
        return "250 2.0.0 Ok: queued as TEST1"


class Relay:
    """Start and stop the sink's server (a stopped relay is a relay that is down)."""

    def __init__(self, **controller_options: Any) -> None:
        self.sink = Sink(free_port())
        self.options = controller_options
        self.controller: Controller | None = None

    @property
    def port(self) -> int:
        return self.sink.port

    @property
    def received(self) -> list[Relayed]:
        return self.sink.received

    def start(self) -> Relay:
        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.sink.port, **self.options
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay().start()
    yield server
    server.stop()


@pytest.fixture
def runtime(tmp_path: Path, database_url: str, redis_url: str, relay: Relay) -> Iterator[Runtime]:
    """On both databases, sending through ``relay``; customers write to support@example.com."""
    rt = make_runtime(
        tmp_path, database_url, redis_url, INTAKE_OUTBOUND_SMTP_URL=f"smtp://127.0.0.1:{relay.port}"
    )
    set_current(rt)
    yield rt
    set_current(None)
    rt.close()


def send_to_collector(
    runtime: Runtime,
    port: int,
    raw: bytes,
    sender: str = "alice@customer.org",
    to: str = "support@example.com",
) -> None:
    """A customer's mail, over SMTP into our collector; returns once its job is queued.

    The collector answers 250 once the row is committed and enqueues just after, so a test that
    drains the queues at once could otherwise find them empty.
    """
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail(sender, [to], raw) == {}
    with runtime.db.session() as session:
        message_id = session.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
    assert message_id is not None
    job_id = INGEST_MESSAGE.job_id(message_id)
    deadline = time.monotonic() + 10
    while not Job.exists(job_id, connection=runtime.jobs.connection):
        assert time.monotonic() < deadline, f"{job_id} was never enqueued"
        time.sleep(0.02)
