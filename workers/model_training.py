"""Training new classifier model versions, for the retrain job and ``intake classify train``.

Imports scikit-learn: the classify workers load it only when a retrain runs. Classifying with
the active versions is ``workers.classifiers``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from classify.classifier import Classifier
from classify.model import TextModel
from classify.retrain import RetrainResult, train_and_compare
from classify.shipped import training_set_for
from intake.core.blobs import BlobStore
from intake.core.db.admin_models import ModelVersion
from intake.core.model_versions import (
    CORRECTED_FIELDS,
    active_version,
    agent_corrections,
    save_version,
)
from intake.domain import ModelTask

log = logging.getLogger(__name__)

# A few corrections move held-back macro-F1 by noise alone (a tenth of a point either way); a
# new version is refused only when it scores clearly worse than one trained without them.
NOISE_TOLERANCE = 0.01


def shipped_model(task: ModelTask) -> TextModel | None:
    default = Classifier.default()
    return {
        ModelTask.CATEGORY: default.category_model,
        ModelTask.SENTIMENT: default.sentiment_model,
        ModelTask.COMPLAINT: default.complaint_model,
        ModelTask.PRIORITY: default.priority_model,
    }[task]


def active_model(session: Session, blobs: BlobStore, task: ModelTask) -> TextModel | None:
    """The active stored version, or the shipped default model (None: the task has none)."""
    version = active_version(session, task)
    if version is not None:
        return TextModel.from_bytes(blobs.get(version.blob_sha256))
    return shipped_model(task)


def retrain(
    session: Session,
    blobs: BlobStore,
    task: ModelTask,
    *,
    texts: Sequence[str] = (),
    labels: Sequence[str] = (),
    note: str = "",
) -> tuple[RetrainResult, ModelVersion]:
    """Shipped data + the team's data + agents' corrections → a new version, active if not worse."""
    base = training_set_for(task)
    field = CORRECTED_FIELDS.get(task)
    corrections = agent_corrections(session, field) if field else []
    result = train_and_compare(
        texts,
        labels,
        task=task,
        current=active_model(session, blobs, task),
        base=base,
        corrections=corrections,
        tolerance=NOISE_TOLERANCE,
    )
    trained = TextModel.from_bytes(result.model_bytes)
    metrics = {
        "holdout": result.new_metrics,
        "current_on_holdout": result.current_metrics,
        "n_train": result.n_train,
        "n_holdout": result.n_holdout,
        "corrections": len(corrections),
        "labels": list(trained.labels),
    }
    version = save_version(
        session, blobs, task, result.model_bytes, metrics, activate=result.not_worse, note=note
    )
    log.info("model version %s (%s) saved, active=%s", version.id, task, version.active)
    return result, version
