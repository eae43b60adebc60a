"""Follow-up jobs, each with an id derived from its row so enqueueing twice is harmless."""

from __future__ import annotations

from intake.queue import QueueName
from intake.runtime import Runtime


def enqueue_classification(runtime: Runtime, ticket_id: int) -> bool:
    return runtime.queues.enqueue(
        QueueName.CLASSIFY,
        "workers.classification.classify_ticket",
        ticket_id,
        job_id=f"classify-ticket-{ticket_id}",
        again_if_running=True,
    )


def enqueue_retrain(runtime: Runtime, run_key: str) -> bool:
    """One retrain per ``run_key`` (e.g. a date for the nightly run, a timestamp for the button)."""
    return runtime.queues.enqueue(
        QueueName.CLASSIFY,
        "workers.classification.retrain_category_model",
        job_id=f"retrain-category-{run_key}",
        timeout=3600,
    )
