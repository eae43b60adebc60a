"""Call-backs on voicemail tickets, from the ticket page and the API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.core.activity import Actor
from intake.core.callbacks import log_callback, parse_outcome
from intake.core.db.models import Ticket, User
from intake.errors import RejectedError
from web.auth import login_required, token_required
from web.context import db, get_runtime
from web.form_input import form_text
from web.i18n import error_text, word
from web.queries import load_ticket
from web.queue_filter import Viewer
from web.serialize import event_json

bp = Blueprint("callbacks", __name__)
api_bp = Blueprint("callbacks_api", __name__)


def _ticket_or_404(ticket_id: int, user: Any) -> Ticket:
    ticket = load_ticket(db(), ticket_id, Viewer(user.id, get_runtime().settings, user.is_admin))
    if ticket is None:
        abort(404)
    return ticket


@bp.post("/tickets/<int:ticket_id>/callbacks")
@login_required
def log(ticket_id: int) -> Response:
    ticket = _ticket_or_404(ticket_id, current_user)
    try:
        outcome = parse_outcome(form_text("outcome"))
        log_callback(db(), ticket, outcome, Actor.of(db().get(User, current_user.id)))
        db().commit()
        flash(_("Call-back logged: %(outcome)s.", outcome=word(outcome)), "ok")
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(url_for("views.ticket", ticket_id=ticket_id))


@api_bp.post("/api/tickets/<int:ticket_id>/callbacks")
@token_required
def api_log(ticket_id: int) -> tuple[Response, int]:
    """``{"outcome": "reached" | "no_answer" | "left_message"}`` → 201 with the logged event."""
    ticket = _ticket_or_404(ticket_id, g.api_user)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="bad_request", message="send a JSON object"), 400
    try:
        event = log_callback(db(), ticket, parse_outcome(body.get("outcome")), Actor.of(g.api_user))
        db().commit()
    except RejectedError as exc:
        db().rollback()
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(event_json(event)), 201
