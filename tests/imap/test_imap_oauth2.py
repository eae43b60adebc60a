"""OAuth2 refresh flow against a small local token endpoint (real HTTP, no network)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from intake.core.mailboxes import MailboxSpec, add_mailbox
from intake.core.runtime import Runtime
from intake.core.secrets import decrypt
from intake.imap.config import Credentials, OAuth2Credentials, TlsMode
from intake.imap.connection import TokenCache
from intake.imap.failures import ImapAuthError
from intake.imap.oauth2 import parse_token_response, refresh_access_token
from tests.imap.conftest import (
    USERS,
    mailbox_row,
    require_dovecot,
    running_manager,
    stored_count,
    wait_for,
)
from tests.imap.dovecot import running_dovecot
from tests.mailfactory import make_mail


class TokenEndpoint:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.responses: list[tuple[int, dict[str, Any]]] = []
        self.url = ""


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    state = TokenEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers["Content-Length"])
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            state.requests.append({k: v[0] for k, v in form.items()})
            status, body = state.responses.pop(0)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def grant(url: str) -> OAuth2Credentials:
    return OAuth2Credentials(
        url,
        "client-1",
        "refresh-1",
        "client-secret",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
    )


def test_refresh_posts_the_grant_and_returns_the_access_token(endpoint: TokenEndpoint) -> None:
    endpoint.responses.append(
        (200, {"access_token": "at-1", "expires_in": 3600, "token_type": "Bearer"})
    )
    token = refresh_access_token(grant(endpoint.url))
    assert token.token == "at-1" and token.refresh_token is None
    assert endpoint.requests == [
        {
            "grant_type": "refresh_token",
            "refresh_token": "refresh-1",
            "client_id": "client-1",
            "client_secret": "client-secret",
            "scope": "https://outlook.office.com/IMAP.AccessAsUser.All",
        }
    ]


def test_a_revoked_refresh_token_reports_the_providers_error(endpoint: TokenEndpoint) -> None:
    endpoint.responses.append(
        (400, {"error": "invalid_grant", "error_description": "AADSTS70008: token expired"})
    )
    with pytest.raises(ImapAuthError, match="invalid_grant AADSTS70008: token expired"):
        refresh_access_token(grant(endpoint.url))


def test_an_unreachable_token_endpoint_is_a_clear_error() -> None:
    with pytest.raises(ImapAuthError, match="unreachable"):
        refresh_access_token(grant("http://127.0.0.1:9/token"), timeout=2)


def test_token_cache_reuses_a_fresh_token_and_stores_a_rotated_refresh_token(
    endpoint: TokenEndpoint,
) -> None:
    creds = Credentials(oauth2=grant(endpoint.url))
    rotated: list[Credentials] = []
    endpoint.responses.append(
        (200, {"access_token": "at-1", "expires_in": 60, "refresh_token": "refresh-2"})
    )
    endpoint.responses.append((200, {"access_token": "at-2", "expires_in": 3600}))
    cache = TokenCache()
    # 60 s is inside the expiry margin: the second call must refresh again.
    assert cache.access_token(creds, rotated.append) == "at-1"
    assert (
        rotated and rotated[0].oauth2 is not None and rotated[0].oauth2.refresh_token == "refresh-2"
    )
    assert cache.access_token(creds, rotated.append) == "at-2"
    assert cache.access_token(creds, rotated.append) == "at-2"
    assert len(endpoint.requests) == 2 and len(rotated) == 1


@pytest.mark.parametrize(
    "body", [b"<html>", b"[1]", b'{"token_type": "Bearer"}', b'{"access_token": ""}']
)
def test_malformed_token_responses_are_auth_errors_not_crashes(body: bytes) -> None:
    with pytest.raises(ImapAuthError):
        parse_token_response(body, now=0.0)


class Provider:
    """A token endpoint that rotates refresh tokens, plus RFC 7662 introspection for Dovecot."""

    def __init__(self) -> None:
        self.refresh_tokens = {"refresh-1": "alice"}
        self.access_tokens: dict[str, str] = {}
        self.grants = 0
        self.url = ""


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers["Content-Length"])
            form = {
                k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()
            }
            if self.path == "/token":
                user = state.refresh_tokens.pop(form.get("refresh_token", ""), None)
                if user is None:
                    self.reply(400, {"error": "invalid_grant"})
                    return
                state.grants += 1
                access, refresh = f"at-{state.grants}", f"refresh-{state.grants + 1}"
                state.access_tokens[access] = user
                state.refresh_tokens[refresh] = user
                self.reply(
                    200, {"access_token": access, "expires_in": 3600, "refresh_token": refresh}
                )
            else:
                user = state.access_tokens.get(form.get("token", ""))
                body: dict[str, Any] = (
                    {"active": "true", "username": user} if user else {"active": "false"}
                )
                self.reply(200, body)

        def reply(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_xoauth2_mailbox_refreshes_its_token_logs_in_and_keeps_the_rotated_grant(
    sqlite_runtime: Runtime, provider: Provider
) -> None:
    require_dovecot()
    with running_dovecot(USERS, oauth2_introspection_url=f"{provider.url}/introspect") as server:
        grant = OAuth2Credentials(f"{provider.url}/token", "client-1", "refresh-1")
        with sqlite_runtime.db.session() as session:
            spec = MailboxSpec(
                name="m365",
                imap_host="127.0.0.1",
                imap_port=server.port,
                imap_tls=TlsMode.NONE,
                imap_user="alice",
                poll_seconds=3600,
            )
            mailbox_id = add_mailbox(
                session, sqlite_runtime.settings, spec, Credentials(oauth2=grant)
            ).id
        with running_manager(sqlite_runtime):
            server.append(make_mail(message_id="<oauth-1@x>"))
            wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 1, what="XOAUTH2 mail")
            # The provider revokes the access token and the server drops the connection: the
            # refused login must lead to a fresh grant with the rotated refresh token.
            provider.access_tokens.clear()
            server.stop()
            server.start()
            server.append(make_mail(message_id="<oauth-2@x>"))
            wait_for(
                lambda: stored_count(sqlite_runtime, mailbox_id) == 2,
                timeout=45,  # Dovecot's auth penalty delays the login after the refusal
                what="mail after re-authentication",
            )
        row = mailbox_row(sqlite_runtime, mailbox_id)
        assert row.auth_kind == "xoauth2" and row.secret_encrypted is not None
        stored = Credentials.from_json(decrypt(sqlite_runtime.settings, row.secret_encrypted))
        # The provider rotated the refresh token: the old one is dead, the new one is kept.
        assert stored.oauth2 is not None and stored.oauth2.refresh_token == "refresh-3"
        assert provider.grants == 2
