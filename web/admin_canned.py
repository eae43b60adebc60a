"""Admin page for canned responses: reply texts in English and Chinese with placeholders."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.core.canned import LANGUAGES, PLACEHOLDERS, add_canned, canned_responses, update_canned
from intake.core.db.admin_models import CannedResponse
from intake.errors import RejectedError
from web.auth import admin_required
from web.context import db
from web.form_input import form_text

log = logging.getLogger(__name__)
bp = Blueprint("canned", __name__, url_prefix="/admin")


def _row_or_404(response_id: int) -> CannedResponse:
    row = db().get(CannedResponse, response_id)
    if row is None:
        abort(404)
    return row


@bp.get("/canned")
@admin_required
def index() -> str:
    return render_template(
        "admin/canned.html",
        responses=canned_responses(db()),
        languages=LANGUAGES,
        placeholders=PLACEHOLDERS,
    )


@bp.post("/canned")
@admin_required
def add() -> Response:
    try:
        row = add_canned(db(), form_text("title"), form_text("language"), form_text("body"))
        db().commit()
    except RejectedError as exc:
        db().rollback()
        flash(_("Not added: %(exc)s.", exc=exc), "error")
        return redirect(url_for("canned.index"))
    log.info("%s added canned response %s", current_user.email, row.id)
    flash(_("Canned response %(title)s added.", title=repr(row.title)), "ok")
    return redirect(url_for("canned.index"))


@bp.post("/canned/<int:response_id>")
@admin_required
def update(response_id: int) -> Response:
    row = _row_or_404(response_id)
    try:
        update_canned(row, form_text("title"), form_text("language"), form_text("body"))
        db().commit()
    except RejectedError as exc:
        db().rollback()
        flash(_("Not saved: %(exc)s.", exc=exc), "error")
        return redirect(url_for("canned.index"))
    flash(_("Canned response %(title)s saved.", title=repr(row.title)), "ok")
    return redirect(url_for("canned.index"))


@bp.post("/canned/<int:response_id>/delete")
@admin_required
def delete(response_id: int) -> Response:
    row = _row_or_404(response_id)
    db().delete(row)
    db().commit()
    log.info("%s deleted canned response %s", current_user.email, response_id)
    flash(_("Canned response %(title)s deleted.", title=repr(row.title)), "ok")
    return redirect(url_for("canned.index"))
