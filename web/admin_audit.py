"""The audit log page (admins only): admin changes and ticket changes, searchable, as CSV.

Also where every logged-in request's database session learns who acts, so the changes it makes
to audited tables are recorded (``intake.core.audit``) without code in each admin handler.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from flask import Blueprint, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.core.activity import Actor
from intake.core.audit import AuditQuery, AuditRow, as_text, audit_as, search
from web.auth import admin_required
from web.context import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE_ROWS = 500
CSV_ROWS = 100_000


@bp.before_app_request
def _audit_the_logged_in_user() -> None:
    if current_user.is_authenticated:
        audit_as(db(), Actor(current_user.id, current_user.email))


def _date(name: str) -> datetime | None:
    """A YYYY-MM-DD argument as the start of that UTC day; anything else is ignored."""
    try:
        day = datetime.strptime(request.args.get(name, "").strip(), "%Y-%m-%d")
    except ValueError:
        return None
    return day.replace(tzinfo=UTC)


def _query(limit: int) -> AuditQuery:
    until = _date("until")
    return AuditQuery(
        actor=request.args.get("actor", "").strip()[:320],
        object=request.args.get("object", "").strip()[:140],
        since=_date("since"),
        until=until + timedelta(days=1) if until else None,  # the "until" day is included
        limit=limit,
    )


def _csv(rows: list[AuditRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["at", "actor", "action", "object", "label", "field", "old", "new"])
    for r in rows:
        writer.writerow(
            [
                r.at.isoformat(),
                r.actor,
                r.action,
                r.object,
                r.object_label,
                r.field or "",
                as_text(r.old),
                as_text(r.new),
            ]
        )
    return out.getvalue()


@bp.get("")
@admin_required
def audit_log() -> str:
    query = _query(PAGE_ROWS)
    rows = search(db(), query)
    return render_template(
        "analytics_audit.html", rows=rows, query=query, as_text=as_text, args=request.args
    )


@bp.get("/export.csv")
@admin_required
def audit_csv() -> Response:
    rows = search(db(), _query(CSV_ROWS))
    return Response(
        "\ufeff" + _csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
