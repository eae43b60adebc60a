from __future__ import annotations

from sqlalchemy import func, select

from intake.core.accept import accept_email
from intake.core.db.models import Message
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.domain import MessageState, Source
from tests.mailfactory import make_mail


def accept(runtime: Runtime, raw: bytes) -> int:
    result = accept_email(
        runtime,
        raw,
        source=Source.SMTP,
        envelope_from="alice@customer.org",
        recipients=["support@example.com"],
    )
    return result.message_id


def test_accepted_mail_is_committed_with_its_raw_bytes_before_returning(runtime: Runtime) -> None:
    raw = make_mail()
    message_id = accept(runtime, raw)
    with runtime.db.session() as session:
        row = session.get(Message, message_id)
        assert row is not None
        assert row.state == MessageState.RECEIVED
        assert runtime.blobs.get(row.raw_sha256) == raw
        assert row.raw_size == len(raw)


def test_same_message_id_twice_for_the_same_mailbox_is_stored_once(runtime: Runtime) -> None:
    raw = make_mail(message_id="<dup-1@customer.org>")
    first = accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["support@example.com"]
    )
    again = accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["support@example.com"]
    )
    assert again.duplicate and again.message_id == first.message_id
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Message.id))) == 1


def test_message_without_message_id_gets_a_stable_synthetic_one(runtime: Runtime) -> None:
    raw = b"From: bob@customer.org\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    first = accept(runtime, raw)
    second = accept(runtime, raw)
    assert first == second
    with runtime.db.session() as session:
        row = session.get(Message, first)
        assert row is not None and row.message_id_header
        assert row.message_id_header.endswith("@intake.invalid")


def test_accepting_mail_enqueues_its_processing_job(runtime: Runtime) -> None:
    message_id = accept(runtime, make_mail())
    queue = runtime.jobs.queue(JobQueue.INTAKE)
    assert f"ingest-message-{message_id}" in queue.job_ids


def test_sqlite_commits_are_synced_before_the_sender_is_told(sqlite_runtime: Runtime) -> None:
    """synchronous=FULL: the row behind an SMTP 250 is on disk even after a power loss."""
    with sqlite_runtime.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
