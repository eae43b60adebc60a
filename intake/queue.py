"""RQ queues and idempotent enqueueing.

Every job id is derived from the item it works on, so enqueueing twice (a collector and the
sweeper, or two sweepers on two hosts) never runs two live copies; the jobs themselves also claim
their row with a conditional UPDATE, so even a duplicate that slips through does nothing.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)

# Backoff between retries of a failed job, in seconds; the last interval repeats.
RETRY_INTERVALS = [5, 30, 120, 600, 1800]
ACTIVE_STATES = {
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.SCHEDULED,
    JobStatus.DEFERRED,
}


class QueueName(str, Enum):
    INTAKE = "intake"  # parse, thread, link customer: fast, never waits on audio
    TRANSCRIBE = "transcribe"  # speech to text: slow, own workers (GPU hosts in big setups)
    CLASSIFY = "classify"  # category, priority, sentiment


class JobQueues:
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

    def queue(self, name: QueueName) -> Queue:
        return Queue(name.value, connection=self.connection)

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except RedisError:
            return False

    def enqueue(
        self,
        name: QueueName,
        func: str,
        *args: Any,
        job_id: str,
        timeout: int = 600,
        again_if_running: bool = False,
    ) -> bool:
        """Enqueue unless a live job with this id exists. False when Redis is unreachable.

        ``again_if_running``: a job already running may have read its rows before the change
        that asks for this one, so a second job (``<id>-again``) is queued to run after it.
        """
        try:
            try:
                existing = Job.fetch(job_id, connection=self.connection)
                status = existing.get_status(refresh=False)
                if status == JobStatus.STARTED and again_if_running:
                    return self.enqueue(
                        name, func, *args, job_id=f"{job_id}-again", timeout=timeout
                    )
                if status in ACTIVE_STATES:
                    return True
            except NoSuchJobError:
                pass
            self.queue(name).enqueue(
                func,
                *args,
                job_id=job_id,
                job_timeout=timeout,
                retry=Retry(max=self.retries, interval=RETRY_INTERVALS[: self.retries]),
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
            return True
        except RedisError as exc:
            log.warning(
                "cannot enqueue %s on %s (will be swept later): %s", job_id, name.value, exc
            )
            return False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
