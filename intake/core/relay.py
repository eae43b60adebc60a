"""The outbound relay: hands finished RFC 822 bytes to the SMTP server that sends our mail.

``INTAKE_OUTBOUND_SMTP_URL`` is ``smtp://[user:pass@]host[:port]`` (port 25 by default, as for
the mailbox alerts; STARTTLS whenever the relay offers it, AUTH when credentials are given) or
``smtps://[user:pass@]host[:port]`` (implicit TLS, port 465). Every failure is a
:class:`RelayError` carrying the relay's own answer (``451 4.3.0 Try again later``) or the
connection error, and whether trying again can help: a 5xx answer will not change by itself.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from intake.errors import ConfigError, IntakeError

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
ANSWER_LIMIT = 1000  # characters of a relay's answer kept


class RelayError(IntakeError):
    """The relay did not take the mail; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message[:ANSWER_LIMIT])
        self.permanent = permanent


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None
    timeout_s: float = TIMEOUT_S

    @property
    def display(self) -> str:
        """Where the relay is, for messages (never the password)."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_relay_url(url: str) -> RelayConfig:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ConfigError(
            f"INTAKE_OUTBOUND_SMTP_URL must start with smtp:// or smtps://, got {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ConfigError("INTAKE_OUTBOUND_SMTP_URL names no host")
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
    except ValueError:
        raise ConfigError("INTAKE_OUTBOUND_SMTP_URL has a bad port") from None
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return RelayConfig(parts.hostname, port, implicit, username, password)


def relay_config(url: str | None) -> RelayConfig:
    """The configured relay; a permanent RelayError when none is set (nothing can be sent)."""
    if not url:
        raise RelayError(
            "no outbound relay configured (set INTAKE_OUTBOUND_SMTP_URL)", permanent=True
        )
    try:
        return parse_relay_url(url)
    except ConfigError as exc:
        raise RelayError(str(exc), permanent=True) from None


def _answer(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}".strip()


def _refused(step: str, code: int, text: bytes | str) -> RelayError:
    return RelayError(f"{step}: {_answer(code, text)}", permanent=500 <= code < 600)


def _connect(config: RelayConfig, context: ssl.SSLContext) -> smtplib.SMTP:
    try:
        if config.implicit_tls:
            return smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_s, context=context
            )
        return smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    except smtplib.SMTPResponseException as exc:
        raise _refused("greeting", exc.smtp_code, exc.smtp_error) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise RelayError(f"cannot connect to {config.host}:{config.port}: {exc}") from None


def _authenticate(smtp: smtplib.SMTP, config: RelayConfig) -> None:
    """AUTH once, with the first mechanism both sides know: smtplib's ``login`` would try a
    refused password again under the next mechanism, and a relay that counts failures would lock
    the account twice as fast."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    smtp.user, smtp.password = config.username or "", config.password or ""
    mechanisms = (
        ("PLAIN", smtp.auth_plain),
        ("LOGIN", smtp.auth_login),
        ("CRAM-MD5", smtp.auth_cram_md5),
    )
    for name, method in mechanisms:
        if name in offered:
            smtp.auth(name, method)  # SMTPAuthenticationError with the relay's answer
            return
    raise RelayError(
        f"{config.display} offers no AUTH mechanism we know ({' '.join(offered)})", permanent=True
    )


def _session(
    smtp: smtplib.SMTP,
    config: RelayConfig,
    context: ssl.SSLContext,
    mail_from: str,
    recipients: Sequence[str],
    raw: bytes,
) -> str:
    code, text = smtp.ehlo()
    if code != 250:
        code, text = smtp.helo()
        if code != 250:
            raise _refused("HELO", code, text)
    if not config.implicit_tls and smtp.has_extn("starttls"):
        code, text = smtp.starttls(context=context)
        if code != 220:
            raise _refused("STARTTLS", code, text)
        smtp.ehlo()
    if config.username:
        if not smtp.has_extn("auth"):
            raise RelayError(
                f"{config.display} offers no AUTH (is STARTTLS required first?)", permanent=True
            )
        _authenticate(smtp, config)
    code, text = smtp.mail(mail_from)
    if code != 250:
        raise _refused("MAIL FROM", code, text)
    refused = []
    for recipient in recipients:
        code, text = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused.append((recipient, code, text))
    if refused:
        smtp.rset()
        # Every recipient or none: a partial send would go out again to all on a retry.
        recipient, code, text = refused[0]
        others = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise _refused(f"RCPT TO <{recipient}>{others}", code, text)
    code, text = smtp.data(raw)
    if code != 250:
        raise _refused("DATA", code, text)
    return _answer(code, text)


def send_raw(
    config: RelayConfig,
    mail_from: str,
    recipients: Sequence[str],
    raw: bytes,
    *,
    tls_context: ssl.SSLContext | None = None,
) -> str:
    """Hand one message to the relay; returns its answer to the data (``250 2.0.0 Ok: ...``).

    ``mail_from`` empty sends the null reverse path (``MAIL FROM:<>``), as RFC 3834 asks of
    automatic responses so that their bounces come back to no one.
    """
    if not recipients:
        raise RelayError("no recipients", permanent=True)
    context = tls_context or ssl.create_default_context()
    smtp = _connect(config, context)
    try:
        answer = _session(smtp, config, context, mail_from, recipients, raw)
    except smtplib.SMTPAuthenticationError as exc:
        raise _refused("AUTH", exc.smtp_code, exc.smtp_error) from None
    except smtplib.SMTPResponseException as exc:
        raise _refused("relay", exc.smtp_code, exc.smtp_error) from None
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise RelayError(f"{config.display}: {exc.__class__.__name__}: {exc}") from None
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    log.info("relay %s took mail for %s: %s", config.display, ", ".join(recipients), answer)
    return answer
