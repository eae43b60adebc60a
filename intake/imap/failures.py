"""Turn whatever a connection attempt raised into a short, exact sentence for the admin UI.

The server's own words are kept (an admin needs "[AUTHENTICATIONFAILED] Authentication failed."
or "[UNAVAILABLE] Try again later", not "error"); secrets never reach these strings because
imapclient does not echo credentials in its exceptions.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from enum import Enum

from imapclient.exceptions import IMAPClientError, LoginError

from intake.errors import IntakeError, StorageError

MAX_MESSAGE = 500


class FailureKind(str, Enum):
    DNS = "dns"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS = "tls"
    AUTH = "auth"
    THROTTLED = "throttled"
    PROTOCOL = "protocol"
    NETWORK = "network"
    CONFIG = "config"
    STORAGE = "storage"


class ImapAuthError(IntakeError):
    """Credentials were refused (by the IMAP server or the OAuth2 token endpoint)."""


class ImapProtocolError(IntakeError):
    """The server answered something we cannot work with (no such folder, no UIDVALIDITY)."""


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str

    def __str__(self) -> str:
        return self.message


THROTTLE_MARKERS = ("[UNAVAILABLE]", "[LIMIT]", "TRY AGAIN", "TOO MANY", "THROTTL", "RATE LIMIT")


def server_text(exc: BaseException) -> str:
    """imaplib wraps the server's bytes in str(b'...'): show the text the server sent."""
    text = str(exc)
    for prefix, quote in (("b'", "'"), ('b"', '"')):
        if text.startswith(prefix) and text.endswith(quote):
            text = text[2:-1]
    return text.replace("\\r", "").replace("\\n", " ").strip()


def describe_failure(exc: BaseException, host: str = "", port: int = 0) -> Failure:
    where = f"{host}:{port}" if host else "the server"
    if isinstance(exc, socket.gaierror):
        return _make(FailureKind.DNS, f"cannot resolve {host or 'host'}: {exc.strerror or exc}")
    if isinstance(exc, ConnectionRefusedError):
        return _make(FailureKind.REFUSED, f"connection to {where} refused")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return _make(FailureKind.TIMEOUT, f"{where} did not answer in time")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return _make(
            FailureKind.TLS, f"TLS with {where} failed: {getattr(exc, 'reason', None) or exc}"
        )
    if isinstance(exc, LoginError | ImapAuthError):
        text = server_text(exc)
        kind = FailureKind.THROTTLED if _throttled(text) else FailureKind.AUTH
        return _make(kind, f"login refused: {text}")
    if isinstance(exc, ImapProtocolError):
        return _make(FailureKind.PROTOCOL, str(exc))
    if isinstance(exc, IMAPClientError):
        text = server_text(exc)
        kind = FailureKind.THROTTLED if _throttled(text) else FailureKind.PROTOCOL
        return _make(kind, f"server said: {text}")
    if isinstance(exc, ValueError):  # our own checks: malformed stored settings or credentials
        return _make(FailureKind.CONFIG, str(exc))
    if isinstance(exc, IntakeError):
        kind = FailureKind.STORAGE if isinstance(exc, StorageError) else FailureKind.CONFIG
        return _make(kind, str(exc))
    if isinstance(exc, ConnectionError | EOFError):
        return _make(
            FailureKind.NETWORK, f"connection to {where} lost: {exc or exc.__class__.__name__}"
        )
    if isinstance(exc, OSError):
        return _make(FailureKind.NETWORK, f"network error with {where}: {exc.strerror or exc}")
    return _make(FailureKind.PROTOCOL, f"{exc.__class__.__name__}: {exc}")


def _throttled(text: str) -> bool:
    upper = text.upper()
    return any(marker in upper for marker in THROTTLE_MARKERS)


def _make(kind: FailureKind, message: str) -> Failure:
    return Failure(kind, message[:MAX_MESSAGE])
