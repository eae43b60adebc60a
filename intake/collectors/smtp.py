"""SMTP collector: a thin aiosmtpd adapter around :func:`process_smtp_message`.

Database work is blocking, so it runs in the default thread pool and never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.exc import SQLAlchemyError

from intake.core.accept import Accepted, accept_email, match_recipient
from intake.core.runtime import Runtime
from intake.domain import Source
from intake.errors import StorageError

log = logging.getLogger(__name__)


def recipient_mailbox(runtime: Runtime, address: str) -> tuple[bool, int | None]:
    """(accepted, mailbox id) for one RCPT TO address."""
    with runtime.db.session() as session:
        match = match_recipient(session, runtime.settings.accept_domains, address)
    return (match is not None, match.mailbox_id if match else None)


def process_smtp_message(
    runtime: Runtime, mail_from: str | None, rcpt_tos: Sequence[str], raw: bytes
) -> list[Accepted]:
    """Store one SMTP transaction: one message per distinct mailbox among the recipients."""
    groups: dict[int | None, list[str]] = defaultdict(list)
    for address in rcpt_tos:
        accepted, mailbox_id = recipient_mailbox(runtime, address)
        if not accepted:
            # Accepted at RCPT, gone by DATA (an admin just removed the mailbox): a temporary
            # failure makes the sender retry and hear 550 for that address, never a false 250.
            raise StorageError(f"recipient {address} is no longer accepted")
        groups[mailbox_id].append(address)
    return [
        accept_email(
            runtime,
            raw,
            source=Source.SMTP,
            envelope_from=mail_from or None,
            recipients=recipients,
            mailbox_id=mailbox_id,
        )
        for mailbox_id, recipients in groups.items()
    ]


class IntakeHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handle_RCPT(  # aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        loop = asyncio.get_running_loop()
        try:
            accepted, _ = await loop.run_in_executor(None, recipient_mailbox, self.runtime, address)
        except SQLAlchemyError as exc:
            log.error("recipient lookup failed: %s", exc)
            return "451 4.3.0 Temporary lookup failure, try again later"
        if not accepted:
            return f"550 5.1.1 <{address}>: recipient address rejected, not a mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(
                None,
                process_smtp_message,
                self.runtime,
                envelope.mail_from,
                list(envelope.rcpt_tos),
                raw,
            )
        except StorageError as exc:
            log.error("could not store message from %s: %s", envelope.mail_from, exc)
            return "451 4.3.0 Could not store the message, try again later"
        except Exception:
            # Never answer 250 for something we did not keep; the client will retry.
            log.exception("unexpected error storing message from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure, try again later"
        ids = ",".join(str(a.message_id) for a in stored)
        log.info(
            "accepted message from %s for %s as %s", envelope.mail_from, envelope.rcpt_tos, ids
        )
        return "250 2.0.0 Message accepted"


class IntakeController(Controller):
    """aiosmtpd's controller with a tolerant line-length limit.

    RFC 5321 caps lines at 1000 octets, but real senders emit longer ones (unwrapped base64,
    HTML on one line) and refusing them would lose customer mail; the size limit still applies.
    """

    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        # SMTP reads the limit as a class attribute while building its stream reader.
        self.server_class = type(
            "IntakeSMTP", (SMTP,), {"line_length_limit": runtime.settings.max_message_bytes}
        )
        smtp_options: dict[str, Any] = {
            "data_size_limit": runtime.settings.max_message_bytes,
            "enable_SMTPUTF8": True,
            "ident": "Intake Gateway ESMTP",
        }
        super().__init__(IntakeHandler(runtime), hostname=host, port=port, **smtp_options)

    def factory(self) -> SMTP:
        server: SMTP = self.server_class(self.handler, **self.SMTP_kwargs)
        return server


def make_controller(runtime: Runtime, host: str, port: int) -> Controller:
    return IntakeController(runtime, host, port)
