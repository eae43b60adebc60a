"""The ``classify`` queue's retrain job: agents' corrections become new model versions.

Its own module because training needs scikit-learn: a classify worker imports it only when a
retrain runs (``RETRAIN_MODELS`` is not warmed up), not at start.
"""

from __future__ import annotations

from intake.core import runtime as runtime_module
from intake.core.model_versions import tasks_with_new_corrections
from intake.domain import ModelTask
from workers.model_training import retrain


def retrain_models() -> str:
    """Shipped data + agents' corrections -> new versions of the corrected models (topic,
    priority), each active only if not worse on held-back data. The topic model when nothing
    was corrected since its last version (an admin asked for a retrain)."""
    runtime = runtime_module.current()
    with runtime.db.session() as session:
        tasks = tasks_with_new_corrections(session) or [ModelTask.CATEGORY]
    done = []
    for task in tasks:
        with runtime.db.session() as session:
            result, version = retrain(session, runtime.blobs, task, note="retrain")
        done.append(
            f"{task} version {version.id}: macro_f1 {result.new_metrics['macro_f1']},"
            f" active={version.active}"
        )
    return "; ".join(done)
