"""The process's classifier: the shipped models, replaced by the active stored versions.

Inference only (no scikit-learn): the ``classify`` queue's workers stay small until a retrain
job, which brings the training code (``workers.retraining``), runs in one of them.
"""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from classify.classifier import Classifier
from classify.model import TextModel
from intake.core.blobs import BlobStore
from intake.core.db.admin_models import ModelVersion
from intake.domain import ModelTask


class ClassifierCache:
    """The process's classifier, rebuilt only when the active versions change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int | None, ...] | None = None
        self._classifier: Classifier | None = None

    def get(self, session: Session, blobs: BlobStore) -> Classifier:
        # One query per classified ticket: the active version of every task.
        versions = {
            v.task: v for v in session.scalars(select(ModelVersion).where(ModelVersion.active))
        }
        key = tuple(versions[t].id if t in versions else None for t in ModelTask)
        with self._lock:
            if self._classifier is None or key != self._key:
                stored = {
                    task: TextModel.from_bytes(blobs.get(version.blob_sha256))
                    for task, version in versions.items()
                }
                self._classifier = Classifier.default().with_models(
                    stored.get(ModelTask.CATEGORY),
                    stored.get(ModelTask.SENTIMENT),
                    complaint_model=stored.get(ModelTask.COMPLAINT),
                    priority_model=stored.get(ModelTask.PRIORITY),
                )
                self._key = key
            return self._classifier


classifier_cache = ClassifierCache()
