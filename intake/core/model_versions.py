"""Classifier model versions: stored as blobs, one active per task, with their scores.

Only rows here (no model code), so the web and the CLI manage versions without loading
scikit-learn; ``workers.model_training`` trains and loads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from intake.core.blobs import BlobStore
from intake.core.db.admin_models import Category, Correction, ModelVersion
from intake.domain import ModelTask
from intake.errors import NotFoundError


def active_version(session: Session, task: ModelTask) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.task == task, ModelVersion.active.is_(True))
    )


def save_version(
    session: Session,
    blobs: BlobStore,
    task: ModelTask,
    model_bytes: bytes,
    metrics: dict[str, Any],
    *,
    activate: bool,
    note: str = "",
) -> ModelVersion:
    version = ModelVersion(
        task=task, blob_sha256=blobs.put(model_bytes), metrics=metrics, note=note
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
        raise NotFoundError("no model version {version_id}", version_id=version_id)
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.task == version.task, ModelVersion.id != version.id)
        .values(active=False)
    )
    version.active = True
    if version.task == ModelTask.CATEGORY:
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


def agent_corrections(session: Session, field: str) -> list[tuple[str, str]]:
    """(message text, the value an agent set) for one ticket field, oldest first."""
    rows = session.execute(
        select(Correction.text, Correction.new_value)
        .where(Correction.field == field)
        .order_by(Correction.id)
    )
    # The latest correction of a text wins.
    latest: dict[str, str] = {}
    for text, label in rows:
        if text.strip():
            latest[text] = label
    return list(latest.items())


# The model each ticket field that agents correct teaches.
CORRECTED_FIELDS = {ModelTask.CATEGORY: "category", ModelTask.PRIORITY: "priority"}


def tasks_with_new_corrections(session: Session) -> list[ModelTask]:
    """Models whose field agents corrected since that model's last version was trained."""
    stale = []
    for task, field in CORRECTED_FIELDS.items():
        last_correction = session.scalar(
            select(func.max(Correction.created_at)).where(Correction.field == field)
        )
        last_version = session.scalar(
            select(func.max(ModelVersion.created_at)).where(ModelVersion.task == task)
        )
        if last_correction is not None and (last_version is None or last_version < last_correction):
            stale.append(task)
    return stale
