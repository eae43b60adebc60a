"""The job registry: every RQ job defined once, and idempotent enqueueing.

A job is named here by the dotted path of its function in ``workers/``; RQ imports that path in
the worker process, so the core and the collectors enqueue without importing the workers (and
their models). ``tests/core/test_jobs.py`` imports every registered function.

Every job id is derived from the item it works on, so enqueueing twice (a collector and the
sweeper, or two sweepers on two hosts) never runs two live copies; the jobs themselves also claim
their row (``intake.core.states``), so even a duplicate that slips through does nothing.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import DefaultSerializer
from rq.utils import get_call_string

log = logging.getLogger(__name__)

# Backoff between retries of a failed job, in seconds; the last interval repeats.
RETRY_INTERVALS = [5, 30, 120, 600, 1800]
ACTIVE_STATES = {
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.SCHEDULED,
    JobStatus.DEFERRED,
}


class JobQueue(StrEnum):
    """The RQ queues; each worker process serves some of them (``intake worker --queues``)."""

    INTAKE = "intake"  # parse, thread, link customer, fetch recordings: fast, never waits on audio
    TRANSCRIBE = "transcribe"  # speech to text only: slow, own workers (GPU hosts in big setups)
    CLASSIFY = "classify"  # topic, priority, sentiment; retraining
    OUTBOUND = "outbound"  # mail we send: waits on a remote relay, so a queue and worker of its own
    # Root causes for the dashboard: a run takes seconds to minutes, so it never stands in front
    # of new mail on the intake worker.
    ANALYTICS = "analytics"


@dataclass(frozen=True)
class JobSpec:
    """One kind of job: where it runs, how long it may take, how it is named and retried."""

    function: str  # dotted path of the job function, resolved by RQ in the worker
    queue: JobQueue
    id_pattern: str  # formatted with the item's key: the RQ job id
    timeout_s: int = 600
    retried: bool = True  # with RETRY_INTERVALS, up to INTAKE_JOB_RETRIES times
    # A job already running may have read its rows before the change that asks for this one,
    # so a second job (``<id>-again``) is queued to run after it.
    again_if_running: bool = False
    passes_key: bool = True  # the function takes the key as its one argument
    # Imported (and its module's ``warm_up`` run) when a worker starts, before the first job.
    warm_up: bool = True

    def job_id(self, key: int | str) -> str:
        return self.id_pattern.format(key)


# Long voicemails (an hour of audio is possible) must not be killed by RQ's default timeout.
TRANSCRIBE_TIMEOUT = timedelta(hours=2)

INGEST_MESSAGE = JobSpec("workers.intake.ingest_message", JobQueue.INTAKE, "ingest-message-{}")
FETCH_RECORDING = JobSpec(
    "workers.recordings.fetch_recording", JobQueue.INTAKE, "fetch-recording-{}", timeout_s=300
)
TRANSCRIBE_MESSAGE = JobSpec(
    "workers.transcription.transcribe_message",
    JobQueue.TRANSCRIBE,
    "transcribe-message-{}",
    timeout_s=int(TRANSCRIBE_TIMEOUT.total_seconds()),
)
CLASSIFY_TICKET = JobSpec(
    "workers.classification.classify_ticket",
    JobQueue.CLASSIFY,
    "classify-ticket-{}",
    again_if_running=True,
)
# An admin's IMAP connection test: seconds against a remote server, so never in a web request.
CHECK_MAILBOX = JobSpec(
    "workers.mailbox_check.check_mailbox",
    JobQueue.INTAKE,
    "check-mailbox-{}",
    timeout_s=120,
    retried=False,  # the admin asked now; a retry minutes later would answer a stale question
)
# One retrain per key: a date for the nightly run, a timestamp for the admin's button.
RETRAIN_MODELS = JobSpec(
    "workers.retraining.retrain_models",
    JobQueue.CLASSIFY,
    "retrain-models-{}",
    timeout_s=3600,
    passes_key=False,
    warm_up=False,  # training brings scikit-learn: loaded when a retrain runs, not at start
)

# Root-cause terms and complaint groups for analytics, one run per 5-minute slot (the sweeper).
ROOT_CAUSES = JobSpec(
    "workers.root_causes.update_root_causes",
    JobQueue.ANALYTICS,
    "root-causes-{}",
    timeout_s=3600,
    passes_key=False,
    warm_up=False,  # jieba and the encoder load with the first run
)

# One outbound mail (reply, acknowledgement, notice) to the relay; the row says whether it went.
SEND_MESSAGE = JobSpec(
    "workers.outbound.send_message", JobQueue.OUTBOUND, "send-message-{}", timeout_s=120
)

# Near-breach and breach notices, one run per minute slot (the sweeper asks each round).
SLA_WATCH = JobSpec(
    "workers.sla_watch.watch_sla",
    JobQueue.INTAKE,
    "sla-watch-{}",
    timeout_s=300,
    passes_key=False,
    retried=False,  # the next minute's run picks up whatever this one left
)

JOBS: tuple[JobSpec, ...] = (
    INGEST_MESSAGE,
    FETCH_RECORDING,
    TRANSCRIBE_MESSAGE,
    CLASSIFY_TICKET,
    CHECK_MAILBOX,
    RETRAIN_MODELS,
    SLA_WATCH,
    ROOT_CAUSES,
    SEND_MESSAGE,
)


# A job claims its row as it starts; one started this long ago whose row still waits is lost.
STARTED_WITHOUT_CLAIM = timedelta(seconds=30)


def _started_without_claim(job: Job) -> bool:
    started = job.started_at
    if started is None:
        return False
    if started.tzinfo is None:  # RQ keeps naive UTC
        started = started.replace(tzinfo=UTC)
    return datetime.now(UTC) - started > STARTED_WITHOUT_CLAIM


class Jobs:
    """The process's connection to the job queues in Redis."""

    def __init__(self, redis_url: str, retries: int = 5) -> None:
        self.redis_url = redis_url
        self.retries = retries
        self._connection: Redis | None = None

    @property
    def connection(self) -> Redis:
        if self._connection is None:
            self._connection = Redis.from_url(
                self.redis_url, socket_connect_timeout=2, socket_timeout=10
            )
        return self._connection

    def queue(self, name: JobQueue) -> Queue:
        return Queue(name, connection=self.connection)

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except RedisError:
            return False

    def enqueue(self, spec: JobSpec, key: int | str, *, job_id: str | None = None) -> bool:
        """Enqueue ``spec`` for ``key`` unless a live job with its id exists.

        False when Redis is unreachable: the row waits and the sweeper enqueues it later.
        """
        job_id = job_id or spec.job_id(key)
        try:
            try:
                existing = Job.fetch(job_id, connection=self.connection)
                status = existing.get_status(refresh=False)
                if status == JobStatus.STARTED and spec.again_if_running:
                    return self.enqueue(spec, key, job_id=f"{spec.job_id(key)}-again")
                if status in ACTIVE_STATES:
                    return True
            except NoSuchJobError:
                pass
            args: tuple[Any, ...] = (key,) if spec.passes_key else ()
            retry = (
                Retry(max=self.retries, interval=RETRY_INTERVALS[: self.retries])
                if spec.retried and self.retries
                else None
            )
            self.queue(spec.queue).enqueue(
                spec.function,
                *args,
                job_id=job_id,
                job_timeout=spec.timeout_s,
                retry=retry,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
            return True
        except RedisError as exc:
            log.warning(
                "cannot enqueue %s on %s (will be swept later): %s", job_id, spec.queue, exc
            )
            return False

    def enqueue_once(self, spec: JobSpec, slot: str) -> bool:
        """Enqueue a periodic job for its time ``slot`` unless that slot's job exists in any state.

        :meth:`enqueue` queues a finished job again (right for retried items); a periodic job
        that sweepers ask for every few seconds must run once per slot, finished included.
        """
        try:
            if Job.exists(spec.job_id(slot), connection=self.connection):
                return False
        except RedisError as exc:
            log.warning("cannot schedule %s: %s", spec.function, exc)
            return False
        return self.enqueue(spec, slot)

    def enqueue_many(
        self, spec: JobSpec, keys: Sequence[int | str], *, new_items: bool = False
    ) -> bool:
        """:meth:`enqueue` for many keys in two round trips to Redis (a batch of new rows).

        Keys whose job is live are skipped, as in :meth:`enqueue`. False when Redis is
        unreachable: the rows wait and the sweeper enqueues them later. A spec that runs again
        when its job is running takes only ``new_items``: items first committed by the caller,
        so a job of theirs that is already running read them whole and need not run again.
        """
        if spec.again_if_running and not new_items:
            raise ValueError(f"{spec.function}: enqueue it one key at a time")
        job_ids = [spec.job_id(key) for key in keys]
        active = {status.value for status in ACTIVE_STATES}
        try:
            statuses = self.connection.pipeline(transaction=False)
            for job_id in job_ids:
                statuses.hget(Job.key_for(job_id), "status")
            retry = (
                Retry(max=self.retries, interval=RETRY_INTERVALS[: self.retries])
                if spec.retried and self.retries
                else None
            )
            todo = [
                (key, job_id)
                for key, job_id, status in zip(keys, job_ids, statuses.execute(), strict=True)
                if status is None or status.decode() not in active
            ]
            if todo:
                queue = self.queue(spec.queue)
                if not (spec.passes_key and self._enqueue_alike(queue, spec, todo, retry)):
                    queue.enqueue_many(
                        [_job_data(spec, key, job_id, retry) for key, job_id in todo]
                    )
            return True
        except RedisError as exc:
            log.warning(
                "cannot enqueue %d %s jobs (will be swept later): %s", len(keys), spec.queue, exc
            )
            return False

    def _enqueue_alike(
        self,
        queue: Queue,
        spec: JobSpec,
        todo: Sequence[tuple[int | str, str]],
        retry: Retry | None,
    ) -> bool:
        """Enqueue jobs that differ only in their key as RQ would, at a fraction of the cost.

        RQ builds, validates and serializes each job on its own (a quarter of a millisecond of
        the SMTP process's CPU per message). RQ builds the first job here; the others copy its
        hash with their own call data and description, and all are written in one transaction
        as RQ writes them (the hashes, then one push of every id). Whether the copies match
        what RQ would write is checked once per job kind against RQ itself (False: RQ then
        enqueues them its own way).
        """
        if spec.function not in _alike_checked:
            _alike_checked[spec.function] = _copies_match_rq(queue, spec, retry)
            if not _alike_checked[spec.function]:
                log.warning(
                    "RQ's job layout changed: %s jobs are enqueued one by one", spec.function
                )
        if not _alike_checked[spec.function]:
            return False
        (first_key, first_id), *_ = todo
        template = _rq_hash(queue, spec, first_key, first_id, retry)
        pipe = self.connection.pipeline()  # MULTI/EXEC: no worker sees an id before its hash
        pipe.sadd(queue.redis_queues_keys, queue.key)
        for key, job_id in todo:
            pipe.hset(Job.key_for(job_id), mapping=_copy_for(template, spec, key))
        pipe.rpush(queue.key, *(job_id for _, job_id in todo))
        pipe.execute()
        return True

    def requeue_if_lost(self, spec: JobSpec, key: int | str) -> bool:
        """Enqueue again a job whose record says queued but that sits on no queue.

        A worker that dies after RQ popped the job but before it marked it started leaves such
        a record, which never expires and would make ``enqueue`` skip the row forever. Only for
        rows that waited well past their grace: the check scans the queue (LPOS). True when the
        job is (again) on its queue or running.

        Likewise a job marked started long ago whose row is still waiting: its worker died
        between RQ's start and the job's claim on the row (a live one claims at once), and RQ
        would keep it "started" until the job's timeout (up to hours for a transcription).
        """
        job_id = spec.job_id(key)
        try:
            job = Job.fetch(job_id, connection=self.connection)
            status = job.get_status(refresh=False)
            lost = (
                status == JobStatus.QUEUED
                and self.connection.lpos(self.queue(spec.queue).key, job_id) is None
            ) or (status == JobStatus.STARTED and _started_without_claim(job))
        except NoSuchJobError:
            lost = False
        except RedisError as exc:
            log.warning("cannot check %s on %s: %s", job_id, spec.queue, exc)
            return False
        if lost:
            log.warning("job %s was lost between dequeue and start; enqueued again", job_id)
            return self.enqueue_anew(spec, key)
        return self.enqueue(spec, key)

    def enqueue_anew(self, spec: JobSpec, key: int | str) -> bool:
        """Drop whatever record RQ keeps of this job (its worker died) and enqueue it again."""
        job_id = spec.job_id(key)
        try:
            # A worker that died right after taking the job (BLMOVE, one queue) left its id in
            # the queue's intermediate list, where RQ's cleanup would later fail the new copy.
            self.connection.lrem(self.queue(spec.queue).intermediate_queue_key, 0, job_id)
            Job.fetch(job_id, connection=self.connection).delete()
        except NoSuchJobError:
            pass
        except RedisError as exc:
            log.warning("cannot replace %s on %s: %s", spec.job_id(key), spec.queue, exc)
            return False
        return self.enqueue(spec, key)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _job_data(spec: JobSpec, key: int | str, job_id: str, retry: Retry | None) -> Any:
    return Queue.prepare_data(
        spec.function,
        (key,) if spec.passes_key else (),
        job_id=job_id,
        timeout=spec.timeout_s,
        retry=retry,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )


# Per job function: whether copied hashes match RQ's own (checked on first use).
_alike_checked: dict[str, bool] = {}


def _rq_hash(
    queue: Queue, spec: JobSpec, key: int | str, job_id: str, retry: Retry | None
) -> dict[str, Any]:
    """The hash RQ writes for this job when it enqueues it (built by RQ, nothing written)."""
    data = _job_data(spec, key, job_id, retry)
    job = queue.create_job(
        data.func,
        args=data.args,
        kwargs=data.kwargs,
        timeout=data.timeout,
        result_ttl=data.result_ttl,
        failure_ttl=data.failure_ttl,
        description=data.description,
        job_id=data.job_id,
        retry=data.retry,
        status=JobStatus.QUEUED,
    )
    queue._prepare_for_queue(job)
    mapping: dict[str, Any] = job.to_dict()
    return mapping


def _copy_for(template: dict[str, Any], spec: JobSpec, key: int | str) -> dict[Any, Any]:
    mapping: dict[Any, Any] = dict(template)
    mapping["data"] = zlib.compress(DefaultSerializer.dumps((spec.function, None, (key,), {})))
    mapping["description"] = get_call_string(spec.function, (key,), {}, max_length=75)
    return mapping


def _copies_match_rq(queue: Queue, spec: JobSpec, retry: Retry | None) -> bool:
    """Whether a copy of one key's hash, made for another key, is what RQ writes for that key."""
    try:
        template = _rq_hash(queue, spec, 1, spec.job_id(1), retry)
        expected = _rq_hash(queue, spec, 22, spec.job_id(22), retry)
        copy = _copy_for(template, spec, 22)
    except Exception:  # any surprise in RQ's internals: use RQ's own way
        log.exception("cannot build %s jobs alike", spec.function)
        return False
    times = {"created_at", "enqueued_at"}
    return {k: v for k, v in copy.items() if k not in times} == {
        k: v for k, v in expected.items() if k not in times
    } and set(copy) == set(expected)
