from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from intake.core.accept import accept_email
from intake.core.db.models import Customer, Message, Ticket
from intake.core.jobs import JobQueue
from intake.core.runtime import Runtime
from intake.domain import MessageState, Source, TicketStatus
from intake.errors import NotFoundError
from tests.conftest import deliver, run_jobs
from tests.mailfactory import make_mail
from workers.intake import ingest_message
from workers.sweeper import run_scheduler


def ticket_of(runtime: Runtime, message: Message) -> Ticket:
    with runtime.db.session() as session:
        ticket = session.get(Ticket, message.ticket_id)
        assert ticket is not None
        return ticket


def test_new_mail_opens_a_ticket_linked_to_a_new_customer(runtime: Runtime) -> None:
    message = deliver(runtime, make_mail())
    assert message.state == MessageState.PROCESSED
    ticket = ticket_of(runtime, message)
    assert ticket.subject == "Order 1234 has not arrived"
    assert ticket.status == TicketStatus.NEW and not ticket.automatic
    with runtime.db.session() as session:
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None and customer.email == "alice@customer.org"
        assert customer.name == "Alice Customer"


def test_reply_with_in_reply_to_joins_the_open_ticket(runtime: Runtime) -> None:
    first = deliver(runtime, make_mail(message_id="<first@customer.org>"))
    reply = deliver(
        runtime,
        make_mail(subject="Re: Order 1234 has not arrived", in_reply_to="<first@customer.org>"),
    )
    assert reply.ticket_id == first.ticket_id


def test_subject_tag_from_a_sender_on_the_ticket_joins_it(runtime: Runtime) -> None:
    first = deliver(runtime, make_mail())
    tagged = deliver(runtime, make_mail(subject=f"Still waiting [#{first.ticket_id}]"))
    assert tagged.ticket_id == first.ticket_id


def test_subject_tag_from_a_stranger_opens_a_new_ticket(runtime: Runtime) -> None:
    first = deliver(runtime, make_mail())
    stranger = deliver(
        runtime,
        make_mail(sender="mallory@evil.test", subject=f"Hijack [#{first.ticket_id}]"),
    )
    assert stranger.ticket_id != first.ticket_id


def test_customer_reply_reopens_a_resolved_ticket(runtime: Runtime) -> None:
    first = deliver(runtime, make_mail(message_id="<orig@customer.org>"))
    with runtime.db.session() as session:
        ticket = session.get(Ticket, first.ticket_id)
        assert ticket is not None
        ticket.status = TicketStatus.RESOLVED
    deliver(runtime, make_mail(subject="Re: thanks, but", in_reply_to="<orig@customer.org>"))
    assert ticket_of(runtime, first).status == TicketStatus.OPEN


def test_out_of_office_reply_is_flagged_attached_and_does_not_reopen(runtime: Runtime) -> None:
    first = deliver(runtime, make_mail(message_id="<ask@customer.org>"))
    with runtime.db.session() as session:
        ticket = session.get(Ticket, first.ticket_id)
        assert ticket is not None
        ticket.status = TicketStatus.RESOLVED
    auto = deliver(
        runtime,
        make_mail(
            subject="Out of office",
            in_reply_to="<ask@customer.org>",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    assert "auto_reply" in auto.flags
    assert auto.ticket_id == first.ticket_id
    assert ticket_of(runtime, first).status == TicketStatus.RESOLVED


def test_unthreaded_auto_reply_is_a_hidden_automatic_ticket(runtime: Runtime) -> None:
    auto = deliver(runtime, make_mail(subject="Auto: away", headers={"Precedence": "bulk"}))
    assert ticket_of(runtime, auto).automatic


def test_unparseable_bytes_still_become_a_flagged_ticket(runtime: Runtime) -> None:
    message = deliver(runtime, b"\x00\xff\xfe garbage \x00 with no headers at all\r\n")
    assert message.state == MessageState.PROCESSED
    assert message.ticket_id is not None


def test_processing_the_same_message_twice_creates_one_ticket(runtime: Runtime) -> None:
    message = deliver(runtime, make_mail())
    assert ingest_message(message.id).startswith("skipped")
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 1


def test_missing_raw_blob_fails_after_the_last_attempt_and_keeps_the_error(
    runtime: Runtime,
) -> None:
    accepted = accept_email(
        runtime, make_mail(), source=Source.SMTP, envelope_from=None, recipients=["a@example.com"]
    )
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None
        runtime.blobs.path(message.raw_sha256).unlink()
        message.attempts = runtime.settings.job_retries  # this run is the last one
    with pytest.raises(NotFoundError, match="missing"):
        ingest_message(accepted.message_id)
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None
        assert message.state == MessageState.FAILED
        assert message.error and "missing" in message.error


@pytest.mark.slow
def test_a_failed_job_is_retried_after_its_backoff_by_the_sweepers_scheduler(
    sqlite_runtime: Runtime,
) -> None:
    """Workers fork no scheduler of their own: the sweeper's puts due retries back on queue."""
    runtime = sqlite_runtime
    raw = make_mail()
    accepted = accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["a@example.com"]
    )
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None
        blob = runtime.blobs.path(message.raw_sha256)
    blob.unlink()
    run_jobs(runtime, "intake")  # fails: the retry waits out its 5 s backoff, scheduled
    assert runtime.jobs.queue(JobQueue.INTAKE).is_empty()
    runtime.blobs.put(raw)  # the cause is fixed (the disk came back)
    stop = threading.Event()
    scheduler = threading.Thread(target=run_scheduler, args=(runtime, stop, 0.2))
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while runtime.jobs.queue(JobQueue.INTAKE).is_empty() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        scheduler.join()
    run_jobs(runtime, "intake")
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None and message.state == MessageState.PROCESSED
        assert message.attempts == 2
