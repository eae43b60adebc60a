"""``/readyz``: can this gateway do its work right now? (``/healthz`` in web.api is liveness.)

Ready means the database takes writes, the blob store takes writes, Redis answers and every queue
has at least one live RQ worker; any of them failing answers 503 with ``"ready": false``. Queue
depths and the age of the oldest waiting item are reported for monitoring, not judged here: a
backlog after a burst is not an outage, but an age that keeps growing is what an alert should
watch. Worker liveness is RQ's own registration, which a worker renews with its heartbeat; one
killed without a goodbye drops out when its key expires (RQ's worker TTL, 420 s).
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from rq import Worker
from rq.job import Job
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from intake.core.db.models import Message, Transcript, User, utcnow
from intake.core.jobs import JobQueue
from intake.domain import MessageState, TranscriptState
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


def queue_depths() -> dict[str, Any]:
    """Per RQ queue: jobs waiting, how long the first in line has waited, live workers."""
    jobs = get_runtime().jobs
    now = utcnow()
    depths: dict[str, Any] = {}
    for name in JobQueue:
        queue = jobs.queue(name)
        first = queue.get_job_ids(0, 1)
        job = Job.fetch(first[0], connection=jobs.connection) if first else None
        workers = Worker.all(connection=jobs.connection, queue=queue)
        depths[name.value] = {
            "depth": queue.count,
            "oldest_seconds": _age_seconds(_utc(job.enqueued_at if job else None, now), now),
            "workers": len(workers),
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


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    runtime = get_runtime()
    checks: dict[str, dict[str, Any]] = {
        "database": check_database(),
        "storage": check_storage(),
        "redis": {"ok": runtime.jobs.ping()},
    }
    queues: dict[str, Any] | None = None
    if checks["redis"]["ok"]:
        try:
            queues = queue_depths()
        except RedisError as exc:
            checks["redis"] = {"ok": False, "error": _error(exc)}
    if queues is not None:
        unserved = [name for name, queue in queues.items() if not queue["workers"]]
        checks["workers"] = {"ok": not unserved, "unserved_queues": unserved}
    else:
        checks["workers"] = {"ok": False, "error": "Redis is unreachable"}
    waiting: dict[str, Any] | None = None
    try:
        waiting = waiting_items()
    except SQLAlchemyError as exc:
        # Reads failing while the write probe passed: still not something to serve from.
        checks["database"] = {"ok": False, "error": _error(exc)}
    ready = all(check["ok"] for check in checks.values())
    if not ready:
        log.warning("not ready: %s", {k: v for k, v in checks.items() if not v["ok"]})
    body = {"ready": ready, "checks": checks, "queues": queues, "waiting": waiting}
    return jsonify(body), 200 if ready else 503
