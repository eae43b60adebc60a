"""Agent-facing pages: the unified queue, a ticket with its thread, downloads."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from intake.core.activity import events_of
from intake.core.db.models import Attachment, Message, User
from intake.core.groups import all_groups
from intake.core.saved_views import user_groups, visible_views
from intake.core.tickets import active_categories, update_ticket
from intake.domain import TicketStatus
from intake.errors import NotFoundError, RejectedError
from intake.mail.html import sanitize_html
from web.auth import login_required
from web.context import db, get_runtime
from web.i18n import error_text
from web.live import queue_choices, queue_rows, viewer
from web.queries import load_ticket, may_see_message
from web.queue_filter import CUSTOMER_TYPES, SLA_STATES, QueueFilter
from web.serialize import ticket_counts, tickets_json

bp = Blueprint("views", __name__)

PRIORITIES = ("urgent", "high", "medium", "low")
_CID_SRC = re.compile(r'src="cid:([^"]+)"', re.IGNORECASE)


@bp.get("/")
@login_required
def queue() -> str:
    """The queue: filters, search, saved views, keyset pages, bulk actions, live rows."""
    flt = QueueFilter.from_args(request.args)
    me = db().get(User, current_user.id)
    assert me is not None
    return render_template(
        "queue.html",
        flt=flt,
        filter_args=flt.args(),
        **queue_rows(flt, request.args.get("cursor") or None),
        **queue_choices(),
        saved_views=visible_views(db(), me),
        my_groups=user_groups(db(), me.id),
        customer_types=CUSTOMER_TYPES,
        sla_states=SLA_STATES,
        statuses=[s.value for s in TicketStatus],
        priorities=PRIORITIES,
        categories=active_categories(db()),
    )


def message_html(message: Message) -> Markup | None:
    """Sanitized HTML with cid: images pointed at their stored attachments."""
    if not message.html:
        return None
    by_cid = {a.content_id.strip("<>"): a.id for a in message.attachments if a.content_id}

    def to_url(match: re.Match[str]) -> str:
        attachment_id = by_cid.get(match.group(1).strip("<>"))
        if attachment_id is None:
            return 'src=""'
        return f'src="{url_for("views.attachment", attachment_id=attachment_id)}"'

    return Markup(_CID_SRC.sub(to_url, sanitize_html(message.html)))  # sanitized


@bp.get("/tickets/<int:ticket_id>")
@login_required
def ticket(ticket_id: int) -> str:
    row = load_ticket(db(), ticket_id, viewer())
    if row is None:
        abort(404)
    data = tickets_json(db(), [row])[0]
    return render_template(
        "ticket.html",
        ticket=data,
        row=row,
        messages=row.messages,
        message_html=message_html,
        statuses=[s.value for s in TicketStatus],
        priorities=PRIORITIES,
        categories=active_categories(db()),
        agents=db().scalars(select(User).where(User.active.is_(True)).order_by(User.email)).all(),
        customer_tickets=ticket_counts(db(), [row.customer_id]).get(row.customer_id or 0, 0),
        events=events_of(db(), ticket_id),
        groups=all_groups(db()),
    )


@bp.post("/tickets/<int:ticket_id>")
@login_required
def edit_ticket(ticket_id: int) -> Response:
    row = load_ticket(db(), ticket_id, viewer())
    if row is None:
        abort(404)
    changes: dict[str, object] = {}
    for field in ("status", "category", "priority", "assignee", "group"):
        value = request.form.get(field)
        if value is not None and value != (getattr(row, field, None) or ""):
            changes[field] = value
    if changes.get("assignee") == (row.assignee.email if row.assignee else ""):
        changes.pop("assignee")
    try:
        update_ticket(db(), row, changes, db().get(User, current_user.id))
        db().commit()
        flash(_("Ticket updated."), "ok")
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(url_for("views.ticket", ticket_id=ticket_id))


def _blob_response(digest: str, mimetype: str, filename: str, inline: bool) -> Response:
    try:
        path = get_runtime().blobs.path(digest)
    except NotFoundError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=filename,
        conditional=True,  # Range requests, so the audio player can seek
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int) -> Response:
    row = db().get(Attachment, attachment_id)
    if row is None or not may_see_message(db(), row.message, viewer()):
        abort(404)
    # Only images and audio are shown inline; everything else downloads, never renders as HTML.
    inline = row.content_type.startswith(("image/", "audio/")) and "svg" not in row.content_type
    return _blob_response(row.sha256, row.content_type, row.filename, inline)


@bp.get("/messages/<int:message_id>/raw")
@login_required
def message_raw(message_id: int) -> Response:
    row = db().get(Message, message_id)
    if row is None or not may_see_message(db(), row, viewer()):
        abort(404)
    extension = "eml" if row.raw_content_type == "message/rfc822" else "bin"
    return _blob_response(
        row.raw_sha256, row.raw_content_type, f"message-{row.id}.{extension}", inline=False
    )


@bp.get("/messages/<int:message_id>/audio")
@login_required
def message_audio(message_id: int) -> Response:
    row = db().get(Message, message_id)
    if row is None or row.transcript is None or not may_see_message(db(), row, viewer()):
        abort(404)
    transcript = row.transcript
    return _blob_response(
        transcript.audio_sha256, transcript.audio_content_type, transcript.audio_filename, True
    )
