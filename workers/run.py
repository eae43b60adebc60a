"""Run an RQ worker for the gateway's queues.

``SimpleWorker`` runs jobs in this process instead of forking one child per job: database pools
and the speech and text models are built once per process and reused (a fork per job would
either reload them every time or share database connections across processes). Run more worker
processes, on as many hosts as needed, to scale.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rq import SimpleWorker

from intake.errors import ConfigError
from intake.queue import QueueName
from intake.runtime import Runtime

log = logging.getLogger(__name__)


def run_worker(runtime: Runtime, queue_names: Sequence[str], burst: bool = False) -> bool:
    try:
        names = [QueueName(name) for name in queue_names]
    except ValueError as exc:
        raise ConfigError(f"unknown queue: {exc}; known: {[q.value for q in QueueName]}") from None
    queues = [runtime.queues.queue(name) for name in names]
    if QueueName.TRANSCRIBE in names:
        from workers.transcription import preload

        # Load the speech model once, before the first job, for every job of this process.
        preload(runtime)
    if QueueName.CLASSIFY in names:
        from workers.classification import warm_up

        warm_up()
    worker = SimpleWorker(queues, connection=runtime.queues.connection)
    log.info("worker %s on queues %s", worker.name, ", ".join(n.value for n in names))
    # The scheduler moves retried jobs back onto their queue when their backoff expires.
    return bool(
        worker.work(burst=burst, with_scheduler=True, logging_level=runtime.settings.log_level)
    )
