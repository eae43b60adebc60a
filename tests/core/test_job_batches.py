"""Jobs that take the queued jobs of the same kind behind them (workers.batching)."""

from __future__ import annotations

from rq.job import Job
from sqlalchemy import func, select

from intake.core.accept import accept_email
from intake.core.db.models import Message, Ticket
from intake.core.jobs import CLASSIFY_TICKET, INGEST_MESSAGE, JobQueue
from intake.core.runtime import Runtime
from intake.domain import MessageState, Source
from tests.conftest import run_jobs
from tests.mailfactory import make_mail
from workers.batching import take_queued
from workers.classification import classify_ticket
from workers.intake import BATCH, ingest_message


def accept(runtime: Runtime, number: int) -> int:
    accepted = accept_email(
        runtime,
        make_mail(
            sender=f"Customer {number} <c{number}@customer.org>",
            subject=f"Order {number} has not arrived",
            message_id=f"<m{number}@customer.org>",
        ),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    return accepted.message_id


def states(runtime: Runtime, ids: list[int]) -> list[MessageState]:
    with runtime.db.session() as session:
        rows = session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id))
        return [m.state for m in rows]


def test_one_ingest_job_stores_the_messages_queued_behind_it(runtime: Runtime) -> None:
    ids = [accept(runtime, n) for n in range(5)]
    queue = runtime.jobs.queue(JobQueue.INTAKE)
    assert queue.count == 5
    summary = ingest_message(ids[0])
    assert summary.endswith("5 of 5 messages stored in a batch")
    # The taken jobs are gone from the queue and their records deleted: never run twice, and
    # a later enqueue for the same message makes a new job.
    assert queue.get_job_ids() == [INGEST_MESSAGE.job_id(ids[0])]
    assert not Job.exists(INGEST_MESSAGE.job_id(ids[1]), connection=runtime.jobs.connection)
    assert states(runtime, ids) == [MessageState.PROCESSED] * 5
    with runtime.db.session() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 5
    # Each ticket's classification is queued, and one classify job classifies them all.
    classify = runtime.jobs.queue(JobQueue.CLASSIFY)
    assert classify.count == 5
    first_ticket = int(classify.get_job_ids()[0].rsplit("-", 1)[1])
    assert classify_ticket(first_ticket).endswith("5 tickets in a batch")
    assert classify.get_job_ids() == [CLASSIFY_TICKET.job_id(first_ticket)]
    with runtime.db.session() as session:
        assert (
            session.scalar(select(func.count(Ticket.id)).where(Ticket.classified_at.is_(None))) == 0
        )
    # The job itself was run by hand here: its queued copy finds nothing left to do.
    run_jobs(runtime, "intake", "classify")
    assert states(runtime, ids) == [MessageState.PROCESSED] * 5


def test_a_batch_is_bounded(runtime: Runtime) -> None:
    ids = [accept(runtime, n) for n in range(BATCH + 3)]
    ingest_message(ids[0])
    assert states(runtime, ids).count(MessageState.PROCESSED) == BATCH
    assert runtime.jobs.queue(JobQueue.INTAKE).count == 4  # its own copy and three left


def test_a_message_that_fails_is_handed_back_and_the_others_are_stored(
    runtime: Runtime,
) -> None:
    ids = [accept(runtime, n) for n in range(3)]
    with runtime.db.session() as session:
        broken = session.get(Message, ids[1])
        assert broken is not None
        runtime.blobs.path(broken.raw_sha256).unlink()
    assert ingest_message(ids[0]).startswith("ticket")
    assert states(runtime, ids) == [
        MessageState.PROCESSED,
        MessageState.RECEIVED,
        MessageState.PROCESSED,
    ]
    with runtime.db.session() as session:
        broken = session.get(Message, ids[1])
        assert broken is not None and broken.attempts == 1 and "missing" in (broken.error or "")
    # Its own job is on the queue again, so it is retried like any failed message.
    assert INGEST_MESSAGE.job_id(ids[1]) in runtime.jobs.queue(JobQueue.INTAKE).get_job_ids()


def test_take_leaves_other_jobs_and_the_own_one(runtime: Runtime) -> None:
    ids = [accept(runtime, n) for n in range(3)]
    runtime.jobs.enqueue(CLASSIFY_TICKET, 99)
    queue = runtime.jobs.queue(JobQueue.INTAKE)
    queue.enqueue("os.getpid", job_id="something-else")
    assert take_queued(runtime, INGEST_MESSAGE, 10, exclude=ids[0]) == ids[1:]
    assert queue.get_job_ids() == [INGEST_MESSAGE.job_id(ids[0]), "something-else"]
    assert take_queued(runtime, INGEST_MESSAGE, 10, exclude=ids[0]) == []
    assert runtime.jobs.queue(JobQueue.CLASSIFY).count == 1


def test_a_reclassification_keeps_its_own_job(runtime: Runtime) -> None:
    """Only never-classified tickets are taken: the sweeper finds those again after a crash."""
    for n in range(3):
        accept(runtime, n)
    run_jobs(runtime, "intake", "classify")
    with runtime.db.session() as session:
        classified = sorted(session.scalars(select(Ticket.id)))
    ingest_message(accept(runtime, 3))  # a new ticket: its classify job is queued
    classify = runtime.jobs.queue(JobQueue.CLASSIFY)
    (fresh_job,) = classify.get_job_ids()
    for ticket_id in classified:
        runtime.jobs.enqueue(CLASSIFY_TICKET, ticket_id)  # as after a follow-up message
    assert classify_ticket(classified[0]).endswith("2 tickets in a batch")
    assert fresh_job not in classify.get_job_ids()
    assert classify.get_job_ids() == [CLASSIFY_TICKET.job_id(t) for t in classified]
