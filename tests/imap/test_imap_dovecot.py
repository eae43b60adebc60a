"""The IMAP collector against a real Dovecot: delivery by APPEND, every failure recoverable."""

from __future__ import annotations

import email
import email.policy
import os
from email.message import EmailMessage
from functools import partial

import pytest
from imapclient import SEEN, IMAPClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.core.db.models import Mailbox, Message
from intake.core.mailboxes import MailboxSpec, remove_mailbox, set_enabled, update_mailbox
from intake.core.runtime import Runtime
from intake.imap.config import AfterAction, AfterKind, Credentials, MailboxConfig, TlsMode
from intake.imap.connection import check_connection
from tests.imap.conftest import (
    USERS,
    add_imap_mailbox,
    mailbox_row,
    running_manager,
    stored_count,
    wait_for,
)
from tests.imap.dovecot import Dovecot, free_port
from tests.mailfactory import make_mail

PENALTY_WAIT = 45.0


def test_mail_appended_to_an_idle_mailbox_is_pushed_and_marked_seen_after_storing(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    # An hour-long poll interval: only IDLE can bring the mail in before the wait gives up.
    # (Latency figures come from tests/bench/bench_imap_idle.py, not from this test.)
    mailbox_id = add_imap_mailbox(sqlite_runtime, dovecot, poll_seconds=3600)
    with running_manager(sqlite_runtime):
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "idle", what="IDLE")
        dovecot.append(make_mail(message_id="<idle-1@customer.org>"))
        wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 1, what="pushed mail")
        with dovecot.client() as client:
            client.select_folder("INBOX")
            wait_for(lambda: bool(client.search([b"SEEN"])), what="\\Seen flag")
            flags = client.get_flags(client.search())
        assert all(SEEN in f for f in flags.values())
    row = mailbox_row(sqlite_runtime, mailbox_id)
    assert row.last_success_at is not None and row.consecutive_failures == 0


def test_a_25_mib_message_is_stored_intact_while_another_mailbox_keeps_flowing(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    big = add_imap_mailbox(sqlite_runtime, dovecot, "big", "alice", poll_seconds=3600)
    small = add_imap_mailbox(sqlite_runtime, dovecot, "small", "bob", poll_seconds=3600)
    attachment = os.urandom(19 * 1024 * 1024)  # base64 turns 19 MiB into ~25 MiB of message
    raw = mail_with_attachment("<big@x>", attachment)
    assert len(raw) > 25 * 1024 * 1024
    with running_manager(sqlite_runtime):
        wait_for(lambda: mailbox_row(sqlite_runtime, big).state == "idle", what="IDLE")
        dovecot.append(raw, user="alice")
        dovecot.append(make_mail(message_id="<small@x>"), user="bob")
        wait_for(lambda: stored_count(sqlite_runtime, small) == 1, what="small mail")
        wait_for(lambda: stored_count(sqlite_runtime, big) == 1, timeout=60, what="big mail")
    with sqlite_runtime.db.session() as session:
        message = session.scalars(select(Message).where(Message.mailbox_id == big)).one()
        assert sqlite_runtime.blobs.get(message.raw_sha256) == raw


def test_without_idle_the_mailbox_is_polled_at_its_interval(
    sqlite_runtime: Runtime, dovecot_without_idle: Dovecot
) -> None:
    server = dovecot_without_idle
    mailbox_id = add_imap_mailbox(sqlite_runtime, server, poll_seconds=1)
    with running_manager(sqlite_runtime):
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "polling", what="polling")
        server.append(make_mail(message_id="<poll-1@customer.org>"))
        wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 1, timeout=10)


def test_first_connection_takes_only_unseen_mail_unless_a_backfill_window_is_set(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    for user in ("alice", "bob"):
        dovecot.append(make_mail(message_id=f"<old-read-{user}@x>"), user=user, seen=True)
        dovecot.append(make_mail(message_id=f"<unread-{user}@x>"), user=user)
    alice = add_imap_mailbox(sqlite_runtime, dovecot, "alice-box", "alice")
    bob = add_imap_mailbox(sqlite_runtime, dovecot, "bob-box", "bob", backfill_days=3)
    with running_manager(sqlite_runtime):
        wait_for(lambda: stored_count(sqlite_runtime, bob) == 2, what="backfill")
        wait_for(lambda: mailbox_row(sqlite_runtime, alice).last_uid is not None, what="sync")
        assert stored_count(sqlite_runtime, alice) == 1
        # Mail that arrives after the first sync is new, even below the old UIDNEXT search.
        dovecot.append(make_mail(message_id="<later@x>"), user="alice")
        wait_for(lambda: stored_count(sqlite_runtime, alice) == 2, what="new mail")
    assert mailbox_row(sqlite_runtime, alice).last_uid == 3


def test_restart_after_a_crash_before_the_post_action_stores_nothing_twice(
    runtime: Runtime, dovecot: Dovecot
) -> None:
    mailbox_id = add_imap_mailbox(runtime, dovecot)
    with running_manager(runtime):
        for n in range(3):
            dovecot.append(make_mail(message_id=f"<restart-{n}@x>"))
        wait_for(lambda: stored_count(runtime, mailbox_id) == 3)
    # Simulate a crash after accept_email but before \Seen and the UID were recorded.
    with dovecot.client() as client:
        client.select_folder("INBOX")
        client.remove_flags(client.search(), [SEEN])
    with runtime.db.session() as session:
        session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(last_uid=0))
    dovecot.append(make_mail(message_id="<restart-new@x>"))
    with running_manager(runtime):
        wait_for(lambda: stored_count(runtime, mailbox_id) == 4)
        wait_for(lambda: mailbox_row(runtime, mailbox_id).last_uid == 4, what="UIDs caught up")
        with dovecot.client() as client:
            client.select_folder("INBOX")
            wait_for(lambda: not client.search(["UNSEEN"]), what="all marked seen")
    assert stored_count(runtime, mailbox_id) == 4


def test_recreated_folder_with_new_uidvalidity_is_resynced_without_duplicates(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    mailbox_id = add_imap_mailbox(sqlite_runtime, dovecot, folder="Support")
    first = [make_mail(message_id=f"<uv-{n}@x>") for n in range(2)]
    for raw in first:
        dovecot.append(raw, folder="Support")
    with running_manager(sqlite_runtime):
        wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 2)
    old_validity = mailbox_row(sqlite_runtime, mailbox_id).uidvalidity
    with dovecot.client() as client:
        client.delete_folder("Support")
        client.create_folder("Support")
    for raw in [*first, make_mail(message_id="<uv-new@x>")]:
        dovecot.append(raw, folder="Support")
    with running_manager(sqlite_runtime):
        wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 3)
        wait_for(
            lambda: mailbox_row(sqlite_runtime, mailbox_id).uidvalidity != old_validity,
            what="new UIDVALIDITY stored",
        )
    assert stored_count(sqlite_runtime, mailbox_id) == 3


def test_move_and_delete_post_actions_empty_the_inbox_after_storing(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    moving = add_imap_mailbox(sqlite_runtime, dovecot, "moving", "alice", after="move:Processed")
    deleting = add_imap_mailbox(sqlite_runtime, dovecot, "deleting", "bob", after="delete")
    with running_manager(sqlite_runtime):
        dovecot.append(make_mail(message_id="<move-1@x>"), user="alice")
        dovecot.append(make_mail(message_id="<delete-1@x>"), user="bob")
        wait_for(lambda: stored_count(sqlite_runtime, moving) == 1)
        wait_for(lambda: stored_count(sqlite_runtime, deleting) == 1)
        for user, expected_moved in (("alice", 1), ("bob", 0)):
            with dovecot.client(user) as client:
                wait_for(partial(inbox_empty, client), what="empty INBOX")
                if expected_moved:
                    assert client.select_folder("Processed")[b"EXISTS"] == 1


def test_wrong_password_is_shown_on_its_mailbox_while_others_keep_working(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    broken = add_imap_mailbox(sqlite_runtime, dovecot, "broken", "alice", password="wrong")
    working = add_imap_mailbox(sqlite_runtime, dovecot, "working", "bob")
    with running_manager(sqlite_runtime, alert_after=2):
        # Dovecot delays every login from an IP after failed ones (auth penalty, up to 15 s),
        # so the waits here allow for that.
        wait_for(
            lambda: mailbox_row(sqlite_runtime, broken).alerted_at is not None,
            timeout=PENALTY_WAIT,
            what="alert",
        )
        row = mailbox_row(sqlite_runtime, broken)
        assert row.state == "error" and row.consecutive_failures >= 2
        assert row.last_error is not None and "AUTHENTICATIONFAILED" in row.last_error
        assert row.last_error_at is not None
        dovecot.append(make_mail(message_id="<still-works@x>"), user="bob")
        wait_for(lambda: stored_count(sqlite_runtime, working) == 1, timeout=PENALTY_WAIT)
        # The admin fixes the password: the manager reconnects without a restart.
        with sqlite_runtime.db.session() as session:
            spec = spec_of(session, broken)
            update_mailbox(
                session, sqlite_runtime.settings, broken, spec, Credentials(password=USERS["alice"])
            )
        dovecot.append(make_mail(message_id="<fixed@x>"), user="alice")
        wait_for(
            lambda: stored_count(sqlite_runtime, broken) == 1,
            timeout=PENALTY_WAIT,
            what="recovered mailbox",
        )
        # The success after the stored message clears the failure count and the alert.
        wait_for(partial(recovered, sqlite_runtime, broken), what="failures cleared")
        # Failures clear when the login succeeds; the state moves on from "syncing" once the
        # first sync is done, a moment later on a busy machine.
        wait_for(
            lambda: mailbox_row(sqlite_runtime, broken).state == "idle", what="idle after sync"
        )


def test_a_stopped_server_is_reconnected_when_it_comes_back(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    mailbox_id = add_imap_mailbox(sqlite_runtime, dovecot)
    with running_manager(sqlite_runtime):
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "idle", what="IDLE")
        dovecot.stop()
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "error", what="error")
        assert "refused" in (
            mailbox_row(sqlite_runtime, mailbox_id).last_error or ""
        ) or "closed" in (mailbox_row(sqlite_runtime, mailbox_id).last_error or "")
        dovecot.start()
        dovecot.append(make_mail(message_id="<after-restart@x>"))
        wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 1, timeout=20)
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "idle", what="IDLE")


def test_added_disabled_and_removed_mailboxes_take_effect_without_restart(
    sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    with running_manager(sqlite_runtime) as manager:
        mailbox_id = add_imap_mailbox(sqlite_runtime, dovecot)
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "idle", what="started")
        with sqlite_runtime.db.session() as session:
            set_enabled(session, mailbox_id, False)
        wait_for(lambda: mailbox_row(sqlite_runtime, mailbox_id).state == "stopped", what="stop")
        dovecot.append(make_mail(message_id="<while-disabled@x>"))
        with sqlite_runtime.db.session() as session:
            set_enabled(session, mailbox_id, True)
        wait_for(lambda: stored_count(sqlite_runtime, mailbox_id) == 1, what="re-enabled")
        with sqlite_runtime.db.session() as session:
            remove_mailbox(session, mailbox_id)
        wait_for(lambda: not manager.workers and not manager.retiring, what="worker gone")


def spec_of(session: Session, mailbox_id: int) -> MailboxSpec:
    row = session.get(Mailbox, mailbox_id)
    assert row is not None
    return MailboxSpec(
        name=row.name,
        addresses=list(row.addresses),
        imap_host=row.imap_host,
        imap_port=row.imap_port,
        imap_tls=TlsMode(row.imap_tls),
        imap_user=row.imap_user,
        folder=row.folder,
        after=row.after_action,
        poll_seconds=row.poll_seconds,
    )


def inbox_empty(client: IMAPClient) -> bool:
    return bool(client.select_folder("INBOX")[b"EXISTS"] == 0)


def mail_with_attachment(message_id: str, payload: bytes) -> bytes:
    message = email.message_from_bytes(make_mail(message_id=message_id), policy=email.policy.SMTP)
    assert isinstance(message, EmailMessage)
    message.add_attachment(
        payload, maintype="application", subtype="octet-stream", filename="scan.bin"
    )
    return message.as_bytes()


@pytest.mark.parametrize(
    ("tls", "port_offset", "expected"),
    [
        (TlsMode.IMPLICIT, 0, "TLS with 127.0.0.1:"),
        (TlsMode.STARTTLS, 0, "server said:"),
        (TlsMode.NONE, 1, "refused"),
    ],
)
def test_connection_check_reports_tls_and_network_failures_plainly(
    dovecot: Dovecot, tls: TlsMode, port_offset: int, expected: str
) -> None:
    config = MailboxConfig(
        id=1,
        name="x",
        host="127.0.0.1",
        port=free_port() if port_offset else dovecot.port,
        tls=tls,
        user="alice",
        folder="INBOX",
        after=AfterAction(AfterKind.SEEN),
        poll_seconds=60,
        backfill_days=0,
    )
    report = check_connection(config, Credentials(password=USERS["alice"]), timeout=5)
    assert not report.ok
    assert expected in report.message


def recovered(runtime: Runtime, mailbox_id: int) -> bool:
    row = mailbox_row(runtime, mailbox_id)
    return row.consecutive_failures == 0 and row.alerted_at is None
