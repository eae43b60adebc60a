"""Tell admins by email that a mailbox keeps failing, when an outbound relay is configured.

``INTAKE_OUTBOUND_SMTP_URL`` is ``smtp://[user:pass@]host[:port]`` (STARTTLS when offered) or
``smtps://...``. The UI banner is the primary alert; this mail is best effort and never raises.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import urllib.parse
from email.message import EmailMessage

from sqlalchemy import select

from intake.core.db.engine import Database
from intake.core.db.models import User
from intake.core.settings import Settings
from intake.domain import Role

log = logging.getLogger(__name__)

ALERT_FROM = "intake-gateway@localhost"


def alert_message(
    mailbox_name: str, error: str, failures: int, recipients: list[str]
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = ALERT_FROM
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"Intake: mailbox {mailbox_name} is failing"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: nobody should auto-reply to this
    message.set_content(
        f"The IMAP mailbox {mailbox_name!r} failed {failures} times in a row.\n\n"
        f"Last error: {error}\n\n"
        "The gateway keeps retrying with backoff; no mail is lost meanwhile, it stays on the "
        "server. Check the mailbox settings under Admin > Mailboxes.\n"
    )
    return message


def send_failure_alert(
    settings: Settings, db: Database, mailbox_name: str, error: str, failures: int
) -> bool:
    if not settings.outbound_smtp_url:
        return False
    with db.session() as session:
        recipients = list(
            session.scalars(
                select(User.email).where(User.role == Role.ADMIN, User.active.is_(True))
            )
        )
    if not recipients:
        return False
    try:
        url = urllib.parse.urlsplit(settings.outbound_smtp_url)
        implicit = url.scheme == "smtps"
        port = url.port or (465 if implicit else 25)
        smtp_class = smtplib.SMTP_SSL if implicit else smtplib.SMTP
        with smtp_class(url.hostname or "localhost", port, timeout=30) as smtp:
            smtp.ehlo()
            if not implicit and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(
                    urllib.parse.unquote(url.username), urllib.parse.unquote(url.password or "")
                )
            smtp.send_message(alert_message(mailbox_name, error, failures, recipients))
        return True
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        log.warning("could not email the mailbox alert for %s: %s", mailbox_name, exc)
        return False
