"""Training and loading classifier models for the ``classify`` queue and the CLI.

Workers load the active versions once per process and reload only when an admin activates
another one (a cheap query per job tells).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy.orm import Session

from classify.classifier import Classifier
from classify.model import TextModel
from classify.shipped import category_training_set, sentiment_training_set
from classify.training import RetrainResult, train_and_compare
from intake.core.blobs import BlobStore
from intake.core.db.models import ModelVersion
from intake.core.model_versions import active_version, category_corrections, save_version
from intake.domain import ModelTask

log = logging.getLogger(__name__)


def active_model(session: Session, blobs: BlobStore, task: ModelTask) -> TextModel:
    """The active stored version, or the shipped default model."""
    version = active_version(session, task)
    if version is not None:
        return TextModel.from_bytes(blobs.get(version.blob_sha256))
    default = Classifier.default()
    return default.category_model if task is ModelTask.CATEGORY else default.sentiment_model


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
    base = category_training_set() if task is ModelTask.CATEGORY else sentiment_training_set()
    corrections = category_corrections(session) if task is ModelTask.CATEGORY else []
    result = train_and_compare(
        texts,
        labels,
        task=task,
        current=active_model(session, blobs, task),
        base=base,
        corrections=corrections,
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


class ClassifierCache:
    """The process's classifier, rebuilt only when the active versions change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int | None, int | None] | None = None
        self._classifier: Classifier | None = None

    def get(self, session: Session, blobs: BlobStore) -> Classifier:
        category = active_version(session, ModelTask.CATEGORY)
        sentiment = active_version(session, ModelTask.SENTIMENT)
        key = (category.id if category else None, sentiment.id if sentiment else None)
        with self._lock:
            if self._classifier is None or key != self._key:
                self._classifier = Classifier.default().with_models(
                    active_model(session, blobs, ModelTask.CATEGORY) if category else None,
                    active_model(session, blobs, ModelTask.SENTIMENT) if sentiment else None,
                )
                self._key = key
            return self._classifier


classifier_cache = ClassifierCache()
