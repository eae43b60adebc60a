"""Run an RQ worker for some of the gateway's queues.

``SimpleWorker`` runs jobs in this process instead of forking one child per job: database pools
and the speech and text models are built once per process and reused (a fork per job would
either reload them every time or share database connections across processes). Run more worker
processes, on as many hosts as needed, to scale.

Before the first job, the worker imports the module of every registered job on its queues and
calls that module's ``warm_up(runtime)`` if it has one (the speech model, the text models): so
a transcription host loads only the speech model, and a classify worker only the text models.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence

from intake.core.heartbeat import Heartbeat
from intake.core.jobs import JOBS, JobQueue
from intake.core.runtime import Runtime
from intake.domain import ProcessRole
from intake.errors import ConfigError
from workers.measured import MeasuredWorker

log = logging.getLogger(__name__)


def parse_queue_names(queue_names: Sequence[str]) -> list[JobQueue]:
    try:
        return [JobQueue(name) for name in queue_names]
    except ValueError as exc:
        known = ", ".join(JobQueue)
        raise ConfigError(f"unknown queue: {exc}; known: {known}") from None


def warm_up(runtime: Runtime, names: Sequence[JobQueue]) -> None:
    modules = {
        spec.function.rpartition(".")[0] for spec in JOBS if spec.queue in names and spec.warm_up
    }
    for module_name in sorted(modules):
        module = importlib.import_module(module_name)
        if hasattr(module, "warm_up"):
            module.warm_up(runtime)


def run_worker(runtime: Runtime, queue_names: Sequence[str], burst: bool = False) -> bool:
    names = parse_queue_names(queue_names)
    warm_up(runtime, names)
    worker = MeasuredWorker(
        [runtime.jobs.queue(name) for name in names], connection=runtime.jobs.connection
    )
    log.info("worker %s on queues %s", worker.name, ", ".join(names))
    # The claims this process takes name it; while it beats they are its own.
    heartbeat = Heartbeat(
        runtime.jobs.connection,
        ProcessRole.WORKER,
        interval_s=runtime.settings.recovery.heartbeat_seconds,
        queues=[name.value for name in names],
    ).start()
    try:
        # No scheduler fork here: the sweeper runs it (see workers.sweeper), so this process's
        # models are never copied into a second process.
        return bool(
            worker.work(burst=burst, with_scheduler=False, logging_level=runtime.settings.log_level)
        )
    finally:
        heartbeat.stop()
