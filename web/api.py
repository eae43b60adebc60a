"""JSON API under /api, Bearer-token authenticated, and /healthz."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from intake.core.activity import events_of
from intake.core.tickets import update_ticket
from intake.errors import RejectedError
from web.auth import token_required
from web.context import db, get_runtime
from web.live import snippet_markup
from web.queries import list_tickets, load_ticket, queue_page
from web.queue_filter import QueueFilter, Viewer
from web.serialize import event_json, message_json, ticket_counts, ticket_json, tickets_json

bp = Blueprint("api", __name__)


def _int_arg(name: str, default: int, maximum: int) -> int:
    try:
        return max(0, min(int(request.args.get(name, default)), maximum))
    except ValueError:
        abort(400, description=f"{name} must be an integer")


@bp.get("/api/tickets")
@token_required
def tickets() -> Response:
    """A page of the queue: ``cursor`` from the last answer's ``next_cursor`` (null: the end)."""
    flt = QueueFilter.from_args(request.args)
    viewer = _viewer()
    limit = max(1, _int_arg("limit", 100, 1000))
    if "offset" in request.args:  # the older form, kept for existing clients
        rows = list_tickets(db(), flt, viewer, limit, _int_arg("offset", 0, 10**9))
        return jsonify(tickets=tickets_json(db(), rows))
    try:
        page = queue_page(db(), flt, viewer, limit=limit, cursor=request.args.get("cursor"))
    except RejectedError as exc:
        abort(400, description=str(exc))
    data: dict[str, Any] = {"tickets": tickets_json(db(), page.tickets)}
    if flt.q:
        data["snippets"] = {str(i): str(snippet_markup(s)) for i, s in page.snippets.items()}
    data["next_cursor"] = page.next_cursor
    return jsonify(data)


def _viewer() -> Viewer:
    return Viewer(g.api_user.id, get_runtime().settings, g.api_user.is_admin)


def _ticket_detail(ticket_id: int) -> dict[str, Any]:
    ticket = load_ticket(db(), ticket_id, _viewer())
    if ticket is None:
        abort(404)
    data = ticket_json(ticket, ticket_counts(db(), [ticket.customer_id]))
    data["messages"] = [message_json(m) for m in ticket.messages]
    data["events"] = [event_json(e) for e in events_of(db(), ticket_id)]
    return data


@bp.get("/api/tickets/<int:ticket_id>")
@token_required
def ticket(ticket_id: int) -> Response:
    return jsonify(_ticket_detail(ticket_id))


@bp.patch("/api/tickets/<int:ticket_id>")
@token_required
def patch_ticket(ticket_id: int) -> Response | tuple[Response, int]:
    ticket = load_ticket(db(), ticket_id, _viewer())
    if ticket is None:
        abort(404)
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict):
        return jsonify(error="bad_request", message="send a JSON object"), 400
    try:
        update_ticket(db(), ticket, changes, g.api_user)
    except RejectedError as exc:
        db().rollback()
        return jsonify(error="invalid", message=str(exc)), 422
    db().commit()
    return jsonify(_ticket_detail(ticket_id))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    runtime = get_runtime()
    try:
        db().execute(text("SELECT 1"))
        database = True
    except SQLAlchemyError:
        database = False
    redis = runtime.jobs.ping()
    status = "ok" if database and redis else ("degraded" if database else "down")
    return jsonify(status=status, database=database, redis=redis), 200 if database else 503


@bp.errorhandler(400)
@bp.errorhandler(404)
@bp.errorhandler(413)
def json_error(error: Any) -> tuple[Response, int]:
    return jsonify(
        error=error.name.lower().replace(" ", "_"), message=error.description
    ), error.code
