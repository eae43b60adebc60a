"""SMTP collector: a thin aiosmtpd adapter around the core's group commit.

Messages are stored by :class:`intake.core.group_commit.GroupCommitter`: concurrent sessions'
messages share one sync round and one transaction, and each session answers 250 only once its
message's transaction committed (451 if it failed). Recipients are checked against an in-memory
:class:`intake.core.address_book.AddressBook`; database work never runs on the event loop.
The limits (connections, rates, line lengths) are decided in :mod:`intake.collectors.smtp_limits`
and enforced through aiosmtpd's hooks here and in the session class
(:mod:`intake.collectors.smtp_session`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import ssl
import time
from collections.abc import Sequence
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy.exc import SQLAlchemyError

from intake.collectors.smtp_limits import (
    FREE_MESSAGE_BYTES,
    ConnectionGate,
    DataBudget,
    RateWindow,
    client_key,
    is_trusted,
    parse_networks,
)
from intake.collectors.smtp_session import IntakeSMTP, peer_host
from intake.core.accept import Accepted, InboundEmail, enqueue_ingest, store_emails
from intake.core.address_book import AddressBook
from intake.core.group_commit import GroupCommitter
from intake.core.metrics import count_accepted, count_rejected
from intake.core.runtime import Runtime
from intake.core.settings import SmtpLimitSettings
from intake.domain import Source
from intake.errors import StorageError

log = logging.getLogger(__name__)


def smtp_email(mail_from: str | None, rcpt_tos: Sequence[str], raw: bytes) -> InboundEmail:
    """One SMTP transaction's message: a row per distinct mailbox among the recipients."""
    return InboundEmail(
        raw,
        Source.SMTP,
        envelope_from=mail_from or None,
        recipients=tuple(rcpt_tos),
        route_by_recipient=True,
    )


def process_smtp_message(
    runtime: Runtime, mail_from: str | None, rcpt_tos: Sequence[str], raw: bytes
) -> list[Accepted]:
    """Store one SMTP transaction on its own (no group commit); raises StorageError."""
    (outcome,) = store_emails(runtime, [smtp_email(mail_from, rcpt_tos, raw)])
    if isinstance(outcome, StorageError):
        raise outcome
    enqueue_ingest(runtime, [outcome])
    return outcome


class IntakeHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.limits = runtime.settings.smtp
        self.addresses = AddressBook(runtime.db, runtime.settings.accept_domains)
        # Sessions reading a message body now: the group commit waits a little for them.
        self.receiving = 0
        self.committer = GroupCommitter(runtime, self.addresses, coming=lambda: self.receiving > 0)
        self.trusted = parse_networks(self.limits.trusted_networks)
        self.messages = RateWindow(self.limits.messages_per_minute_per_ip)
        self.large_stores = asyncio.Semaphore(1)

    async def handle_EHLO(  # aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # With this hook aiosmtpd leaves remembering the greeting to us.
        session.host_name = hostname
        if self.limits.auth_user is None:
            # Without a configured account every AUTH would fail: do not offer it.
            return [line for line in responses if not line.startswith("250-AUTH")]
        return responses

    async def handle_MAIL(  # aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        host = peer_host(session.peer)
        exempt = session.authenticated or is_trusted(host, self.trusted)
        if not exempt and not self.messages.allow(client_key(host), time.monotonic()):
            log.info("SMTP %s: over %d messages a minute", host, self.messages.limit)
            count_rejected("smtp", "rate_limited")
            return "450 4.7.1 Too many messages from your address, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        # Counts every RCPT of the transaction, refused ones too, so a client cannot make us look
        # up thousands of addresses in the database for one message.
        attempts: int = getattr(envelope, "rcpt_attempts", 0) + 1
        envelope.rcpt_attempts = attempts  # type: ignore[attr-defined]
        if attempts > self.limits.max_recipients:
            count_rejected("smtp", "too_many_recipients")
            return "452 4.5.3 Too many recipients"
        match = self.addresses.cached(address)
        if match is None:
            loop = asyncio.get_running_loop()
            try:
                match = await loop.run_in_executor(None, self.addresses.lookup, address)
            except SQLAlchemyError as exc:
                log.error("recipient lookup failed: %s", exc)
                count_rejected("smtp", "lookup_failed")
                return "451 4.3.0 Temporary lookup failure, try again later"
        if match is None:
            count_rejected("smtp", "unknown_recipient")
            return f"550 5.1.1 <{address}>: recipient address rejected, not a mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not raw:
            raw = envelope.content
        email = smtp_email(envelope.mail_from, list(envelope.rcpt_tos), raw)
        try:
            if len(raw) > FREE_MESSAGE_BYTES:
                # A reused Message-ID makes the store fingerprint the whole message, which holds
                # several copies of it for a while; one large message at a time bounds that.
                async with self.large_stores:
                    stored = await self.committer.submit_async(email)
            else:
                stored = await self.committer.submit_async(email)
        except Exception:
            # Never answer 250 for something we did not keep; the client will retry.
            log.exception("unexpected error storing message from %s", envelope.mail_from)
            count_rejected("smtp", "storage_failed")
            return "451 4.3.0 Temporary failure, try again later"
        if isinstance(stored, StorageError):
            log.error("could not store message from %s: %s", envelope.mail_from, stored)
            count_rejected("smtp", "storage_failed")
            return "451 4.3.0 Could not store the message, try again later"
        ids = ",".join(str(a.message_id) for a in stored)
        log.info(
            "accepted message from %s for %s as %s", envelope.mail_from, envelope.rcpt_tos, ids
        )
        count_accepted("smtp")
        return "250 2.0.0 Message accepted"


AUTH_FAILURES_PER_MINUTE = 5


def authenticator(limits: SmtpLimitSettings) -> Any:
    """aiosmtpd's authenticator for the one configured relay account (constant-time compare).

    After :data:`AUTH_FAILURES_PER_MINUTE` failures from one client in a minute, its attempts
    are refused unchecked until the minute has passed, so the password cannot be guessed fast.
    """
    failures = RateWindow(AUTH_FAILURES_PER_MINUTE)

    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        host = peer_host(session.peer)
        if failures.full(client_key(host), time.monotonic()):
            return AuthResult(
                success=False, handled=False, message="454 4.7.0 Too many failed AUTH, try later"
            )
        if not isinstance(auth_data, LoginPassword) or limits.auth_user is None:
            return AuthResult(success=False, handled=False)
        user_ok = hmac.compare_digest(auth_data.login, limits.auth_user.encode())
        password_ok = hmac.compare_digest(auth_data.password, (limits.auth_password or "").encode())
        if user_ok and password_ok:
            return AuthResult(success=True)
        log.info("SMTP %s: failed AUTH", host)
        failures.allow(client_key(host), time.monotonic())  # records the failure
        return AuthResult(success=False, handled=False)

    return check


class _SessionChatterToDebug(logging.Filter):
    """aiosmtpd logs every command and connection at INFO; they are debugging detail here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_session_chatter() -> None:
    logger = logging.getLogger("mail.log")
    if not any(isinstance(f, _SessionChatterToDebug) for f in logger.filters):
        logger.addFilter(_SessionChatterToDebug())


def tls_context(limits: SmtpLimitSettings) -> ssl.SSLContext | None:
    if limits.tls_cert is None or limits.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(limits.tls_cert, limits.tls_key)
    return context


class IntakeController(Controller):
    """aiosmtpd's controller serving :class:`IntakeSMTP` sessions with the configured limits."""

    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        limits = runtime.settings.smtp
        self.limits = limits
        self.budget = DataBudget(limits.data_budget_bytes)
        self.gate = ConnectionGate(
            max_total=limits.max_connections,
            max_per_client=limits.max_connections_per_ip,
            trusted=parse_networks(limits.trusted_networks),
        )
        quiet_session_chatter()
        smtp_options: dict[str, Any] = {
            "data_size_limit": runtime.settings.max_message_bytes,
            "enable_SMTPUTF8": True,
            "ident": "Intake Gateway ESMTP",
            "timeout": float(limits.timeout_seconds),
            "tls_context": tls_context(limits),
            "require_starttls": limits.require_tls,
            "auth_required": limits.auth_required,
            "auth_require_tls": not limits.auth_allow_plaintext,
            "authenticator": authenticator(limits),
        }
        self.intake_handler = IntakeHandler(runtime)
        super().__init__(self.intake_handler, hostname=host, port=port, **smtp_options)

    def start(self) -> None:
        self.intake_handler.committer.start()
        try:
            super().start()
        except BaseException:
            self.intake_handler.committer.stop()
            raise

    def stop(self, no_assert: bool = False) -> None:
        # Sessions first, so nothing is submitted after the writer thread has drained.
        try:
            super().stop(no_assert=no_assert)
        finally:
            self.intake_handler.committer.stop()

    def _create_server(self) -> Any:
        # SO_REUSEPORT: ``intake up`` runs several of these processes on one port and the kernel
        # spreads the connections over them (each process is bound by its interpreter lock).
        # A port held by anything else is still refused at bind.
        return self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            reuse_port=hasattr(socket, "SO_REUSEPORT"),
        )

    def _trigger_server(self) -> None:
        # aiosmtpd connects to the port to have factory() run once (its errors surface at start);
        # with another process on the port that connection may be served there, so build one
        # session object on the loop instead, which is all the connection was for.
        async def build() -> None:
            self._factory_invoker()

        asyncio.run_coroutine_threadsafe(build(), self.loop).result(self.ready_timeout)

    def factory(self) -> SMTP:
        return IntakeSMTP(
            self.handler, gate=self.gate, budget=self.budget, limits=self.limits, **self.SMTP_kwargs
        )


def make_controller(runtime: Runtime, host: str, port: int) -> Controller:
    return IntakeController(runtime, host, port)
