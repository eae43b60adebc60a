"""Admin pages: intake problems (failed or stuck items) with retry."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from intake.core.db.models import Message
from intake.core.states import live_claimants
from intake.core.states import retry_message as retry_stuck_message
from intake.domain import MessageState
from web.auth import admin_required
from web.context import db, get_runtime

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/intake")
@admin_required
def intake_problems() -> str:
    messages = list(
        db().scalars(
            select(Message)
            .where(Message.state != MessageState.PROCESSED)
            .order_by(Message.received_at.desc())
            .limit(500)
        )
    )
    # Everything here can be retried but what a live worker is processing right now.
    working = live_claimants(get_runtime(), [m.claimed_by for m in messages])
    return render_template("admin/intake.html", messages=messages, working=working)


@bp.post("/intake/<int:message_id>/retry")
@admin_required
def retry_message(message_id: int) -> Response:
    enqueued = retry_stuck_message(get_runtime(), message_id)
    if enqueued:
        flash(_("Message %(message_id)s queued again.", message_id=message_id), "ok")
    elif enqueued is False:
        flash(_("Queue unavailable; the sweeper will retry the message."), "error")
    else:
        flash(
            _("Message %(message_id)s is processed or being processed now.", message_id=message_id),
            "error",
        )
    return redirect(url_for("admin.intake_problems"))
