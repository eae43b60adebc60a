"""``/readyz``: can this gateway do its work right now? (``/healthz`` in web.api is liveness.)

Ready means, all at once:

- the database takes writes and the blob store takes writes;
- Redis answers;
- every process kind in ``INTAKE_READY_PROCESSES`` (SMTP, IMAP and the sweeper by default) has a
  live heartbeat (``intake.core.heartbeat``: a process silent for four beats is dead, and the
  SMTP service beats only while its event loop answers);
- every queue has a live worker, by the same heartbeats (RQ's own registration outlives a killed
  worker by seven minutes);
- nothing has waited longer than ``INTAKE_READY_MAX_WAIT_SECONDS`` for a worker: neither the first
  job in any queue, nor a stored message or transcript that no worker has tried yet. Rows waiting
  out a retry's backoff after a failure are not judged (they show on the admin pages); a backlog
  after a burst clears well within the limit, a stuck pipeline does not.

Anything failing answers 503 with ``"ready": false``; the body says which check and why.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from intake.core.db.base import utcnow
from intake.core.db.models import Message, Transcript, User
from intake.core.heartbeat import ProcessBeat, live_processes
from intake.core.jobs import JobQueue
from intake.domain import MessageState, ProcessRole, TranscriptState
from web.context import get_runtime

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

# A probe must answer quickly even when the database is write-locked (the engine waits up to
# 30 s for a lock, which is right for the accept path and wrong for a probe).
PROBE_TIMEOUT_MS = 1000


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def check_database() -> dict[str, Any]:
    """A write that changes no row, in a transaction that is rolled back.

    It still needs the write lock (SQLite) or a writable transaction (PostgreSQL), so a locked or
    read-only database fails it, and nothing is left behind.
    """
    database = get_runtime().db
    sqlite = database.engine.dialect.name == "sqlite"
    try:
        with database.engine.connect() as connection:
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={PROBE_TIMEOUT_MS}")
            else:
                connection.execute(text(f"SET LOCAL lock_timeout = {PROBE_TIMEOUT_MS}"))
                connection.execute(text(f"SET LOCAL statement_timeout = {2 * PROBE_TIMEOUT_MS}"))
            try:
                connection.execute(
                    update(User).where(User.id == -1).values(session_version=User.session_version)
                )
            finally:
                connection.rollback()
                if sqlite:
                    # Pooled connection: back to the engine's own timeout for the next user.
                    connection.exec_driver_sql("PRAGMA busy_timeout=30000")
    except SQLAlchemyError as exc:
        return {"ok": False, "error": _error(exc)}
    return {"ok": True}


def check_storage() -> dict[str, Any]:
    """Write, fsync and delete a small file where blobs are written."""
    root = get_runtime().blobs.root
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=root, prefix=".readyz-")
        try:
            os.write(fd, b"readyz probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        return {"ok": False, "error": _error(exc)}
    return {"ok": True}


def _age_seconds(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else round(max(0.0, (now - since).total_seconds()), 1)


def _utc(moment: datetime | None, now: datetime) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=now.tzinfo)  # RQ keeps naive UTC
    return moment


def queue_depths(beats: list[ProcessBeat] | None = None) -> dict[str, Any]:
    """Per RQ queue: jobs waiting, how long the first in line has waited, live workers (by
    their heartbeats; ``beats`` when the caller has read them already). Raises RedisError."""
    jobs = get_runtime().jobs
    if beats is None:
        beats = live_processes(jobs.connection)
    now = utcnow()
    depths: dict[str, Any] = {}
    for name in JobQueue:
        queue = jobs.queue(name)
        first = queue.get_job_ids(0, 1)
        job = Job.fetch(first[0], connection=jobs.connection) if first else None
        depths[name.value] = {
            "depth": queue.count,
            "oldest_seconds": _age_seconds(_utc(job.enqueued_at if job else None, now), now),
            "workers": sum(
                1 for beat in beats if beat.role == ProcessRole.WORKER and name in beat.queues
            ),
        }
    return depths


def waiting_items() -> dict[str, Any]:
    """Rows are the truth about what waits: messages not yet turned into tickets, transcripts
    not yet made (whatever Redis holds)."""
    now = utcnow()
    with get_runtime().db.session() as session:
        messages = session.execute(
            select(func.count(Message.id), func.min(Message.received_at)).where(
                Message.state == MessageState.RECEIVED
            )
        ).one()
        transcripts = session.execute(
            select(func.count(Transcript.id), func.min(Transcript.created_at)).where(
                Transcript.state == TranscriptState.PENDING
            )
        ).one()
    return {
        "messages": {"count": messages[0], "oldest_seconds": _age_seconds(messages[1], now)},
        "transcripts": {
            "count": transcripts[0],
            "oldest_seconds": _age_seconds(transcripts[1], now),
        },
    }


def untried_ages() -> dict[str, float | None]:
    """How long the oldest message and transcript that no worker has tried yet have waited."""
    now = utcnow()
    with get_runtime().db.session() as session:
        message = session.scalar(
            select(func.min(Message.received_at)).where(
                Message.state == MessageState.RECEIVED, Message.attempts == 0
            )
        )
        transcript = session.scalar(
            select(func.min(Transcript.created_at)).where(
                Transcript.state == TranscriptState.PENDING, Transcript.attempts == 0
            )
        )
    return {"messages": _age_seconds(message, now), "transcripts": _age_seconds(transcript, now)}


def check_processes(beats: list[ProcessBeat]) -> dict[str, Any]:
    required = get_runtime().settings.recovery.ready_processes
    alive = {beat.role for beat in beats}
    missing = [role.value for role in required if role not in alive]
    return {"ok": not missing, "missing": missing}


def check_waiting(
    queues: dict[str, Any] | None, untried: dict[str, float | None] | None
) -> dict[str, Any]:
    limit = get_runtime().settings.recovery.ready_max_wait_seconds
    ages: dict[str, float | None] = {}
    if queues is not None:
        ages.update({f"queue {name}": queue["oldest_seconds"] for name, queue in queues.items()})
    if untried is not None:
        ages.update({f"untried {kind}": age for kind, age in untried.items()})
    over = {what: age for what, age in ages.items() if age is not None and age > limit}
    return {"ok": not over, "limit_seconds": limit, "over_limit": over}


def _describe(beat: ProcessBeat) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": beat.name,
        "role": beat.role.value,
        "beat_seconds": beat.beat_seconds,
        "up_seconds": beat.up_seconds,
    }
    if beat.role == ProcessRole.WORKER:
        described["queues"] = list(beat.queues)
    return described


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    runtime = get_runtime()
    checks: dict[str, dict[str, Any]] = {
        "database": check_database(),
        "storage": check_storage(),
        "redis": {"ok": runtime.jobs.ping()},
    }
    beats: list[ProcessBeat] | None = None
    queues: dict[str, Any] | None = None
    if checks["redis"]["ok"]:
        try:
            beats = live_processes(runtime.jobs.connection)
            queues = queue_depths(beats)
        except RedisError as exc:
            checks["redis"] = {"ok": False, "error": _error(exc)}
            beats = queues = None
    if beats is not None and queues is not None:
        checks["processes"] = check_processes(beats)
        unserved = [name for name, queue in queues.items() if not queue["workers"]]
        checks["workers"] = {"ok": not unserved, "unserved_queues": unserved}
    else:
        checks["processes"] = {"ok": False, "error": "Redis is unreachable"}
        checks["workers"] = {"ok": False, "error": "Redis is unreachable"}
    waiting: dict[str, Any] | None = None
    untried: dict[str, float | None] | None = None
    try:
        waiting = waiting_items()
        untried = untried_ages()
    except SQLAlchemyError as exc:
        # Reads failing while the write probe passed: still not something to serve from.
        checks["database"] = {"ok": False, "error": _error(exc)}
    checks["waiting"] = check_waiting(queues, untried)
    ready = all(check["ok"] for check in checks.values())
    if not ready:
        log.warning("not ready: %s", {k: v for k, v in checks.items() if not v["ok"]})
    body = {
        "ready": ready,
        "checks": checks,
        "processes": None if beats is None else [_describe(beat) for beat in beats],
        "queues": queues,
        "waiting": waiting,
    }
    return jsonify(body), 200 if ready else 503
