"""The RQ worker the gateway runs: RQ's ``SimpleWorker``, timing every job for ``/metrics``."""

from __future__ import annotations

import time
from typing import Any

from rq import Queue, SimpleWorker
from rq.job import Job

from intake.core.metrics import observe_job


class MeasuredWorker(SimpleWorker):
    """Records each job's duration per queue, and its failure (each try counts)."""

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        started = time.monotonic()
        succeeded = bool(super().perform_job(job, queue, *args, **kwargs))
        observe_job(queue.name, time.monotonic() - started, failed=not succeeded)
        return succeeded
