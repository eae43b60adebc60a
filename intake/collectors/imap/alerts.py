"""Tell admins by email that a mailbox keeps failing, when an outbound relay is configured.

The UI banner is the primary alert. The mail goes through the outbox like every other mail the
gateway sends (stored, then sent by the ``outbound`` worker, retried while the relay is down),
so it is never lost to a relay hiccup and shows among the deliveries. It never raises: a
failing mailbox must not also stop its poller.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from intake.core.db.models import User
from intake.core.runtime import Runtime
from intake.domain import Role
from intake.errors import IntakeError

log = logging.getLogger(__name__)


def alert_subject(mailbox_name: str) -> str:
    return f"Intake: mailbox {mailbox_name} is failing"


def alert_text(mailbox_name: str, error: str, failures: int) -> str:
    return (
        f"The IMAP mailbox {mailbox_name!r} failed {failures} times in a row.\n\n"
        f"Last error: {error}\n\n"
        "The gateway keeps retrying with backoff; no mail is lost meanwhile, it stays on the "
        "server. Check the mailbox settings under Admin > Mailboxes.\n"
    )


def send_failure_alert(runtime: Runtime, mailbox_name: str, error: str, failures: int) -> bool:
    """Queue one alert mail to the active admins; False when none is configured or possible."""
    if not runtime.settings.outbound_smtp_url:
        return False
    # Here, not at the top: the outbox brings the ticket, SLA and search modules, which the
    # IMAP process otherwise never needs (its memory target is 70 MB), for a rare alert.
    from intake.core.outbox import queue_notification

    try:
        with runtime.db.session() as session:
            recipients = list(
                session.scalars(
                    select(User.email).where(User.role == Role.ADMIN, User.active.is_(True))
                )
            )
            if not recipients:
                return False
            queue_notification(
                runtime,
                session,
                recipients,
                alert_subject(mailbox_name),
                alert_text(mailbox_name, error, failures),
            )
        return True
    except (IntakeError, SQLAlchemyError) as exc:  # a bad address, no sender, database down
        log.warning("could not queue the mailbox alert for %s: %s", mailbox_name, exc)
        return False
