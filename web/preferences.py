"""Each person's own settings: the UI language and the time zone dates are shown in."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.core.db.models import User
from web.auth import login_required
from web.context import db
from web.i18n import LANGUAGES, TIMEZONES

bp = Blueprint("preferences", __name__)


@bp.get("/preferences")
@login_required
def preferences() -> str:
    return render_template(
        "preferences.html",
        languages=LANGUAGES,
        timezones=sorted(TIMEZONES),
        user=db().get(User, current_user.id),
    )


@bp.post("/preferences")
@login_required
def save_preferences() -> Response | tuple[str, int]:
    language = request.form.get("language", "")
    timezone = request.form.get("timezone", "")
    if (language and language not in LANGUAGES) or (timezone and timezone not in TIMEZONES):
        flash(_("Unknown language or time zone."), "error")
        return preferences(), 422
    user = db().get(User, current_user.id)
    assert user is not None  # logged in, so the row exists
    user.language = language or None
    user.timezone = timezone or None
    db().commit()
    current_user.language, current_user.timezone = user.language, user.timezone
    flash(_("Preferences saved."), "ok")
    return redirect(url_for("preferences.preferences"))
