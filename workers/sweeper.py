"""Re-enqueue work that is stored but not queued: Redis was down, or a worker died mid-job.

Rows, not queue records, are the truth about what waits (``intake.core.states``). Safe to run
on several hosts at once: job ids are derived from rows and jobs claim rows.

The sweeper process also runs RQ's scheduler, which puts retried jobs back on their queue when
their backoff is over. RQ would otherwise fork one from every worker, and a fork of a worker
that holds the speech or text models doubles its resident memory; RQ's lock keeps one
scheduler per queue however many sweepers run.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from redis.exceptions import RedisError
from rq.scheduler import RQScheduler
from sqlalchemy import exists, select

from intake.core.analytics_jobs import schedule_root_causes
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, Transcript
from intake.core.db.statistics import OPTIMIZE_EVERY_SECONDS, optimize
from intake.core.jobs import (
    CLASSIFY_TICKET,
    INGEST_MESSAGE,
    RETRAIN_MODELS,
    TRANSCRIBE_MESSAGE,
    JobQueue,
    JobSpec,
)
from intake.core.model_versions import tasks_with_new_corrections
from intake.core.runtime import Runtime
from intake.core.states import (
    release_abandoned,
    waiting_message_ids,
    waiting_transcript_ids,
)
from intake.domain import TranscriptState
from workers.outbound import sweep_outbound
from workers.sla_watch import schedule_sla_watch

log = logging.getLogger(__name__)

BATCH = 500
# A ticket's classification normally follows within seconds of its message being processed.
UNCLASSIFIED_AFTER = timedelta(minutes=2)
UNCLASSIFIED_UNTIL = timedelta(days=1)


def _enqueue_all(
    runtime: Runtime, spec: JobSpec, keys: list[int], what: str, *, check_lost: bool = False
) -> int:
    enqueue = runtime.jobs.requeue_if_lost if check_lost else runtime.jobs.enqueue
    enqueued = sum(1 for key in keys if enqueue(spec, key))
    if keys:
        log.info("sweeper: %d of %d %s enqueued", enqueued, len(keys), what)
    return enqueued


def _without(ids: list[int], others: list[int]) -> list[int]:
    excluded = set(others)
    return [i for i in ids if i not in excluded]


def sweep_once(runtime: Runtime) -> int:
    """Enqueue everything waiting; returns how many jobs were (re)enqueued.

    Rows are the truth: a row still waiting long after its grace is enqueued again even when
    RQ's record of its job says "queued", if that job is on no queue.
    """
    now = utcnow()
    handed_back = sum(
        1
        for kind, message_id in release_abandoned(runtime, now)
        if runtime.jobs.enqueue_anew(
            INGEST_MESSAGE if kind == "message" else TRANSCRIBE_MESSAGE, message_id
        )
    )
    with runtime.db.session() as session:
        lost_after = runtime.settings.recovery.lost_after
        long_messages = waiting_message_ids(session, now, BATCH, waited=lost_after)
        long_transcripts = waiting_transcript_ids(session, now, BATCH, waited=lost_after)
        messages = _without(waiting_message_ids(session, now, BATCH), long_messages)
        transcripts = _without(waiting_transcript_ids(session, now, BATCH), long_transcripts)
    return (
        handed_back
        + _enqueue_all(runtime, INGEST_MESSAGE, messages, "waiting messages")
        + _enqueue_all(runtime, TRANSCRIBE_MESSAGE, transcripts, "waiting transcripts")
        + _enqueue_all(
            runtime, INGEST_MESSAGE, long_messages, "long-waiting messages", check_lost=True
        )
        + _enqueue_all(
            runtime,
            TRANSCRIBE_MESSAGE,
            long_transcripts,
            "long-waiting transcripts",
            check_lost=True,
        )
        + sweep_unclassified(runtime)
        + sweep_outbound(runtime)
    )


def sweep_unclassified(runtime: Runtime) -> int:
    """Enqueue classification of customer tickets whose own enqueue was lost (Redis blip)."""
    now = utcnow()
    unfinished = exists().where(
        Transcript.message_id == Message.id,
        Message.ticket_id == Ticket.id,
        Transcript.state.in_([TranscriptState.PENDING, TranscriptState.RUNNING]),
    )
    with runtime.db.session() as session:
        ids = list(
            session.scalars(
                select(Ticket.id)
                .where(
                    Ticket.classified_at.is_(None),
                    Ticket.automatic.is_(False),
                    Ticket.created_at < now - UNCLASSIFIED_AFTER,
                    # Bounded: a ticket whose classification keeps failing is not retried forever.
                    Ticket.created_at > now - UNCLASSIFIED_UNTIL,
                    ~unfinished,
                )
                .order_by(Ticket.id)
                .limit(BATCH)
            )
        )
    return _enqueue_all(runtime, CLASSIFY_TICKET, ids, "unclassified tickets")


def schedule_retrain(runtime: Runtime) -> bool:
    """Queue the nightly retrain when agents corrected topics or priorities since the last one."""
    with runtime.db.session() as session:
        if not tasks_with_new_corrections(session):
            return False
    # One run per day: the job id is derived from the date.
    return runtime.jobs.enqueue(RETRAIN_MODELS, utcnow().strftime("%Y%m%d"))


def run_scheduler(runtime: Runtime, stop: threading.Event, interval_s: float = 1.0) -> None:
    """Move due retries back onto their queues until ``stop`` is set."""
    scheduler = RQScheduler(list(JobQueue), connection=runtime.jobs.connection)
    try:
        while not stop.is_set():
            try:
                if scheduler.should_reacquire_locks:
                    scheduler.acquire_locks()
                if scheduler.acquired_locks:
                    scheduler.heartbeat()
                    scheduler.enqueue_scheduled_jobs()
            except RedisError as exc:
                log.warning("scheduler: Redis unavailable (%s); trying again", exc)
            stop.wait(interval_s)
    finally:
        try:
            scheduler.release_locks()
        except RedisError:
            pass  # the locks expire on their own


def run_sweeper(runtime: Runtime, stop: threading.Event) -> None:
    scheduler = threading.Thread(
        target=run_scheduler, args=(runtime, stop), name="rq-scheduler", daemon=True
    )
    scheduler.start()
    optimized_at = time.monotonic()
    while not stop.is_set():
        try:
            if time.monotonic() - optimized_at >= OPTIMIZE_EVERY_SECONDS:
                optimize(runtime.db.engine)
                optimized_at = time.monotonic()
            sweep_once(runtime)
            schedule_retrain(runtime)
            schedule_sla_watch(runtime)
            schedule_root_causes(runtime)
        except Exception:
            # A database or Redis outage must not kill the sweeper: try again next round.
            log.exception("sweep failed")
        stop.wait(runtime.settings.sweep_seconds)
    scheduler.join(timeout=5)
