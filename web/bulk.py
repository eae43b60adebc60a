"""Bulk actions on queue tickets: assign, set status, topic or priority, merge duplicates.

Every change goes through ``intake.core.tickets.update_ticket`` (or ``merge_tickets``), so each
ticket's activity log records it; a batch is one transaction: one refused ticket changes none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, request, url_for
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from intake.core.db.models import Ticket, User
from intake.core.groups import visible_to
from intake.core.ticket_merge import merge_tickets
from intake.core.tickets import update_ticket
from intake.errors import RejectedError
from web.auth import local_target, login_required, token_required
from web.context import db
from web.i18n import error_text

bp = Blueprint("bulk", __name__)
api_bp = Blueprint("api_bulk", __name__)

FIELDS = ("assignee", "status", "category", "priority")
MAX_TICKETS = 500


def _tickets(session: Session, user: User, ids: Sequence[int]) -> list[Ticket]:
    """The tickets, each one the user may see (another group's ticket counts as missing)."""
    if not ids:
        raise RejectedError("select at least one ticket")
    if len(ids) > MAX_TICKETS:
        raise RejectedError("at most {limit} tickets at once", limit=MAX_TICKETS)
    visible = visible_to(user.id, user.is_admin)
    query = select(Ticket).where(Ticket.id.in_(ids), visible).order_by(Ticket.id)
    rows = list(session.scalars(query))
    missing = sorted(set(ids) - {t.id for t in rows})
    if missing:
        raise RejectedError("no ticket {ids}", ids=", ".join(map(str, missing)))
    return rows


def apply_bulk(
    session: Session, user: User, ids: Sequence[int], action: str, value: Any
) -> tuple[int, str]:
    """Apply one action to every ticket; (tickets changed, what was done)."""
    tickets = _tickets(session, user, ids)
    if action == "merge":
        if len(tickets) < 2:
            raise RejectedError("select two or more tickets to merge")
        # The oldest ticket keeps the thread unless the caller names another one.
        oldest = min(tickets, key=lambda t: (t.created_at, t.id))
        target = next((t for t in tickets if str(t.id) == str(value)), oldest)
        merge_tickets(session, target, [t for t in tickets if t is not target], user)
        return len(tickets) - 1, f"merged into #{target.id}"
    if action == "assign":
        action, value = "assignee", (user.email if value == "me" else value)
    if action not in FIELDS:
        raise RejectedError("unknown action {action!r}", action=action)
    changed = sum(bool(update_ticket(session, t, {action: value}, user)) for t in tickets)
    shown = value or "nobody"
    return changed, f"{action} set to {shown}"


def _ids(values: Sequence[Any]) -> list[int]:
    try:
        return sorted({int(v) for v in values})
    except (TypeError, ValueError):
        raise RejectedError("ticket ids are numbers") from None


@bp.post("/queue/bulk")
@login_required
def bulk_action() -> Response:
    back = local_target(request.form.get("back"), url_for("views.queue"))
    action = request.form.get("action", "")
    value = request.form.get(action if action != "assign" else "assignee", "")
    user = db().get(User, current_user.id)
    assert user is not None
    try:
        changed, what = apply_bulk(db(), user, _ids(request.form.getlist("ids")), action, value)
        db().commit()
        flash(
            ngettext("%(num)s ticket: %(what)s.", "%(num)s tickets: %(what)s.", changed, what=what),
            "ok",
        )
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(back)


@api_bp.post("/api/tickets/bulk")
@token_required
def api_bulk() -> Response | tuple[Response, int]:
    """``{"ids": [...], "changes": {"status": ...}}`` or ``{"ids": [...], "merge_into": id}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("ids"), list):
        return jsonify(error="bad_request", message='send {"ids": [...], "changes": {...}}'), 400
    user: User = g.api_user
    try:
        ids = _ids(body["ids"])
        if "merge_into" in body:
            target = _ids([body["merge_into"]])[0]
            _merged, what = apply_bulk(db(), user, sorted({*ids, target}), "merge", target)
            results = [what]
        else:
            changes = body.get("changes")
            if not isinstance(changes, dict) or not changes:
                abort(400, description="changes must be a non-empty object")
            results = [apply_bulk(db(), user, ids, k, v)[1] for k, v in changes.items()]
    except RejectedError as exc:
        db().rollback()
        return jsonify(error="invalid", message=str(exc)), 422
    db().commit()
    return jsonify(ids=ids, done=results)
