"""Classifier model versions: stored as blobs, one active per task, with their scores.

Workers load the active versions once per process and reload only when an admin activates
another one (a cheap query per job tells).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from classify.classifier import Classifier
from classify.model import TextModel
from classify.training import RetrainResult, Task, train_and_compare
from intake.blobs import BlobStore
from intake.db.models import Category, Correction, ModelVersion
from intake.errors import NotFoundError

log = logging.getLogger(__name__)


def active_version(session: Session, task: Task) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.task == task.value, ModelVersion.active.is_(True))
    )


def active_model(session: Session, blobs: BlobStore, task: Task) -> TextModel:
    """The active stored version, or the shipped default model."""
    version = active_version(session, task)
    if version is not None:
        return TextModel.from_bytes(blobs.get(version.blob_sha256))
    default = Classifier.default()
    return default.category_model if task is Task.CATEGORY else default.sentiment_model


def save_version(
    session: Session,
    blobs: BlobStore,
    task: Task,
    model_bytes: bytes,
    metrics: dict[str, Any],
    *,
    activate: bool,
    note: str = "",
) -> ModelVersion:
    version = ModelVersion(
        task=task.value, blob_sha256=blobs.put(model_bytes), metrics=metrics, note=note
    )
    session.add(version)
    session.flush()
    if activate:
        activate_version(session, version.id)
    return version


def activate_version(session: Session, version_id: int) -> ModelVersion:
    """Make a version the active one of its task (also how admins roll back)."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFoundError(f"no model version {version_id}")
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.task == version.task, ModelVersion.id != version.id)
        .values(active=False)
    )
    version.active = True
    if version.task == Task.CATEGORY.value:
        _add_missing_categories(session, version.metrics.get("labels", []))
    return version


def _add_missing_categories(session: Session, labels: Sequence[str]) -> None:
    """A model trained on a team's own labels brings its categories into the taxonomy."""
    known = set(session.scalars(select(Category.key)))
    position = len(known)
    for label in labels:
        if label not in known:
            position += 1
            session.add(Category(key=label, label=label.replace("_", " "), position=position))


def category_corrections(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Correction.text, Correction.new_value)
        .where(Correction.field == "category")
        .order_by(Correction.id)
    )
    # The latest correction of a text wins.
    latest: dict[str, str] = {}
    for text, label in rows:
        if text.strip():
            latest[text] = label
    return list(latest.items())


def retrain(
    session: Session,
    blobs: BlobStore,
    task: Task,
    *,
    texts: Sequence[str] = (),
    labels: Sequence[str] = (),
    note: str = "",
) -> tuple[RetrainResult, ModelVersion]:
    """Shipped data + the team's data + agents' corrections → a new version, active if not worse."""
    from classify.shipped import category_training_set, sentiment_training_set

    base = category_training_set() if task is Task.CATEGORY else sentiment_training_set()
    corrections = category_corrections(session) if task is Task.CATEGORY else []
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
    log.info("model version %s (%s) saved, active=%s", version.id, task.value, version.active)
    return result, version


class ClassifierCache:
    """The process's classifier, rebuilt only when the active versions change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int | None, int | None] | None = None
        self._classifier: Classifier | None = None

    def get(self, session: Session, blobs: BlobStore) -> Classifier:
        category = active_version(session, Task.CATEGORY)
        sentiment = active_version(session, Task.SENTIMENT)
        key = (category.id if category else None, sentiment.id if sentiment else None)
        with self._lock:
            if self._classifier is None or key != self._key:
                self._classifier = Classifier.default().with_models(
                    active_model(session, blobs, Task.CATEGORY) if category else None,
                    active_model(session, blobs, Task.SENTIMENT) if sentiment else None,
                )
                self._key = key
            return self._classifier


classifier_cache = ClassifierCache()
