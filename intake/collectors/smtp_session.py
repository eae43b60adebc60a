"""The SMTP session: aiosmtpd's :class:`~aiosmtpd.smtp.SMTP` with the gateway's limits on
connections and bytes, its own DATA reader and a cheaper address parse.

The decisions behind the limits are in :mod:`intake.collectors.smtp_limits`; the handler that
stores messages and the controller are in :mod:`intake.collectors.smtp`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from typing import Any

from aiosmtpd.smtp import SMTP

from intake.collectors.smtp_limits import ConnectionGate, DataBudget, StreamGuard
from intake.core.metrics import count_rejected
from intake.core.settings import SmtpLimitSettings

log = logging.getLogger(__name__)


def peer_host(peer: object) -> str:
    """The client's IP address from a socket peer name (a tuple; the address comes first)."""
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# RFC 5322 dot-atom local part at a domain of ASCII labels, in angle brackets, nothing else.
_PLAIN_ANGLE_ADDRESS = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


class IntakeSMTP(SMTP):
    """aiosmtpd's SMTP session with the gateway's limits on connections and bytes."""

    def __init__(
        self,
        handler: Any,
        *,
        gate: ConnectionGate,
        budget: DataBudget,
        limits: SmtpLimitSettings,
        **kwargs: Any,
    ) -> None:
        # Read by SMTP.__init__ when it builds the stream reader, so set before it.
        self.line_length_limit = limits.max_line_bytes
        self.command_size_limit = limits.max_command_bytes
        super().__init__(handler, **kwargs)
        # aiosmtpd keeps these in a dict shared by every session of the class, cleared by each new
        # session and grown by each EHLO; one dict per session keeps one client from another's.
        self.command_size_limits = defaultdict(lambda: limits.max_command_bytes)
        self.gate = gate
        self.gate_key: str | None = None
        self.refused = False
        self.data_timeout = float(limits.data_timeout_seconds)
        self.guard = StreamGuard(
            max_data_line=limits.max_line_bytes,
            max_data_bytes=kwargs["data_size_limit"],
            budget=budget,
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is not None:  # the same connection, after STARTTLS
            super().connection_made(transport)
            return
        host = peer_host(transport.get_extra_info("peername"))
        self.gate_key = self.gate.admit(host)
        if self.gate_key is None:
            self.refused = True
            log.info("SMTP %s: too many connections, refused", host)
            count_rejected("smtp", "too_many_connections")
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
            transport.close()
            return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.guard.end_data()
        if self.gate_key is not None:
            self.gate.release(self.gate_key)
            self.gate_key = None
        if not self.refused:  # a refused connection never started a session to clean up
            super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if self.refused or not isinstance(self.transport, asyncio.WriteTransport):
            return
        reply = self.guard.feed(data)
        if reply is None:
            super().data_received(data)
            return
        log.info("SMTP %s: %s", peer_host(self.session.peer if self.session else None), reply)
        count_rejected("smtp", "too_big" if reply.startswith("552") else "line_too_long")
        # Answer and close now, before buffering more: the bytes can no longer become a message
        # we would accept, and aiosmtpd would otherwise read them all before answering.
        self.transport.write(reply.encode() + b"\r\n")
        self.transport.close()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parse, with a shortcut for the everyday ``<local@domain> ...``.

        aiosmtpd parses every MAIL and RCPT address with the email package's header parser
        (about 0.1 ms each, a tenth of the SMTP process's CPU per message); an address that is
        a plain dot-atom at a plain domain gets the same answer from one regular expression.
        Anything else (quotes, comments, literals, non-ASCII) still goes to aiosmtpd.
        """
        match = _PLAIN_ANGLE_ADDRESS.match(arg)
        if match is not None:
            rest = arg[match.end() :].lstrip(" \t")
            if not rest.startswith("("):  # a comment: aiosmtpd's parser skips it
                address = match.group(1)
                local_part = address.rpartition("@")[0]
                if self.local_part_limit and len(local_part) > self.local_part_limit:
                    return None, None
                return address, rest
        return super()._getaddr(arg)

    async def smtp_EHLO(self, hostname: str) -> None:
        # Each EHLO adds the SIZE and SMTPUTF8 allowance to MAIL's limit again; start afresh.
        self.command_size_limits.clear()
        await super().smtp_EHLO(hostname)

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, reading the message into one buffer.

        aiosmtpd keeps each line as its own bytearray (some 65 octets of overhead a line), so a
        message of empty lines costs ~30 times its size; here a message costs about its size.
        The command timeout is for waiting on commands; the message gets a longer, fixed
        deadline for the whole transfer, so a slow drip cannot hold its slot for ever.
        """
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self._reset_timeout(self.data_timeout)
        self.guard.start_data()
        try:
            self.event_handler.receiving += 1
            try:
                refusal = await self._read_message()
            finally:
                self.event_handler.receiving -= 1
            if refusal is not None:
                status = refusal
                count_rejected("smtp", "too_big" if refusal.startswith("552") else "line_too_long")
            else:
                status = await self._call_handler_hook("DATA")
        finally:
            self.envelope = self._create_envelope()  # the next transaction starts empty
            self.guard.end_data()
            self._reset_timeout()
        await self.push(status)

    async def _read_message(self) -> str | None:
        """Read up to the lone dot into the envelope; the refusal when the message is not kept."""
        assert self.envelope is not None
        limit = self.data_size_limit or 0
        body = bytearray()
        refusal = None
        while True:
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as error:
                # Only lines ended by a bare LF get here (the guard closes on longer CRLF-less
                # ones); drain them like aiosmtpd and refuse at the end.
                await self._reader.readexactly(error.consumed)
                refusal, body = "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)", bytearray()
                continue
            if line == b".\r\n":
                break
            if refusal is not None:
                continue
            # RFC 5321 4.5.2: a leading dot was doubled by the sender.
            body += memoryview(line)[1:] if line.startswith(b".") else line
            if limit and len(body) > limit:
                refusal, body = "552 5.3.4 Message too big", bytearray()
        if refusal is None:
            raw = bytes(body)
            del body  # one copy at a time: this runs on the event loop's only thread
            self.envelope.content = self.envelope.original_content = raw
        return refusal
