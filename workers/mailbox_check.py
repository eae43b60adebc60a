"""The ``intake`` queue's connection test: log in to a mailbox's IMAP server once, report back."""

from __future__ import annotations

import logging

from intake.core import runtime as runtime_module
from intake.core.mailboxes import connection_config, record_check
from intake.errors import NotFoundError, RejectedError
from intake.imap.connection import check_connection

log = logging.getLogger(__name__)


def check_mailbox(mailbox_id: int) -> str:
    runtime = runtime_module.current()
    try:
        with runtime.db.session() as session:
            config, credentials = connection_config(session, runtime.settings, mailbox_id)
    except NotFoundError:
        return "skipped: mailbox deleted"
    except RejectedError as exc:
        ok, message = False, str(exc)
    else:
        # No transaction is held open while the remote server answers.
        report = check_connection(config, credentials)
        ok, message = report.ok, report.message
    with runtime.db.session() as session:
        record_check(session, mailbox_id, ok, message)
    log.info("connection test of mailbox %s: %s", mailbox_id, message)
    return ("ok: " if ok else "failed: ") + message
