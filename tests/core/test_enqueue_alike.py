"""A batch of jobs of one kind is written exactly as RQ writes each job (intake.core.jobs)."""

from __future__ import annotations

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus

from intake.core import jobs
from intake.core.jobs import INGEST_MESSAGE, RETRY_INTERVALS, Jobs

TIMES = {b"created_at", b"enqueued_at"}


def job_hash(connection: Redis, job_id: str) -> dict[bytes, bytes]:
    stored: dict[bytes, bytes] = connection.hgetall(Job.key_for(job_id))  # type: ignore[assignment]
    return {field: value for field, value in stored.items() if field not in TIMES}


def test_a_batch_is_stored_as_rq_stores_each_job_and_queued_in_order(redis_url: str) -> None:
    queue_jobs = Jobs(redis_url)
    connection = queue_jobs.connection
    assert queue_jobs.enqueue_many(INGEST_MESSAGE, [101, 102, 103])
    assert jobs._alike_checked[INGEST_MESSAGE.function]  # the copies were used
    # RQ's own enqueue of the same job, under another id, for comparison.
    Queue("reference", connection=connection).enqueue_many(
        [jobs._job_data(INGEST_MESSAGE, 102, "reference-102", Retry(5, RETRY_INTERVALS))]
    )
    ours = job_hash(connection, INGEST_MESSAGE.job_id(102))
    reference = job_hash(connection, "reference-102")
    assert set(ours) == set(reference)
    differing = {f for f in reference if ours[f] != reference[f]}
    assert differing == {b"origin"}  # the queue's name, and only that
    queue = queue_jobs.queue(INGEST_MESSAGE.queue)
    assert queue.job_ids == [INGEST_MESSAGE.job_id(k) for k in (101, 102, 103)]
    job = Job.fetch(INGEST_MESSAGE.job_id(103), connection=connection)
    assert (job.func_name, job.args, job.kwargs) == (INGEST_MESSAGE.function, (103,), {})
    assert job.description == f"{INGEST_MESSAGE.function}(103)"
    assert job.get_status() == JobStatus.QUEUED and job.origin == INGEST_MESSAGE.queue
    assert job.retries_left == 5 and job.timeout == INGEST_MESSAGE.timeout_s


def test_a_live_job_is_not_enqueued_twice_and_rq_is_used_when_copies_would_differ(
    redis_url: str,
) -> None:
    queue_jobs = Jobs(redis_url)
    assert queue_jobs.enqueue_many(INGEST_MESSAGE, [7])
    jobs._alike_checked[INGEST_MESSAGE.function] = False  # as if RQ's layout had changed
    try:
        assert queue_jobs.enqueue_many(INGEST_MESSAGE, [7, 8])
    finally:
        jobs._alike_checked.pop(INGEST_MESSAGE.function)
    queue = queue_jobs.queue(INGEST_MESSAGE.queue)
    assert queue.job_ids == [INGEST_MESSAGE.job_id(7), INGEST_MESSAGE.job_id(8)]
    job = Job.fetch(INGEST_MESSAGE.job_id(8), connection=queue_jobs.connection)
    assert job.args == (8,) and job.get_status() == JobStatus.QUEUED
