"""The IMAP collector against a real Dovecot: delivery by APPEND, every failure recoverable."""

from __future__ import annotations

from imapclient import SEEN

from intake.runtime import Runtime
from tests.imap.conftest import (
    add_imap_mailbox,
    mailbox_row,
    running_manager,
    stored_count,
    wait_for,
)
from tests.imap.dovecot import Dovecot
from tests.mailfactory import make_mail


def test_mail_appended_to_an_idle_mailbox_is_stored_within_seconds_and_marked_seen(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    mailbox_id = add_imap_mailbox(sqlite_runtime, dovecot)
    with running_manager(sqlite_runtime):
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "idle", what="IDLE")
        dovecot.append(make_mail(message_id="<idle-1@customer.org>"))
        latency = wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 1, timeout=10)
        assert latency < 5
        with dovecot.client() as client:
            client.select_folder("INBOX")
            wait_for(lambda: bool(client.search([b"SEEN"])), what="\\Seen flag")
            flags = client.get_flags(client.search())
        assert all(SEEN in f for f in flags.values())
    row = mailbox_row(sqlite_runtime, mailbox_id)
    assert row.last_success_at is not None and row.consecutive_failures == 0
