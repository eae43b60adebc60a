"""Group commit in the SMTP accept path: 250 only after the sync round and the commit.

Real SMTP clients (smtplib, one thread each) talk to the real collector on a free port; faults
are planted where they would happen: the blob sync round (``BlobStore._sync``) and the database
commit (a ``before_commit`` hook on the runtime's own sessions).
"""

from __future__ import annotations

import errno
import smtplib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from intake.collectors.smtp import IntakeController
from intake.core.accept import (
    REUSED_MESSAGE_ID_OF,
    InboundEmail,
    Outcome,
    store_emails,
)
from intake.core.address_book import AddressBook
from intake.core.blobs import BlobStore
from intake.core.db.models import Mailbox, Message
from intake.core.group_commit import GroupCommitter
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.domain import Source
from intake.errors import StorageError
from tests.conftest import free_port
from tests.mailfactory import make_mail

SUPPORT = "support@example.com"


@contextmanager
def collector(runtime: Runtime, window: float = 0.3) -> Iterator[tuple[int, list[int]]]:
    """The real SMTP collector; a wide window so that concurrent clients share one batch.

    Yields the port and the sizes of the batches stored so far.
    """
    port = free_port()
    controller = IntakeController(runtime, "127.0.0.1", port)
    handler = controller.intake_handler
    sizes: list[int] = []

    def recording_store(
        rt: Runtime, emails: Sequence[InboundEmail], book: AddressBook | None
    ) -> list[Outcome]:
        sizes.append(len(emails))
        return store_emails(rt, emails, book)

    handler.committer = GroupCommitter(
        runtime, handler.addresses, window=window, store=recording_store
    )
    controller.start()
    try:
        yield port, sizes
    finally:
        controller.stop()


def send(port: int, raw: bytes, start: threading.Barrier | None = None) -> int:
    """The reply code to DATA (250, or the refusal)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        if start is not None:
            start.wait(timeout=30)
        try:
            client.sendmail("alice@customer.org", [SUPPORT], raw)
        except smtplib.SMTPDataError as refused:
            return refused.smtp_code
        return 250


def send_together(port: int, mails: Sequence[bytes]) -> list[int]:
    """Every mail in its own session, all reaching DATA at about the same moment."""
    start = threading.Barrier(len(mails))
    with ThreadPoolExecutor(len(mails)) as pool:
        return list(pool.map(lambda raw: send(port, raw, start), mails))


def stored_count(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count(Message.id))) or 0


def queued(runtime: Runtime) -> list[str]:
    return list(runtime.jobs.queue(JobQueue.INTAKE).job_ids)


def new_messages(session: Session) -> int:
    """Messages this transaction inserted (counted as they are flushed)."""
    count: int = session.info.get("new_messages", 0)
    return count


@contextmanager
def at_commit(runtime: Runtime, hook: Callable[[Session], None]) -> Iterator[None]:
    """Run ``hook`` when a transaction that stored messages is about to commit."""

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        added = sum(isinstance(row, Message) for row in session.new)
        session.info["new_messages"] = new_messages(session) + added

    def do_orm_execute(state: ORMExecuteState) -> None:  # batches insert with one statement
        # On the class or on its table (the store inserts into the table, without the ORM).
        if state.is_insert and getattr(state.statement, "table", None) is Message.__table__:
            rows = state.parameters
            added = len(rows) if isinstance(rows, list) else 1
            state.session.info["new_messages"] = new_messages(state.session) + added

    def before_commit(session: Session) -> None:
        if new_messages(session):
            hook(session)

    def after_end(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # the outermost one (each flush has its own)
            session.info.pop("new_messages", None)

    hooks: list[tuple[str, Callable[..., None]]] = [
        ("before_flush", before_flush),
        ("do_orm_execute", do_orm_execute),
        ("before_commit", before_commit),
        ("after_transaction_end", after_end),
    ]
    for name, function in hooks:
        event.listen(runtime.db.sessionmaker, name, function)
    try:
        yield
    finally:
        for name, function in hooks:
            event.remove(runtime.db.sessionmaker, name, function)


def test_a_failed_commit_answers_451_to_every_message_of_its_group(runtime: Runtime) -> None:
    failed_batches: list[int] = []

    def fail(session: Session) -> None:
        failed_batches.append(new_messages(session))
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    mails = [make_mail(subject=f"order {n}") for n in range(8)]
    with collector(runtime) as (port, sizes), at_commit(runtime, fail):
        codes = send_together(port, mails)
    assert codes == [451] * 8
    assert sum(failed_batches) == 8 and max(failed_batches) > 1  # a group, not one by one
    assert sizes == failed_batches
    assert stored_count(runtime) == 0 and queued(runtime) == []


def test_a_failed_blob_sync_answers_451_to_every_message_and_stores_no_row(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds: list[int] = []

    def failing_sync(self: BlobStore, files: list[Any], dirs: set[Any]) -> None:
        rounds.append(len(files))
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(BlobStore, "_sync", failing_sync)
    with collector(runtime) as (port, sizes):
        codes = send_together(port, [make_mail(subject=f"order {n}") for n in range(6)])
    assert codes == [451] * 6
    assert max(rounds) > 1 and max(sizes) > 1
    assert stored_count(runtime) == 0 and queued(runtime) == []


def test_no_250_is_sent_before_the_blobs_are_synced_and_the_rows_committed(
    runtime: Runtime,
) -> None:
    synced = threading.Event()
    committing = threading.Event()
    release = threading.Event()
    original_sync = BlobStore._sync

    def hold(session: Session) -> None:
        assert synced.is_set()  # the sync round came first
        committing.set()
        release.wait(timeout=30)

    def sync(self: BlobStore, files: list[Any], dirs: set[Any]) -> None:
        original_sync(self, files, dirs)
        synced.set()

    replies: list[tuple[float, int]] = []
    mails = [make_mail(subject=f"order {n}") for n in range(6)]
    with pytest.MonkeyPatch.context() as patch, at_commit(runtime, hold):
        patch.setattr(BlobStore, "_sync", sync)
        with collector(runtime) as (port, _sizes), ThreadPoolExecutor(6) as pool:
            start = threading.Barrier(6)

            def client(raw: bytes) -> None:
                code = send(port, raw, start)
                replies.append((time.monotonic(), code))

            futures = [pool.submit(client, raw) for raw in mails]
            assert committing.wait(timeout=30)
            time.sleep(0.5)  # time enough for a premature reply to arrive
            assert replies == [] and stored_count(runtime) == 0
            released_at = time.monotonic()
            release.set()
            for future in futures:
                future.result(timeout=30)
    assert sorted(code for _, code in replies) == [250] * 6
    assert all(at > released_at for at, _ in replies)
    assert stored_count(runtime) == 6 and len(queued(runtime)) == 6


def test_many_concurrent_sessions_store_every_message_exactly_once(runtime: Runtime) -> None:
    # 12 distinct messages, each sent by two sessions at once (a retrying MTA, two paths).
    distinct = [make_mail(subject=f"question {n}") for n in range(12)]
    mails = distinct + distinct
    with collector(runtime, window=0.05) as (port, sizes):
        codes = send_together(port, mails)
    assert codes == [250] * 24
    assert sum(sizes) == 24 and max(sizes) > 1
    with runtime.db.session() as session:
        digests = session.scalars(select(Message.raw_sha256)).all()
    assert len(digests) == 12 and len(set(digests)) == 12
    assert {runtime.blobs.get(d) for d in digests} == set(distinct)
    assert len(queued(runtime)) == 12


def inbound(raw: bytes) -> InboundEmail:
    return InboundEmail(raw, Source.SMTP, "alice@customer.org", (SUPPORT,), route_by_recipient=True)


def test_duplicates_and_reused_message_ids_are_decided_right_inside_one_batch(
    runtime: Runtime,
) -> None:
    first = make_mail(message_id="<same@customer.org>")
    other_line_endings = first.replace(b"\r\n", b"\n")
    other_content = make_mail(message_id="<same@customer.org>", body="Cancel it, please.\n")
    outcomes = store_emails(
        runtime,
        [inbound(first), inbound(first), inbound(other_content), inbound(other_line_endings)],
    )
    assert not any(isinstance(o, StorageError) for o in outcomes)
    (a,), (b,), (c,), (d,) = outcomes  # type: ignore[misc]
    assert not a.duplicate
    assert b.duplicate and b.message_id == a.message_id
    assert not c.duplicate and c.reused_message_id_of == a.message_id
    assert d.duplicate and d.message_id == a.message_id
    with runtime.db.session() as session:
        rows = session.scalars(select(Message).order_by(Message.id)).all()
        assert [r.id for r in rows] == [a.message_id, c.message_id]
        assert rows[1].extra[REUSED_MESSAGE_ID_OF] == a.message_id


def test_one_email_for_two_mailboxes_is_stored_in_both_or_neither(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        session.add(Mailbox(name="sales", addresses=["sales@shop.test"]))
        session.add(Mailbox(name="help", addresses=["help@shop.test"]))
    email = InboundEmail(
        make_mail(),
        Source.SMTP,
        None,
        ("sales@shop.test", "help@shop.test", "gone@shop.test"),
        route_by_recipient=True,
    )
    (refused,) = store_emails(runtime, [email])
    assert isinstance(refused, StorageError) and stored_count(runtime) == 0
    (stored,) = store_emails(runtime, [replace(email, recipients=email.recipients[:2])])
    assert not isinstance(stored, StorageError) and len(stored) == 2
    assert stored_count(runtime) == 2


def test_the_address_book_sees_mailboxes_added_at_once_and_removed_at_the_store(
    runtime: Runtime,
) -> None:
    book = AddressBook(runtime.db, ["example.com"], max_age=60.0)
    assert book.lookup("new@shop.test") is None
    with runtime.db.session() as session:
        session.add(Mailbox(name="new", addresses=["new@shop.test"]))
    match = book.lookup("New@Shop.test")  # unknown in memory: asked the database again
    assert match is not None and match.mailbox_id is not None
    assert book.cached("new@shop.test") == match  # now answered from memory
    with runtime.db.session() as session:
        session.delete(session.scalars(select(Mailbox)).one())
    assert book.cached("new@shop.test") == match  # within max_age: RCPT may still accept...
    (outcome,) = store_emails(runtime, [inbound(make_mail())], book)
    assert not isinstance(outcome, StorageError)  # (the domain is accepted)
    gone = InboundEmail(make_mail(), Source.SMTP, None, ("new@shop.test",), route_by_recipient=True)
    (refused,) = store_emails(runtime, [gone], book)
    assert isinstance(refused, StorageError)  # ...but the store checks again: 451, not 250
    assert book.cached("new@shop.test") is None
