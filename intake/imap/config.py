"""What a mailbox is configured to do, as plain values: TLS, auth, after-action, credentials."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TlsMode(str, Enum):
    IMPLICIT = "implicit"
    STARTTLS = "starttls"
    NONE = "none"  # plaintext: for loopback and test servers only


class AuthKind(str, Enum):
    PASSWORD = "password"
    XOAUTH2 = "xoauth2"


class AfterKind(str, Enum):
    SEEN = "seen"
    MOVE = "move"
    DELETE = "delete"


@dataclass(frozen=True)
class AfterAction:
    """What happens to a message on the server once it is durably stored."""

    kind: AfterKind
    folder: str | None = None  # only for MOVE

    def __str__(self) -> str:
        return f"move:{self.folder}" if self.kind is AfterKind.MOVE else self.kind.value


def parse_after_action(text: str) -> AfterAction:
    """``seen``, ``delete`` or ``move:FOLDER``; raises ValueError with a readable reason."""
    value = text.strip()
    kind, sep, folder = value.partition(":")
    kind = kind.strip().lower()
    if kind == AfterKind.MOVE.value:
        folder = folder.strip()
        if not sep or not folder:
            raise ValueError("move needs a folder, e.g. move:Archive")
        if any(ch in folder for ch in "\r\n\x00"):
            raise ValueError("folder name contains a control character")
        return AfterAction(AfterKind.MOVE, folder)
    if sep:
        raise ValueError(f"only move takes a folder, got {value!r}")
    try:
        return AfterAction(AfterKind(kind))
    except ValueError:
        raise ValueError(
            f"after-action must be seen, delete or move:FOLDER, got {value!r}"
        ) from None


@dataclass(frozen=True)
class OAuth2Credentials:
    """A refresh-token grant against the provider's token endpoint (e.g. Microsoft 365, Gmail)."""

    token_url: str
    client_id: str
    refresh_token: str
    client_secret: str = ""
    scope: str = ""


@dataclass(frozen=True)
class Credentials:
    """Exactly one of a password or an OAuth2 grant; stored encrypted as JSON."""

    password: str | None = None
    oauth2: OAuth2Credentials | None = None

    @property
    def kind(self) -> AuthKind:
        return AuthKind.XOAUTH2 if self.oauth2 is not None else AuthKind.PASSWORD

    def to_json(self) -> str:
        data: dict[str, Any] = {"kind": self.kind.value}
        if self.oauth2 is not None:
            data["oauth2"] = {
                "token_url": self.oauth2.token_url,
                "client_id": self.oauth2.client_id,
                "client_secret": self.oauth2.client_secret,
                "refresh_token": self.oauth2.refresh_token,
                "scope": self.oauth2.scope,
            }
        else:
            data["password"] = self.password or ""
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Credentials:
        try:
            data = json.loads(text)
            if data.get("kind") == AuthKind.XOAUTH2.value:
                o = data["oauth2"]
                return cls(
                    oauth2=OAuth2Credentials(
                        token_url=str(o["token_url"]),
                        client_id=str(o["client_id"]),
                        refresh_token=str(o["refresh_token"]),
                        client_secret=str(o.get("client_secret", "")),
                        scope=str(o.get("scope", "")),
                    )
                )
            return cls(password=str(data["password"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError("stored mailbox credentials are malformed") from None


@dataclass(frozen=True)
class MailboxConfig:
    """A snapshot of one IMAP mailbox row; the worker never reads the ORM object."""

    id: int
    name: str
    host: str
    port: int
    tls: TlsMode
    user: str
    folder: str
    after: AfterAction
    poll_seconds: int
    backfill_days: int
    addresses: tuple[str, ...] = ()
    secret_encrypted: bytes | None = field(default=None, repr=False)

    def fingerprint(self) -> tuple[Any, ...]:
        """Everything that, when changed, needs a fresh connection."""
        return (
            self.host,
            self.port,
            self.tls,
            self.user,
            self.folder,
            str(self.after),
            self.poll_seconds,
            self.backfill_days,
            self.addresses,
            self.secret_encrypted,
        )


def default_port(tls: TlsMode) -> int:
    return 993 if tls is TlsMode.IMPLICIT else 143
