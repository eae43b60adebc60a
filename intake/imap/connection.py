"""Open an authenticated imapclient connection for a mailbox, and the admin's "test connection"."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from imapclient import IMAPClient

from intake.imap.config import Credentials, MailboxConfig, TlsMode
from intake.imap.failures import ImapAuthError, ImapProtocolError, describe_failure
from intake.imap.oauth2 import AccessToken, refresh_access_token

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0


class TokenCache:
    """One mailbox's access token, refreshed before expiry; reports rotated refresh tokens."""

    def __init__(self) -> None:
        self.current: AccessToken | None = None

    def access_token(self, creds: Credentials, on_rotate: Callable[[Credentials], None]) -> str:
        assert creds.oauth2 is not None
        if self.current is None or not self.current.fresh(time.time()):
            self.current = refresh_access_token(creds.oauth2)
            if (
                self.current.refresh_token
                and self.current.refresh_token != creds.oauth2.refresh_token
            ):
                on_rotate(
                    Credentials(
                        oauth2=replace(creds.oauth2, refresh_token=self.current.refresh_token)
                    )
                )
        return self.current.token


def open_connection(
    config: MailboxConfig,
    creds: Credentials,
    tokens: TokenCache | None = None,
    on_rotate: Callable[[Credentials], None] = lambda _c: None,
    timeout: float = CONNECT_TIMEOUT,
) -> IMAPClient:
    """Connect, secure and log in; the caller owns (and must log out) the returned client."""
    context = ssl.create_default_context()
    client = IMAPClient(
        config.host,
        port=config.port,
        ssl=config.tls is TlsMode.IMPLICIT,
        ssl_context=context if config.tls is TlsMode.IMPLICIT else None,
        timeout=timeout,
    )
    try:
        if config.tls is TlsMode.STARTTLS:
            client.starttls(context)
        if creds.oauth2 is not None:
            token = (tokens or TokenCache()).access_token(creds, on_rotate)
            client.oauth2_login(config.user, token)
        else:
            client.login(config.user, creds.password or "")
    except BaseException:
        _close_quietly(client)
        raise
    return client


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # the connection is being abandoned anyway
        log.debug("ignoring error while closing an abandoned connection", exc_info=True)


def logout_quietly(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the server may already be gone
        _close_quietly(client)


def select_folder(client: IMAPClient, folder: str) -> tuple[int, int | None]:
    """SELECT the folder; return (UIDVALIDITY, UIDNEXT)."""
    info = client.select_folder(folder)
    uidvalidity = info.get(b"UIDVALIDITY")
    if not isinstance(uidvalidity, int):
        raise ImapProtocolError(f"server sent no UIDVALIDITY for folder {folder!r}")
    uidnext = info.get(b"UIDNEXT")
    return uidvalidity, uidnext if isinstance(uidnext, int) else None


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str


def check_connection(
    config: MailboxConfig, creds: Credentials, timeout: float = 15.0
) -> ConnectionReport:
    """Connect, log in and examine the folder read-only; the failure text is the server's own."""
    try:
        client = open_connection(config, creds, timeout=timeout)
    except ImapAuthError as exc:
        return ConnectionReport(False, describe_failure(exc).message)
    except Exception as exc:  # every failure becomes a readable report
        return ConnectionReport(False, describe_failure(exc, config.host, config.port).message)
    try:
        info = client.select_folder(config.folder, readonly=True)
        idle = b"IDLE" in client.capabilities()
        exists = info.get(b"EXISTS", 0)
        how = "push (IDLE)" if idle else f"polling every {config.poll_seconds} s (no IDLE)"
        return ConnectionReport(True, f"connected; {config.folder} holds {exists} messages; {how}")
    except Exception as exc:
        return ConnectionReport(False, describe_failure(exc, config.host, config.port).message)
    finally:
        logout_quietly(client)
