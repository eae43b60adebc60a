"""Root causes as JSON (``GET /api/analytics/topics``) and the tickets behind each item."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from werkzeug.wrappers import Response

from intake.core.analytics_topics import current_root_causes, tickets_with
from web.analytics_dashboard import filters_of, period_arg
from web.auth import login_required, token_required
from web.context import db
from web.gc_pause import without_gc_pauses

bp = Blueprint("analytics_topics", __name__)


@bp.get("/api/analytics/topics")
@token_required
@without_gc_pauses
def topics_json() -> Response:
    """``{"terms": [...], "emerging": [...], "groups": [...]}`` for ``days`` and ``topic``."""
    period = period_arg(request.args)
    filters = filters_of(request.args)
    data = current_root_causes(db(), filters, period).to_json()
    data.update(
        days=period.days,
        since=period.start.isoformat(),
        previous_since=period.previous.start.isoformat(),
        topic=filters.topic,
        filters=filters.as_args(),
    )
    return jsonify(data)


@bp.get("/analytics/tickets")
@login_required
def item_tickets() -> str:
    """The period's tickets containing a term, or in a complaint group (newest 200)."""
    term = (request.args.get("term") or "").strip()[:80] or None
    group = request.args.get("group_id", "")
    group_id = int(group) if group.isdigit() and len(group) < 10 else None
    if term is None and group_id is None:
        abort(404)
    period = period_arg(request.args)
    filters = filters_of(request.args)
    tickets = tickets_with(db(), filters, period, term=term, group_id=group_id)
    return render_template(
        "analytics_tickets.html",
        tickets=tickets,
        term=term,
        group_id=group_id,
        period=period,
        filters=filters,
    )
