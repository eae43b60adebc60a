"""Fixtures for the IMAP collector: a real Dovecot per test, mailboxes and a running manager."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from intake.collectors.imap.manager import ImapManager
from intake.core.db.models import Mailbox, Message
from intake.core.mailboxes import MailboxSpec, add_mailbox
from intake.core.runtime import Runtime
from intake.imap.config import Credentials, TlsMode
from tests.conftest import IN_CI
from tests.imap.dovecot import Dovecot, dovecot_binary, running_dovecot

USERS = {"alice": "alice-password", "bob": "bob-password"}


def require_dovecot() -> None:
    if dovecot_binary() is None:
        if IN_CI:
            pytest.fail("CI=true but dovecot is not installed (apt-get install dovecot-imapd)")
        pytest.skip("dovecot is not installed")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    require_dovecot()
    with running_dovecot(USERS) as server:
        yield server


@pytest.fixture
def dovecot_without_idle() -> Iterator[Dovecot]:
    require_dovecot()
    with running_dovecot(USERS, idle=False) as server:
        yield server


def add_imap_mailbox(
    runtime: Runtime,
    server: Dovecot,
    name: str = "support",
    user: str = "alice",
    password: str | None = None,
    **changes: object,
) -> int:
    spec = MailboxSpec(
        name=name,
        addresses=[f"{name}@example.com"],
        imap_host="127.0.0.1",
        imap_port=server.port,
        imap_tls=TlsMode.NONE,
        imap_user=user,
        poll_seconds=1,
    )
    for key, value in changes.items():
        setattr(spec, key, value)
    with runtime.db.session() as session:
        view = add_mailbox(
            session,
            runtime.settings,
            spec,
            Credentials(password=USERS[user] if password is None else password),
        )
    return view.id


@contextmanager
def running_manager(runtime: Runtime, **options: float) -> Iterator[ImapManager]:
    defaults: dict[str, float] = {"reload_seconds": 0.2, "backoff_base": 0.2}
    manager = ImapManager(runtime, **{**defaults, **options})  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield manager
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the IMAP manager did not stop"


def wait_for(
    predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> float:
    """Poll until predicate() holds; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stored_count(runtime: Runtime, mailbox_id: int | None = None) -> int:
    with runtime.db.session() as session:
        query = select(func.count(Message.id))
        if mailbox_id is not None:
            query = query.where(Message.mailbox_id == mailbox_id)
        return int(session.scalar(query) or 0)


def mailbox_row(runtime: Runtime, mailbox_id: int) -> Mailbox:
    with runtime.db.session() as session:
        row = session.get(Mailbox, mailbox_id)
        assert row is not None
        session.expunge(row)
        return row
