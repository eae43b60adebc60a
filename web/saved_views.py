"""Saving and deleting queue views (``intake.core.saved_views``) from the queue page."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.core.db.models import User
from intake.core.saved_views import delete_view, save_view
from intake.errors import NotFoundError, RejectedError
from web.auth import login_required
from web.context import db
from web.i18n import error_text
from web.queue_filter import QueueFilter

bp = Blueprint("saved_views", __name__)


def _me() -> User:
    user = db().get(User, current_user.id)
    assert user is not None
    return user


@bp.post("/queue/views")
@login_required
def save() -> Response:
    # The filter travels as f-NAME fields; parsing it keeps only what the queue understands.
    raw = {k[2:]: v for k, v in request.form.items() if k.startswith("f-")}
    filters = QueueFilter.from_args(raw).args()
    share = request.form.get("share", "")
    group = share[len("group:") :] if share.startswith("group:") else None
    try:
        view = save_view(
            db(),
            _me(),
            request.form.get("name", ""),
            filters,
            shared=share == "everyone",
            group=group,
        )
        db().commit()
        flash(_("View “%(name)s” saved.", name=view.name), "ok")
        return redirect(url_for("views.queue") + "?" + view.query)
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("views.queue") + "?" + urlencode(filters))


@bp.post("/queue/views/<int:view_id>/delete")
@login_required
def delete(view_id: int) -> Response:
    try:
        delete_view(db(), _me(), view_id)
        db().commit()
        flash(_("View deleted."), "ok")
    except (RejectedError, NotFoundError) as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(url_for("views.queue"))
