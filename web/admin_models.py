"""Admin page for classifier model versions: scores, retrain now, activate (roll back)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from werkzeug.wrappers import Response

from intake.core.db.admin_models import Correction, ModelVersion
from intake.core.db.base import utcnow
from intake.core.jobs import RETRAIN_MODELS
from intake.core.model_versions import activate_version
from intake.domain import ModelTask
from intake.errors import NotFoundError
from web.auth import admin_required
from web.context import db, get_runtime
from web.i18n import error_text

bp = Blueprint("admin_models", __name__, url_prefix="/admin/models")


@bp.get("/")
@admin_required
def versions() -> str:
    rows = db().scalars(select(ModelVersion).order_by(ModelVersion.id.desc())).all()
    corrections = db().scalar(select(func.count(Correction.id))) or 0
    return render_template("admin/models.html", versions=rows, corrections=corrections)


@bp.post("/retrain")
@admin_required
def retrain_now() -> Response:
    if get_runtime().jobs.enqueue(RETRAIN_MODELS, utcnow().strftime("%Y%m%d%H%M%S")):
        flash(_("Retraining queued; the new version appears here when done."), "ok")
    else:
        flash(_("The queue is unavailable; try again later."), "error")
    return redirect(url_for("admin_models.versions"))


@bp.post("/<int:version_id>/activate")
@admin_required
def activate(version_id: int) -> Response:
    try:
        version = activate_version(db(), version_id)
        db().commit()
        flash(_("Version %(id)s (%(task)s) is active.", id=version.id, task=version.task), "ok")
    except NotFoundError as exc:
        flash(error_text(exc), "error")
    return redirect(url_for("admin_models.versions"))


@bp.post("/<task>/shipped")
@admin_required
def use_shipped(task: str) -> Response:
    """Roll back to the model shipped with the gateway."""
    task_value = ModelTask(task).value
    db().execute(update(ModelVersion).where(ModelVersion.task == task_value).values(active=False))
    db().commit()
    flash(_("The shipped %(task_value)s model is active.", task_value=task_value), "ok")
    return redirect(url_for("admin_models.versions"))
